"""Delayed runs: a trigger with run_at / run_in writes the run `delayed`. Until it is due it holds nothing: no
concurrency slot, no PR lock (both are indexes over *active* runs) and no quota. When it is due, a sweep on
every server admits it under the rules a trigger meets now: the person still in the project's team, the
branch still there (its commit now is what the run checks out), the quota, the concurrency limit and the PR
lock. Admitted, it becomes `queued` like any run; refused, it ends `skipped` with the refusal as its error (an
approved run refused by a lock or a limit waits instead, services/runs/approvals.py).

The database decides the race between servers: each admission takes the repository's lock (PostgreSQL
advisory lock; SQLite's write lock) and moves the run with `UPDATE ... WHERE status = 'delayed'`, so one
server admits it and the others find it gone. A cancel (Stop) sets stop_requested_at first, which the same
UPDATE respects."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from app.core.errors import DomainError
from app.infra.events import EventBus
from app.models import Project, Run, RunStatus, TeamMember, as_utc, utcnow
from app.models.vocabulary import AWAITING_APPROVAL_SQL
from app.services.execution.reaper import finish_run
from app.services.runs import approvals, timing
from app.services.runs.admission import StaleProject, quota_words
from app.services.runs.admit import RunAdmitter, validate_request
from app.services.runs.approvals import DUE_SQL
from app.services.runs.ratelimit import user_runs_key
from app.services.runs.retry_rule import lasting_reason
from app.services.runs.timeline import append_events, timed_sql
from app.services.runs.writer import CREATE_ATTEMPTS, lost_race

log = logging.getLogger(__name__)
BATCH = 100
SQL_DUE = timed_sql(
    f"SELECT id FROM run WHERE status = 'delayed' AND stop_requested_at IS NULL AND run_at <= :now AND {DUE_SQL} "
    'ORDER BY run_at, id LIMIT :n',
    binds=('now',),
)
SQL_NEXT_DUE = timed_sql(
    f"SELECT min(run_at) AS due FROM run WHERE status = 'delayed' AND stop_requested_at IS NULL AND {DUE_SQL}",
    columns=('due',),
)
SQL_STILL_DELAYED = "SELECT 1 FROM run WHERE id = :id AND status = 'delayed' AND stop_requested_at IS NULL"
SQL_QUEUE = timed_sql(
    "UPDATE run SET status = 'queued', slot = :slot, commit_sha = :commit, ttl_seconds = :ttl, expires_at = :expires, "
    'waits_for = NULL '
    "WHERE id = :id AND status = 'delayed' AND stop_requested_at IS NULL",
    binds=('expires',),
)
STILL_DELAYED_SQL = "status = 'delayed'"
# approved runs a lock or a limit held back, waiting for their next try
HELD_BACK_SQL = "status = 'delayed' AND waits_for IS NOT NULL AND stop_requested_at IS NULL AND run_at > :now"
SQL_ANY_HELD_BACK = timed_sql(f'SELECT 1 FROM run WHERE {HELD_BACK_SQL} LIMIT 1', binds=('now',))
SQL_TRY_HELD_BACK_NOW = timed_sql(f'UPDATE run SET run_at = :now WHERE {HELD_BACK_SQL}', binds=('now',))
# the reason an approved run waits, said in its log when it is new: once, whichever server tried, and again if the
# reason changes (another run holds the branch, the quota instead of the lock)
SQL_NEW_REASON = 'UPDATE run SET waits_for = :reason WHERE id = :id AND (waits_for IS NULL OR waits_for <> :reason)'
STILL_WAITING_SQL = f'{AWAITING_APPROVAL_SQL} AND stop_requested_at IS NULL'
SQL_EXPIRED_REQUESTS = timed_sql(
    'SELECT r.id, r.project_id, p.team_id FROM run r JOIN project p ON p.id = r.project_id '
    f'WHERE {AWAITING_APPROVAL_SQL} AND r.created_at <= :before '  # the project has neither column
    'ORDER BY r.created_at LIMIT 100',
    binds=('before',),
)
# still due (`run_at <= :now`): of two servers refused at one moment, one puts it off and says why
SQL_TRY_LATER = timed_sql(
    'UPDATE run SET run_at = :at '
    "WHERE id = :id AND status = 'delayed' AND stop_requested_at IS NULL AND run_at <= :now",
    binds=('at', 'now'),
)


class _Gone(Exception):
    """The run is no longer waiting (cancelled, or admitted by another server)."""


class DelayedRuns:
    def __init__(self, *, engine: Engine, admitter: RunAdmitter, bus: EventBus) -> None:
        self.engine, self.admitter, self.bus = engine, admitter, bus
        self.writer = admitter.writer

    def next_due(self) -> datetime | None:
        """When the next delayed run is due (on any server): the sweep wakes exactly then (scheduling/timers.py)."""
        with self.engine.connect() as conn:
            return as_utc(conn.execute(SQL_NEXT_DUE).scalar())

    def try_held_back_now(self, now: datetime | None = None) -> int:
        """A run ended somewhere, which may have freed a branch or a slot: the approved runs a lock or a limit held
        back are due now, not at their next try (a few seconds on); how many. A read first: most ends find none."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            if conn.execute(SQL_ANY_HELD_BACK, {'now': now}).first() is None:
                return 0
        with self.engine.begin() as conn:
            return conn.execute(SQL_TRY_HELD_BACK_NOW, {'now': now}).rowcount

    def admit_due(self, now: datetime | None = None) -> dict[str, str]:
        """Admit every delayed run due by `now`: run id -> its status after (queued | skipped | gone)."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            due = list(conn.execute(SQL_DUE, {'now': now, 'n': BATCH}).scalars())
        outcome = {}
        for run_id in due:
            try:
                outcome[run_id] = self.admit(run_id)
            except Exception:  # the next sweep tries again; one bad run must not hold up the others
                log.exception('admitting delayed run %s failed', run_id)
        return outcome

    def admit(self, run_id: str) -> str:
        with Session(self.engine) as session:
            run = session.get(Run, run_id)
            project = session.get(Project, run.project_id) if run else None
            if run is None or project is None or run.status != RunStatus.delayed.value or run.stop_requested_at:
                return 'gone'
            if run.approval == approvals.WAITING:  # not approved (yet): the sweep passes it over
                return 'gone'
            member = session.get(TeamMember, (project.team_id, run.user_id)) if run.user_id else None
            session.expunge_all()
        try:
            if member is None:
                raise DomainError(404, 'not_found', "The person who asked for it is no longer in the project's team.")
            commit = validate_request(
                self.admitter.repositories,
                project,
                depth_level=run.depth_level,
                target_framework=run.target_framework,
                branch=run.branch_name,
                pinned=run.commit_sha,  # an approved run runs the commit its approver saw, not a newer one
            )
            self._queue(run, project, commit)
        except _Gone:
            return 'gone'
        except DomainError as refusal:
            if refusal.status >= 500:
                raise  # an outage (503): not the run's fault; the next sweep tries again
            now = utcnow()
            if approvals.approved_run_waits(
                approval=run.approval, approved_at=as_utc(run.approved_at), status=refusal.status, now=now
            ):
                return self._try_later(run, project, refusal, now)
            return self._skip(run, project, refusal)
        self.bus.publish_many(
            [
                {
                    'type': 'run',
                    'id': run.id,
                    'project_id': run.project_id,
                    'team_id': project.team_id,
                    'status': 'queued',
                },
                {'type': 'queue'},
            ]
        )
        return RunStatus.queued.value

    def _queue(self, run: Run, project: Project, commit: str | None) -> None:
        rate_key = user_runs_key(self.admitter.settings.redis_prefix, run.user_id or '')
        member = run.idempotency_key or run.id
        for attempt in range(CREATE_ATTEMPTS):
            charged = False
            try:
                with self.writer.transaction() as conn:
                    self.writer.lock_repository(conn, project.repository_key)
                    if conn.execute(text(SQL_STILL_DELAYED), {'id': run.id}).first() is None:
                        raise _Gone()
                    quota = self.admitter.limiter.acquire(rate_key, member)
                    if not quota.allowed:
                        raise DomainError(
                            429,
                            'rate_limited',
                            f'Run limit reached when it was due: {quota_words(quota)}.',
                        )
                    charged = True
                    slot = self.writer.take_slot(conn, project, run.branch_name, False, run.batch_id)  # siblings share
                    self._mark_queued(conn, run, project, slot, commit)
                return
            except BaseException as exc:
                if charged:
                    self.admitter.limiter.release(rate_key, member)
                if isinstance(exc, StaleProject):
                    raise _Gone() from exc  # the project moved to another repository or is gone: next sweep
                if not lost_race(exc) or attempt == CREATE_ATTEMPTS - 1:
                    raise
        raise AssertionError('unreachable')

    def _mark_queued(self, conn: Connection, run: Run, project: Project, slot: int | None, commit: str | None) -> None:
        now = utcnow()
        ttl = run.ttl_seconds or project.queued_ttl_seconds
        expires = timing.expiry(now, run_ttl=run.ttl_seconds, project_ttl=project.queued_ttl_seconds)
        params: dict[str, Any] = {'slot': slot, 'commit': commit, 'ttl': ttl, 'expires': expires, 'id': run.id}
        if conn.execute(SQL_QUEUE, params).rowcount != 1:
            raise _Gone()
        due = as_utc(run.run_at) if run.run_at else now
        late = (now - due).total_seconds()
        said = f'queued: due at {due:%H:%M:%S} UTC' + (
            f', admitted {timing.duration_text(late)} late' if late >= 2 else ''
        )
        if run.approval == approvals.APPROVED and (run.run_at == run.approved_at or run.waits_for):
            said = 'queued'  # due when approved (not at a time of its own), or after its wait said why
        append_events(conn, run.id, [('status', said)], now=now)

    def expire_requests(self, now: datetime | None = None) -> list[str]:
        """Runs that waited for an approval longer than approvals.REQUEST_EXPIRES end `expired`; their ids."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            rows = conn.execute(SQL_EXPIRED_REQUESTS, {'before': now - approvals.REQUEST_EXPIRES}).all()
        ended = []
        days = approvals.REQUEST_EXPIRES.days
        for row in rows:
            error, said = f'Not approved within {days} days of its request.', f'not approved within {days} days'
            if self._end(row.id, row.project_id, row.team_id, RunStatus.expired, error, said, STILL_WAITING_SQL):
                ended.append(row.id)  # else approved or cancelled meanwhile
        return ended

    def _try_later(self, run: Run, project: Project, refusal: DomainError, now: datetime) -> str:
        """An approved run a lock or a limit holds back: tried again shortly (the sweep wakes at its new run_at)."""
        reason = lasting_reason(refusal.detail)  # a moment's words ('Retry in 7 s.') would be new at every try
        with self.engine.begin() as conn:
            moved = conn.execute(SQL_TRY_LATER, {'id': run.id, 'at': now + approvals.RETRY_EVERY, 'now': now})
            if moved.rowcount != 1:
                return 'gone'  # cancelled, admitted, or put off by another server
            if conn.execute(text(SQL_NEW_REASON), {'id': run.id, 'reason': reason}).rowcount != 1:
                return RunStatus.delayed.value  # its log and its row already say so
            append_events(conn, run.id, [('status', f'approved, waits: {reason} Tried again for an hour.')])
        self.bus.publish(
            {'type': 'run', 'id': run.id, 'project_id': run.project_id, 'team_id': project.team_id, 'status': 'delayed'}
        )
        return RunStatus.delayed.value

    def _skip(self, run: Run, project: Project, refusal: DomainError) -> str:
        error, said = (
            f'{refusal.error}: {refusal.detail}',
            f'not admitted when it was due ({refusal.error}): {refusal.detail}',
        )
        if not self._end(run.id, run.project_id, project.team_id, RunStatus.skipped, error, said, STILL_DELAYED_SQL):
            return 'gone'
        return RunStatus.skipped.value

    def _end(
        self, run_id: str, project_id: str, team_id: str, status: RunStatus, error: str, said: str, only_if: str
    ) -> bool:
        """End a run that never started (only from `only_if`) and tell the pages; False: it had moved on."""
        if finish_run(self.engine, run_id=run_id, status=status, error=error, message=said, only_if=only_if) is None:
            return False
        self.bus.publish(
            {'type': 'run', 'id': run_id, 'project_id': project_id, 'team_id': team_id, 'status': status.value}
        )
        return True
