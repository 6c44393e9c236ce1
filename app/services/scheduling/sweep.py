"""Firing schedules: a sweep on every server every few seconds (scheduling/timers.py) finds schedules whose next
slot is due, and fires each slot exactly once, whatever the number of servers, restarts or misfires.

How the database decides (docs/triggers.md):
1. Claim: `UPDATE schedule SET next_fire_at = <the slot after now>, version = version + 1 WHERE id = ? AND
   version = ?` and, in the same transaction, INSERT the slot's `schedulefiring` row (primary key
   (schedule_id, slot)). One server's UPDATE matches; the others' match nothing and they move on.
2. Fire: the run is admitted like any trigger, as the schedule's owner, under the slot's deterministic
   Idempotency-Key (cron.slot_key), kind `scheduled`. Every rule applies (quota, concurrency, PR lock,
   tenancy); a refusal is the firing's outcome (`skipped` with the reason), not retried.
3. Record: the firing row becomes `admitted` (with the run) or `skipped`. A server that dies between 1 and 3
   leaves it `pending`; after PENDING_STALE any server takes it over (compare-and-set on `attempts`) and
   fires again under the same key, which replays the run if the first attempt had made it.

Missed slots (no server ran) follow the schedule's catch_up policy (cron.plan_slots): one `missed` row
records the gap."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session

from app.config import Settings
from app.core.errors import DomainError, Refusal
from app.infra.db import session_scope
from app.infra.events import EventBus
from app.models import RunKind, Schedule, as_utc, utcnow
from app.services.identity.accounts import principal_of
from app.services.runs.admit import RunAdmitter
from app.services.runs.timeline import timed_sql
from app.services.scheduling import cron

log = logging.getLogger(__name__)
PENDING_STALE = timedelta(seconds=30)  # a pending firing older than this lost its server
MAX_ATTEMPTS = 5
TRANSIENT = ('idempotency_in_flight', 'dependency_unavailable', 'database_unavailable', 'disk_full')

SQL_DUE = timed_sql(
    'SELECT id FROM schedule WHERE paused = :f AND next_fire_at IS NOT NULL AND next_fire_at <= :now '
    'ORDER BY next_fire_at LIMIT 100',
    binds=('now',),
)
SQL_CLAIM = timed_sql(
    'UPDATE schedule SET next_fire_at = :next, version = version + 1 WHERE id = :id AND version = :version '
    'AND paused = :f',
    binds=('next',),
)
SQL_FIRING = timed_sql(
    'INSERT INTO schedulefiring (schedule_id, slot, state, run_id, reason, detail, late, attempts, created_at, '
    'updated_at) VALUES (:s, :slot, :state, NULL, :reason, :detail, :late, 1, :now, :now) ON CONFLICT DO NOTHING',
    binds=('slot', 'now'),
)
SQL_SETTLE = timed_sql(
    'UPDATE schedulefiring SET state = :state, run_id = :run, reason = :reason, detail = :detail, updated_at = :now '
    "WHERE schedule_id = :s AND slot = :slot AND state = 'pending'",
    binds=('slot', 'now'),
)
SQL_STALE = timed_sql(
    "SELECT schedule_id, slot, attempts, late FROM schedulefiring WHERE state = 'pending' AND updated_at < :before "
    'ORDER BY updated_at LIMIT 20',
    binds=('before',),
    columns=('slot',),
)
SQL_RETAKE = timed_sql(
    'UPDATE schedulefiring SET attempts = attempts + 1, updated_at = :now '
    "WHERE schedule_id = :s AND slot = :slot AND state = 'pending' AND attempts = :attempts",
    binds=('slot', 'now'),
)


@dataclass(frozen=True)
class Fired:
    schedule_id: str
    slot: datetime
    state: str  # admitted | skipped | missed | pending (left for a retake)
    run_id: str | None = None
    reason: str | None = None


class ScheduleSweep:
    def __init__(self, *, engine: Engine, settings: Settings, admitter: RunAdmitter, bus: EventBus) -> None:
        self.engine, self.settings, self.admitter, self.bus = engine, settings, admitter, bus
        self.grace = timedelta(seconds=settings.schedule_grace_seconds)

    def sweep(self, now: datetime | None = None) -> list[Fired]:
        """Fire every due slot (as of `now`: tests pass the moment they mean), then take over stale firings."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            due = list(conn.execute(SQL_DUE, {'now': now, 'f': False}).scalars())
        fired: list[Fired] = []
        for schedule_id in due:
            try:
                fired += self._claim_and_fire(schedule_id, now)
            except Exception:  # the next sweep tries again (the claim is one transaction)
                log.exception('firing schedule %s failed', schedule_id)
        return fired + self._retake_stale(now)

    def _claim_and_fire(self, schedule_id: str, now: datetime) -> list[Fired]:
        with session_scope(self.engine) as session:
            schedule = session.get(Schedule, schedule_id)
            if schedule is None or schedule.paused or schedule.next_fire_at is None:
                return []
            trigger = cron.compile_cron(schedule.cron, schedule.timezone)
            if isinstance(trigger, Refusal):
                log.warning('schedule %s has an unreadable cron %r: not fired', schedule_id, schedule.cron)
                return []
            plan = cron.plan_slots(
                trigger, next_slot=as_utc(schedule.next_fire_at), now=now, catch_up=schedule.catch_up, grace=self.grace
            )
            if plan is None:
                return []
            conn = session.connection()
            claim = {'next': plan.next_slot, 'id': schedule_id, 'version': schedule.version, 'f': False}
            if conn.execute(SQL_CLAIM, claim).rowcount != 1:
                return []  # another server claimed it (or it changed): its slots are not ours
            results = []
            if plan.missed_from is not None and plan.missed_until is not None:
                detail = _missed_text(plan.missed_from, plan.missed_until, schedule.catch_up, late=plan.late)
                conn.execute(SQL_FIRING, firing_row(schedule_id, plan.missed_from, 'missed', now, 'missed', detail))
                results.append(Fired(schedule_id, plan.missed_from, 'missed', reason='missed'))
            claimed = plan.fire is not None and (
                conn.execute(SQL_FIRING, firing_row(schedule_id, plan.fire, 'pending', now, late=plan.late)).rowcount
                == 1
            )
            project_id, team_id = schedule.project_id, _team_of(session, schedule.project_id)
        self._announce(project_id, team_id, schedule_id)
        if claimed and plan.fire is not None:
            results.append(self.fire(schedule_id, plan.fire))
        return results

    def fire(self, schedule_id: str, slot: datetime) -> Fired:
        """Admit the slot's run as the owner, under the slot's key, and record the outcome on its firing row."""
        with Session(self.engine) as session:
            schedule = session.get(Schedule, schedule_id)
            if schedule is None:
                return Fired(schedule_id, slot, 'skipped', reason='not_found')
            session.expunge(schedule)
            owner = principal_of(session, schedule.user_id)
            team_id = _team_of(session, schedule.project_id)
        state, run_id = 'skipped', None
        reason: str | None = 'owner_gone'
        detail: str | None = "The schedule's owner no longer exists."
        # removed from the project's team: the admission's 404 would name the project, which exists
        if owner is not None and team_id is not None and team_id not in owner.team_ids:
            detail = f"The schedule's owner {owner.name} is no longer in the project's team."
        elif owner is not None:
            try:
                admitted = self.admitter.trigger(
                    owner,
                    project_id=schedule.project_id,
                    depth_level=schedule.depth_level,
                    target_framework=schedule.target_framework,
                    branch=schedule.branch,
                    key=cron.slot_key(schedule_id, slot),
                    correlation_id=f'schedule-{schedule_id}',
                    kind=RunKind.scheduled.value,
                    variables=schedule.variables or None,
                )
                state, run_id, reason, detail = 'admitted', admitted.run.id, None, None
            except DomainError as refusal:
                if refusal.error in TRANSIENT or refusal.status >= 500:
                    log.warning('schedule %s slot %s: %s; trying again later', schedule_id, slot, refusal.detail)
                    return Fired(schedule_id, slot, 'pending', reason=refusal.error)
                state, reason, detail = 'skipped', refusal.error, refusal.detail
        self._settle(schedule_id, slot, state, run_id, reason, detail)
        self._announce(schedule.project_id, team_id, schedule_id)
        return Fired(schedule_id, slot, state, run_id, reason)

    def _settle(
        self, schedule_id: str, slot: datetime, state: str, run_id: str | None, reason: str | None, detail: str | None
    ) -> None:
        with session_scope(self.engine) as session:
            session.connection().execute(
                SQL_SETTLE,
                {
                    's': schedule_id,
                    'slot': slot,
                    'state': state,
                    'run': run_id,
                    'reason': reason,
                    'detail': (detail or '')[:500] or None,
                    'now': utcnow(),
                },
            )

    def _retake_stale(self, now: datetime) -> list[Fired]:
        """Pending firings whose server died mid-firing: one server takes each over and fires it again."""
        with self.engine.connect() as conn:
            stale = conn.execute(SQL_STALE, {'before': now - PENDING_STALE}).all()
        fired = []
        for schedule_id, slot, attempts, _late in stale:
            slot = as_utc(slot)
            with session_scope(self.engine) as session:
                params = {'s': schedule_id, 'slot': slot, 'attempts': attempts, 'now': now}
                if session.connection().execute(SQL_RETAKE, params).rowcount != 1:
                    continue
            if attempts >= MAX_ATTEMPTS:
                detail = f'Not admitted after {attempts} attempts (the server was unavailable).'
                self._settle(schedule_id, slot, 'skipped', None, 'failed', detail)
                fired.append(Fired(schedule_id, slot, 'skipped', reason='failed'))
                continue
            fired.append(self.fire(schedule_id, slot))
        return fired

    def _announce(self, project_id: str, team_id: str | None, schedule_id: str) -> None:
        """Cards and schedule pages re-read (the next firing moved, a firing was recorded)."""
        self.bus.publish({'type': 'project', 'id': project_id, 'team_id': team_id, 'schedule_id': schedule_id})


