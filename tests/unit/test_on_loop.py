"""api/on_loop.call_on_loop_first: a call finishes on the event loop when nothing waits; a held lock is waited
out on the loop with short pauses; work that needs a thread, or a lock held too long, goes to the threadpool."""

from __future__ import annotations

import threading

from app.api import on_loop
from app.infra import no_wait


class Call:
    """Records the thread of every attempt; `busy_for` attempts find a lock held, `needs_thread` refuses."""

    def __init__(self, *, busy_for: int = 0, needs_thread: bool = False) -> None:
        self.busy_for, self.needs_thread = busy_for, needs_thread
        self.threads: list[str] = []

    def __call__(self) -> str:
        self.threads.append(threading.current_thread().name)
        if len(self.threads) <= self.busy_for and no_wait.active():
            raise no_wait.WouldWait(busy=True)
        if self.needs_thread:
            no_wait.refuse()
        return 'result'


async def test_a_call_that_never_waits_runs_once_on_the_loop() -> None:
    call = Call()
    assert await on_loop.call_on_loop_first(call) == 'result'
    assert call.threads == [threading.current_thread().name]


async def test_a_briefly_held_lock_is_waited_out_on_the_loop() -> None:
    call = Call(busy_for=3)
    assert await on_loop.call_on_loop_first(call) == 'result'
    assert call.threads == [threading.current_thread().name] * 4


async def test_work_that_needs_a_thread_goes_to_the_threadpool_at_once() -> None:
    call = Call(needs_thread=True)
    assert await on_loop.call_on_loop_first(call) == 'result'
    assert len(call.threads) == 2 and call.threads[1] != threading.current_thread().name


async def test_a_lock_held_past_every_pause_goes_to_the_threadpool_which_waits() -> None:
    call = Call(busy_for=len(on_loop.BUSY_PAUSES) + 5)
    assert await on_loop.call_on_loop_first(call) == 'result'
    loop_thread = threading.current_thread().name
    assert call.threads[:-1] == [loop_thread] * (len(on_loop.BUSY_PAUSES) + 1)
    assert call.threads[-1] != loop_thread  # outside no-wait mode the same call waits for the lock
