"""A call tried on the event loop first (infra/no_wait.py), with the threadpool behind it.

A lock held elsewhere (another admission's write, an output write holding SQLite's lock) is free again in
moments, so the call is tried again on the loop after a short async pause rather than handed to the
threadpool. Handing it over feeds on itself: a call in a thread holds the write lock while it waits for the
GIL the busy loop holds (up to 5 ms per switch), so the next calls on the loop find the lock held too, until
nearly every call takes the slower way (bench/trigger_api.py: 2,682 of 3,000 creates with one immediate
hand-over, about 65 with these pauses). After BUSY_PAUSES, or at once for work that needs a thread (a git
fork, a cache miss), the threadpool runs the call, and waits as long as it must."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

from starlette.concurrency import run_in_threadpool

from app.infra import no_wait

T = TypeVar('T')
BUSY_PAUSES = (0.0005, 0.001, 0.002, 0.004, 0.008, *(0.016,) * 15)  # seconds; about 0.25 s in all


async def call_on_loop_first(call: Callable[[], T]) -> T:
    for pause in (*BUSY_PAUSES, None):
        attempt = no_wait.attempt(call)
        if attempt.done:
            return cast(T, attempt.result)
        if not attempt.busy or pause is None:
            break
        await asyncio.sleep(pause)
    return await run_in_threadpool(call)


_admission_threads = ThreadPoolExecutor(max_workers=16, thread_name_prefix='runboard-admit')


async def call_in_thread(call: Callable[[], T]) -> T:
    """The call in a thread of a plain executor, with the caller's context (the correlation id): the shortest
    hand-over asyncio has. Starlette's run_in_threadpool goes through anyio's capacity limiter, cancel scope and
    worker queue, which on the team-mode admission path cost about a fifth of the event loop's CPU."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_admission_threads, context.run, call)
