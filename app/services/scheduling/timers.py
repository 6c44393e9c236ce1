"""The time-driven sweeps of issue 18, periodic jobs (scheduling/periodic.py) on every server instance: due schedule
slots (scheduling/sweep.py), due delayed runs and queued runs past their TTL (scheduling/delayed_runs.py,
scheduling/queue_ttl.py). The database decides every race between instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from app.config import Settings
from app.infra.events import Event, EventBus
from app.models import HAS_EXPIRY_SQL, as_utc, utcnow
from app.models.vocabulary import AWAITING_APPROVAL_SQL, TERMINAL_STATUSES
from app.services.runs import approvals
from app.services.runs.admit import RunAdmitter
from app.services.runs.approvals import DUE_SQL
from app.services.runs.timeline import timed_sql
from app.services.scheduling import queue_ttl
from app.services.scheduling.delayed_runs import DelayedRuns
from app.services.scheduling.periodic import PeriodicJob
from app.services.scheduling.sweep import ScheduleSweep

# the soonest delayed run, the soonest TTL of a queued run (ix_run_status_expiry) and the oldest request for an
# approval (services/runs/approvals.py), in one read
SQL_DUE_TIMES = timed_sql(
    f"SELECT (SELECT min(run_at) FROM run WHERE status = 'delayed' AND stop_requested_at IS NULL AND {DUE_SQL}) "
    'AS delayed, '
    f"(SELECT min(expires_at) FROM run WHERE status = 'queued' AND {HAS_EXPIRY_SQL}) AS expiry, "
    f'(SELECT min(created_at) FROM run WHERE {AWAITING_APPROVAL_SQL}) AS asked',
    columns=('delayed', 'expiry', 'asked'),
)


HELD_BACK_POLL_SECONDS = 60.0  # woken by run ends; its own tick only covers an event lost on the way


class Timers:
    def __init__(self, *, engine: Engine, settings: Settings, admitter: RunAdmitter, bus: EventBus) -> None:
        self.engine, self.settings, self.bus = engine, settings, bus
        self.schedules = ScheduleSweep(engine=engine, settings=settings, admitter=admitter, bus=bus)
        self.delayed = DelayedRuns(engine=engine, admitter=admitter, bus=bus)
        self.delayed_job = PeriodicJob(
            'delayed-runs', settings.delayed_sweep_seconds, self.delayed_and_ttl, at_start=True
        )

    def delayed_and_ttl(self) -> timedelta | None:
        """Returns how soon the next delayed run is due when that is before the next tick: the sweep wakes then
        (runs start on time). One read says whether anything is due; the two sweeps' own reads run only then
        (twice a second, on every server, three reads cost an idle server more CPU than the rest of its timers
        together)."""
        now = utcnow()
        with self.engine.connect() as conn:
            delayed, expiry, asked = (as_utc(value) for value in conn.execute(SQL_DUE_TIMES).one())
        admit, expire = due_now(delayed, expiry, now)
        if admit:
            self.delayed.admit_due(now)
            delayed = self.delayed.next_due()
        if expire:
            queue_ttl.expire_due(self.engine, self.settings, self.bus, now)
        if asked is not None and approvals.request_expired(asked, now):
            self.delayed.expire_requests(now)
        delay = wake_in(delayed, datetime.now(UTC), self.settings.delayed_sweep_seconds) if delayed else None
        return None if delay is None else timedelta(seconds=delay)

    def jobs(self) -> list[PeriodicJob]:
        """The first two run at start too: a slot or a delayed run due while no server ran is handled at once."""
        settings = self.settings
        return [
            PeriodicJob('schedules', settings.schedule_sweep_seconds, self.schedules.sweep, at_start=True),
            self.delayed_job,
            # the end of a run on any server (the bus) may free what held an approved run back
            PeriodicJob('held-back-runs', HELD_BACK_POLL_SECONDS, self.held_back, wakes_on=run_ended, settle=0.1),
        ]

    def held_back(self) -> None:
        if self.delayed.try_held_back_now():
            self.delayed_job.wake()


def run_ended(event: Event) -> bool:
    return event.get('type') == 'run' and event.get('status') in TERMINAL_STATUSES


def due_now(delayed: datetime | None, expiry: datetime | None, now: datetime) -> tuple[bool, bool]:
    """Pure: whether delayed runs are due for admission, and whether queued runs are past their TTL, from the
    soonest of each."""
    return delayed is not None and delayed <= now, expiry is not None and expiry <= now


def wake_in(due: datetime, now: datetime, interval: float) -> float | None:
    """Pure: seconds until just after `due` when it comes before the next tick (None: the tick is soon enough,
    or `due` has passed: a run the sweep could not admit waits for the tick, never a busy loop)."""
    delay = (due - now).total_seconds()
    return delay + 0.005 if 0 < delay < interval else None
