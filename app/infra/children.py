"""Child processes that their owner can end when it stops.

A periodic job's task (a mirror fetch, a push scan) or a run's checkout can wait on a remote that never answers until
git's own timeout, minutes later: a Stop of the run would wait for it, and a server that stops would leave the git
processes behind, still waiting. The owner (a `OnePerKey` pool, a run) runs its work inside `Children.scope()`; a
command started there through `run` is the owner's, and `Children.end_all` ends every one still running: SIGTERM
first (git removes its lock files on it), SIGKILL for what is left after a grace period. Every command gets a
process group of its own and the same deadline, owned or not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

_current = threading.local()


class ChildStopped(RuntimeError):
    """The command's owner ended it: the server is stopping."""


class Children:
    def __init__(self) -> None:
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self.ended = False

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Commands this thread starts through `run` belong to this owner until the block ends."""
        outer = getattr(_current, 'children', None)
        _current.children = self
        try:
            yield
        finally:
            _current.children = outer

    def end_all(self, grace_seconds: float = 2.0) -> None:
        """End every command still running and refuse new ones."""
        with self._lock:
            self.ended = True
            running = list(self._running)
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
            if process.poll() is None:
                _signal_group(process, signal.SIGKILL)

    def _add(self, process: subprocess.Popen[str]) -> bool:
        with self._lock:
            if self.ended:
                return False
            self._running.add(process)
            return True

    def _discard(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self._running.discard(process)


def raise_if_stopped() -> None:
    """For a wait of the calling thread (a lock another command holds): ChildStopped once its owner has ended."""
    owner: Children | None = getattr(_current, 'children', None)
    if owner is not None and owner.ended:
        raise ChildStopped('the wait was ended: its owner is stopping')


def run(
    argv: Sequence[str], *, cwd: str | Path | None, env: Mapping[str, str] | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`argv` in a process group of its own, its output captured as text; the group is killed when `timeout` passes
    (raises subprocess.TimeoutExpired), so a helper the command started (git-remote-https, ssh) cannot outlive it
    holding a pipe or a lock. Inside a scope the command is its owner's: ChildStopped when the owner ended it."""
    owner: Children | None = getattr(_current, 'children', None)
    if owner is not None and owner.ended:
        raise ChildStopped(f'{argv[0]} was not started: its owner is stopping')
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding='utf-8',
        errors='replace',
        start_new_session=True,
    ) as process:
        try:
            if owner is not None and not owner._add(process):  # ended while it was being started
                raise ChildStopped(f'{argv[0]} was ended as it started: its owner is stopping')
            out, err = process.communicate(timeout=timeout)
        except BaseException:
            _signal_group(process, signal.SIGKILL)
            process.communicate()
            raise
        finally:
            if owner is not None:
                owner._discard(process)
    if owner is not None and owner.ended:
        raise ChildStopped(f'{argv[0]} was ended: its owner is stopping')
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)


def _signal_group(process: subprocess.Popen[str], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