def firing_row(
    schedule_id: str,
    slot: datetime,
    state: str,
    now: datetime,
    reason: str | None = None,
    detail: str | None = None,
    *,
    late: bool = False,
) -> dict[str, object]:
    return {
        's': schedule_id,
        'slot': slot,
        'state': state,
        'reason': reason,
        'detail': detail,
        'late': late,
        'now': now,
    }


def _span(first: datetime, last: datetime) -> str:
    return f'{first:%Y-%m-%d %H:%M}' + ('' if last == first else f' to {last:%Y-%m-%d %H:%M}') + ' UTC'


def _missed_text(first: datetime, last: datetime, catch_up: str, *, late: bool) -> str:
    """The `missed` row of a gap: its slots, and what the catch-up policy did."""
    after = 'one run for the latest slot, late' if late else 'not run'
    return f'Missed {_span(first, last)} while no server was running: {after} (catch-up: {catch_up}).'


CHANGED_WHILE_DUE = {
    'edited': 'the schedule was edited while it was due: not run (the new rule starts after the edit).',
    'paused': 'the schedule was paused while it was due: not run.',
}


def changed_while_due_text(first: datetime, last: datetime, change: str) -> str:
    """Pure: the `missed` row of the due slots a change of the rule (`edited`) or a pause left unfired."""
    return f'Missed {_span(first, last)}: {CHANGED_WHILE_DUE[change]}'


def _team_of(session: Session, project_id: str) -> str | None:
    return session.connection().execute(text('SELECT team_id FROM project WHERE id = :p'), {'p': project_id}).scalar()
