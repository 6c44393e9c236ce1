"""The one base for every periodic job of a server instance, in the style of Prefect's LoopService: a name, an
interval and the work of one pass; `PeriodicJobs` starts them all on one APScheduler 3 scheduler and stops them.

What every job gets from it:
- a tick never overlaps the last pass: a pass still running when the next tick comes (a slow git fetch, say)
  takes that tick into it, and APScheduler never sees a job overrun;
- `wake()` (from any thread) runs the job now; a wake during a pass buys one more pass, never a lost wakeup;
- `settle` spaces passes woken back to back: a stream of wakes (a drain ends runs dozens of times a second, and
  each end wakes the jobs that wait for it) costs one pass per `settle` seconds, not a pass per wake; a wake after
  a quiet moment still runs at once;
- a pass may return a timedelta, when it wants to run again (a delayed run falls due, a retry is due): the job
  runs then when that comes before its next tick (any other return is the pass's own business);
- the bus events a job waits for (`wakes_on`) wake it, on every instance;
- a failure is logged and the next tick tries again; a database restart (the pool recovers by itself) is one
  warning line."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from sqlalchemy.exc import DBAPIError

from app.infra.children import Children, ChildStopped
from app.infra.events import Accepts, EventBus

log = logging.getLogger(__name__)
MAX_ROUNDS = 5  # passes one tick runs back to back while wakes keep coming; then the loop breathes
# the spacing of the jobs woken by every run's events (AFK, notifications, commit statuses) while wakes keep coming:
# in a drain of trivial runs they ran a pass per wake, a tenth of the server's Python time (bench/workers.py)
BURST_SETTLE_SECONDS = 0.2


class OnePerKey:
    """Hands a pass's work out per key (a project) to a small pool of threads, at most one task per key at a time,
    and never waits for it: a forge or remote that does not answer holds its own key's work for its timeout, while
    the next pass goes on with the other keys. A key whose task still runs, or a pool whose threads are all busy,
    is left to a later pass (nothing queues behind a stuck task)."""

    def __init__(self, name: str, workers: int, *, after: Callable[[], None] | None = None) -> None:
        self.workers = workers
        self.after = after  # called when a task returned True, its key free again (e.g. to wake the job)
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._children = Children()  # the tasks' commands, ended with the pool

    def busy(self) -> set[str]:
        with self._lock:
            return set(self._running)

    def submit(self, key: str, task: Callable[[], object]) -> bool:
        """Start `task` for `key` unless one runs for it or every thread is busy; True when started."""
        with self._lock:
            if key in self._running or len(self._running) >= self.workers:
                return False
            self._running.add(key)
        try:
            self._pool.submit(self._run, key, task)
        except RuntimeError:  # shut down: the server is stopping
            with self._lock:
                self._running.discard(key)
            return False
        return True

    def _run(self, key: str, task: Callable[[], object]) -> None:
        again = False
        try:
            with self._children.scope():
                again = task() is True
        except ChildStopped:
            log.info('the task of %s was ended: the server is stopping', key)
        except Exception:
            log.exception('the task of %s failed; a later pass tries again', key)
        finally:
            with self._lock:
                self._running.discard(key)
        if again and self.after is not None:
            self.after()

    def shutdown(self) -> None:
        """None starts any more; the commands of tasks under way (a fetch from a remote that does not answer) are
        ended, so a stopping server does not wait for their timeouts."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._children.end_all()


