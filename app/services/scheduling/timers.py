"""The time-driven sweeps of issue 18, as APScheduler jobs on every server instance: due schedule slots
(services/scheduling/sweep.py), due delayed runs and queued runs past their TTL (services/scheduling/delayed_runs.py,
services/scheduling/queue_ttl.py). Each also runs once at start, so a slot or a delayed run that fell due while no
server ran is handled at once. The database decides every race between instances; a sweep still running
when its next tick comes is not started twice (the tick returns at once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.infra.events import EventBus
from app.models import HAS_EXPIRY_SQL, as_utc, utcnow
from app.services.runs.admit import RunAdmitter
from app.services.runs.timeline import timed_sql
from app.services.scheduling import queue_ttl
from app.services.scheduling.delayed_runs import DelayedRuns
from app.services.scheduling.sweep import ScheduleSweep

log = logging.getLogger(__name__)
# the soonest delayed run and the soonest TTL of a queued run (ix_run_status_expiry), in one read
SQL_DUE_TIMES = timed_sql(
    "SELECT (SELECT min(run_at) FROM run WHERE status = 'delayed' AND stop_requested_at IS NULL) AS delayed, "
    f"(SELECT min(expires_at) FROM run WHERE status = 'queued' AND {HAS_EXPIRY_SQL}) AS expiry",
    columns=('delayed', 'expiry'),
)


class Timers:
    def __init__(self, *, engine: Engine, settings: Settings, admitter: RunAdmitter, bus: EventBus) -> None:
        self.engine, self.settings, self.bus = engine, settings, bus
        self.schedules = ScheduleSweep(engine=engine, settings=settings, admitter=admitter, bus=bus)
        self.delayed = DelayedRuns(engine=engine, admitter=admitter, bus=bus)
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def delayed_and_ttl(self) -> datetime | None:
        """Returns when the next delayed run is due: the sweep wakes then rather than at its next tick. One read
        says whether anything is due; the two sweeps' own reads run only then (twice a second, on every server,
        three reads cost an idle server more CPU than the rest of its timers together)."""
        now = utcnow()
        with self.engine.connect() as conn:
            delayed, expiry = (as_utc(value) for value in conn.execute(SQL_DUE_TIMES).one())
        admit, expire = due_now(delayed, expiry, now)
        if admit:
            self.delayed.admit_due(now)
            delayed = self.delayed.next_due()
        if expire:
            queue_ttl.expire_due(self.engine, self.settings, self.bus, now)
        return delayed

    def install(self, scheduler: AsyncIOScheduler) -> None:
        settings = self.settings
        start = datetime.now(UTC)
        jobs: tuple[tuple[str, float, Callable[[], Any]], ...] = (
            ('schedules', settings.schedule_sweep_seconds, self.schedules.sweep),
            ('delayed-runs', settings.delayed_sweep_seconds, self.delayed_and_ttl),
        )
        for name, seconds, work in jobs:
            scheduler.add_job(
                self._tick,
                'interval',
                args=(name, work),
                seconds=seconds,
                id=name,
                next_run_time=start,
                max_instances=1,
                coalesce=True,
                replace_existing=True,
            )

    async def _tick(self, name: str, work: Callable[[], Any]) -> None:
        """Start the sweep and return: APScheduler never sees a job overrun (and never warns about one)."""
        if name in self._busy:
            return  # the last sweep still runs (a slow git fetch, say): this tick is folded into it
        self._busy.add(name)
        task = asyncio.get_running_loop().create_task(self._run(name, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, name: str, work: Callable[[], Any]) -> None:
        wake: datetime | None = None
        try:
            wake = await asyncio.to_thread(work)
        except Exception as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:  # a database restart: the pool recovers
                log.warning('the %s sweep lost its database connection (%s); the next tick tries again', name, exc.orig)
            else:
                log.exception('the %s sweep failed; the next tick tries again', name)
        finally:
            self._busy.discard(name)
        if isinstance(wake, datetime):
            delay = wake_in(wake, datetime.now(UTC), self.settings.delayed_sweep_seconds)
            if delay is not None:  # due before the next tick: wake exactly then (runs start on time)
                asyncio.get_running_loop().call_later(delay, lambda: asyncio.ensure_future(self._tick(name, work)))


def due_now(delayed: datetime | None, expiry: datetime | None, now: datetime) -> tuple[bool, bool]:
    """Pure: whether delayed runs are due for admission, and whether queued runs are past their TTL, from the
    soonest of each."""
    return delayed is not None and delayed <= now, expiry is not None and expiry <= now


def wake_in(due: datetime, now: datetime, interval: float) -> float | None:
    """Pure: seconds until just after `due` when it comes before the next tick (None: the tick is soon enough,
    or `due` has passed: a run the sweep could not admit waits for the tick, never a busy loop)."""
    delay = (due - now).total_seconds()
    return delay + 0.005 if 0 < delay < interval else None
