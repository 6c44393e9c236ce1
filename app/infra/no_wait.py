"""Running a call on the event loop only as long as it never waits.

Handing an admission to the threadpool costs more CPU than the admission's own SQL (bench/ceiling.py:
the same write costs about 0.4 ms on the loop and 1.0 ms through the threadpool). So, in local mode, the
API first runs it on the loop in no-wait mode: every step that could wait (a lock another thread holds,
SQLite's write lock, a git fork, a cache miss that reads the database, the network) calls `refuse()`
instead, which raises WouldWait before anything is committed, and the caller runs the whole call again in
the threadpool, where waiting is fine. A call either finishes without waiting or has had no effect.

The mode is a context variable, set and reset around one synchronous call, so it never leaks into another
task or thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar

_ACTIVE: ContextVar[bool] = ContextVar('runboard_no_wait', default=False)
T = TypeVar('T')


class WouldWait(Exception):
    """A step would have waited: the caller runs the call again where waiting is allowed. busy: for a lock
    held elsewhere (free again in moments: worth trying again shortly), not for work that needs a thread."""

    def __init__(self, *, busy: bool = False) -> None:
        super().__init__('busy' if busy else 'needs a thread')
        self.busy = busy


@dataclass(frozen=True)
class Attempt(Generic[T]):
    done: bool
    result: T | None = None
    busy: bool = False  # gave up on a lock held elsewhere


def active() -> bool:
    return _ACTIVE.get()


def refuse() -> None:
    """At a step that may wait: in no-wait mode, give up here (before any effect)."""
    if _ACTIVE.get():
        raise WouldWait()


@contextmanager
def mode() -> Iterator[None]:
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def attempt(call: Callable[[], T]) -> Attempt[T]:
    """`call` in no-wait mode: done with its result, or given up before any effect."""
    with mode():
        try:
            return Attempt(True, call())
        except WouldWait as exc:
            return Attempt(False, busy=exc.busy)


class Lock:
    """A threading lock that, in no-wait mode, is taken only when free (else WouldWait)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=not _ACTIVE.get()):
            raise WouldWait(busy=True)

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