class PeriodicJob:
    """`work` is one pass: a plain function runs in a thread, a coroutine function on the loop. It may return a
    timedelta: run again that soon (otherwise at the next tick)."""

    def __init__(
        self,
        name: str,
        interval: float,
        work: Callable[[], Any],
        *,
        jitter: float = 0.0,
        at_start: bool = False,
        wakes_on: Accepts | None = None,
        on_stop: Callable[[], None] | None = None,
        settle: float = 0.0,
    ) -> None:
        self.name, self.interval, self.work = name, interval, work
        self.settle = settle
        self.jitter, self.at_start, self.wakes_on, self.on_stop = jitter, at_start, wakes_on, on_stop
        self.scheduler: AsyncIOScheduler | None = None
        self._busy = False
        self._pending = False
        self._last_pass_ended = datetime.min.replace(tzinfo=UTC)
        self._passes: set[asyncio.Task[None]] = set()

    def install(self, scheduler: AsyncIOScheduler) -> None:
        self.scheduler = scheduler
        first = {'next_run_time': datetime.now(UTC)} if self.at_start else {}
        scheduler.add_job(
            self._tick,
            'interval',
            seconds=self.interval,
            jitter=self.jitter or None,
            id=self.name,
            max_instances=1,
            coalesce=True,
            # however late the loop gets to it (a busy server): APScheduler's default skips a run more than 1 s late,
            # and a wake (a run's end, a Reset) would then wait for the next tick
            misfire_grace_time=None,
            replace_existing=True,
            **first,
        )

    def wake(self) -> None:
        """Run now; a pass under way goes round once more."""
        self._pending = True
        if not self._busy:  # within `settle` of the last pass, the wakes meanwhile share the pass at its end
            self._run_at(max(datetime.now(UTC), self._last_pass_ended + timedelta(seconds=self.settle)))

    def next_pass_at(self) -> datetime | None:
        """When the next pass starts as scheduled now (a wake may bring it forward); None when the job is not scheduled
        (its scheduler not running). Thread-safe, as _run_at."""
        scheduler = self.scheduler
        if scheduler is None or not scheduler.running:
            return None
        job = scheduler.get_job(self.name)
        return None if job is None else job.next_run_time

    def _run_at(self, when: datetime) -> None:
        """Moves the next tick earlier, never later (thread-safe: APScheduler locks its job store)."""
        scheduler = self.scheduler
        if scheduler is None or not scheduler.running:
            return
        try:
            job = scheduler.get_job(self.name)
            if job is not None and (job.next_run_time is None or job.next_run_time > when):
                job.modify(next_run_time=when)
        except JobLookupError:  # shutting down: nothing to wake
            pass

    async def _tick(self) -> None:
        if self._busy:
            return  # the last pass still runs: this tick is taken into it
        self._busy = True
        task = asyncio.get_running_loop().create_task(self.run_passes(), name=self.name)
        self._passes.add(task)
        task.add_done_callback(self._passes.discard)

    async def run_passes(self) -> None:
        """One pass, and one more for each wake that came during the last (up to MAX_ROUNDS)."""
        again: Any = None
        self._busy = True
        try:
            for round_number in range(MAX_ROUNDS):
                if round_number and self.settle:
                    await asyncio.sleep(self.settle)  # wakes meanwhile are all answered by the next pass
                self._pending = False
                again = await self._pass()
                if not self._pending:
                    break
        finally:
            self._busy = False
            self._last_pass_ended = datetime.now(UTC)
        if self._pending:  # a wake raced the end of the last pass
            asyncio.get_running_loop().call_later(max(0.05, self.settle), self.wake)
        elif isinstance(again, timedelta) and 0 < again.total_seconds() < self.interval:
            self._run_at(datetime.now(UTC) + again)

    async def _pass(self) -> Any:
        try:
            if inspect.iscoroutinefunction(self.work):
                return await self.work()
            return await asyncio.to_thread(self.work)
        except Exception as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:  # a database restart: the pool recovers
                log.warning(
                    'the %s job lost its database connection (%s); the next tick tries again', self.name, exc.orig
                )
            else:
                log.exception('the %s job failed; the next tick tries again', self.name)
            return None

    def stop(self) -> None:
        for task in list(self._passes):
            task.cancel()
        if self.on_stop is not None:
            self.on_stop()


class PeriodicJobs:
    """The one place that schedules the periodic jobs of this instance: all started on the services' event loop,
    all stopped at close."""

    def __init__(self, bus: EventBus, jobs: list[PeriodicJob]) -> None:
        self.bus, self.jobs = bus, jobs
        self.scheduler: AsyncIOScheduler | None = None
        self._listeners: list[tuple[asyncio.Queue, asyncio.Task[None]]] = []

    def start(self) -> None:
        self.scheduler = AsyncIOScheduler()
        for job in self.jobs:
            job.install(self.scheduler)
            if job.wakes_on is not None:
                queue = self.bus.subscribe(job.wakes_on)
                task = asyncio.get_running_loop().create_task(self._wake_on_events(job, queue))
                self._listeners.append((queue, task))
        self.scheduler.start()

    @property
    def running(self) -> bool:
        return self.scheduler is not None and self.scheduler.state == STATE_RUNNING

    async def _wake_on_events(self, job: PeriodicJob, queue: asyncio.Queue) -> None:
        while True:
            await queue.get()  # the bus queues only the events the job waits for
            job.wake()

    def stop(self) -> None:
        for queue, task in self._listeners:
            task.cancel()
            self.bus.unsubscribe(queue)
        self._listeners.clear()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for job in self.jobs:
            job.stop()
