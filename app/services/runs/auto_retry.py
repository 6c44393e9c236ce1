"""Automatic retries (GitLab's `retry:`; docs/pipelines.md, "Automatic retries"): a project may have Runboard retry a
run that ended in one of its `auto_retry_on` statuses (crashed and timed out by default: the machine's fault or a
hang, not the code's; failed if asked), until the run has been tried 1 + `auto_retry` times in all.

A retry is an ordinary retry (the Retry button's admission: the same rules, the original's variables, a matrix
cell's place), made as the original run's person, under the key `auto-retry:<run id>`: every server sweeps, and
however many find a run at once, one retry is made. Its original's log says so. A retry refused (the quota, the
concurrency limit, the branch's lock) is tried again at the next sweep while the original ended less than an hour
ago; its log says why it waits, once (a refusal that will not pass, such as the person no longer in the team, is said
once and not tried again). AFK runs are never retried here: the loop has its own rules."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Engine, bindparam, column, text
from sqlmodel import Session

from app.core.errors import DomainError
from app.infra.db import session_scope
from app.models import AUTO_RETRY_KEY_PREFIX, utcnow
from app.services.identity.accounts import principal_of
from app.services.runs.admit import Admitted, RunAdmitter
from app.services.runs.retry_rule import (
    ELIGIBLE,
    SQL_ANY_HELD,
    SQL_FIRST_WAIT,
    SQL_REFUSED_FOR_GOOD,
    SQL_SKIP_HELD,
    SQL_WAITS_NO_MORE,
    WINDOW,
    attempt_of,
    lasting_reason,
    settle_held_deliveries,
    should_retry,
)
from app.services.runs.timeline import append_events

log = logging.getLogger(__name__)

WAIT_STATUSES = (409, 429, 503)  # refusals that pass: a lock, the concurrency limit, the quota, a backing service
PAGE, MAX_PAGES = 50, 40  # a sweep reads at most 2,000 ends of the last hour (the next sweep, 2 s on, reads again)

# A page of the window's ends, oldest first, after (:since, :after): the rule's statuses and the attempts left are
# weighed in Python, so the sweep pages on; a first page of ends the rule does not retry must not hide the rest
SQL_CANDIDATES = text(
    'SELECT r.id, r.user_id, r.status, r.project_id, p.team_id, p.auto_retry, p.auto_retry_on, r.finished_at '
    'FROM run r JOIN project p ON p.id = r.project_id '
    'WHERE r.project_id IN :projects AND r.finished_at >= :since AND (r.finished_at > :since OR r.id > :after) '
    f'AND {ELIGIBLE} ORDER BY r.finished_at, r.id LIMIT {PAGE}'
).columns(
    column('id'),
    column('user_id'),
    column('status'),
    column('project_id'),
    column('team_id'),
    column('auto_retry'),
    column('auto_retry_on', JSON),  # decoded on SQLite too
    column('finished_at'),  # as the database gave it: bound again as the next page's start
)
SQL_CANDIDATES = SQL_CANDIDATES.bindparams(bindparam('projects', expanding=True))
SQL_OPTED_IN = text('SELECT id FROM project WHERE auto_retry > 0')  # most servers: none, and nothing more is read


class AutoRetry:
    def __init__(self, engine: Engine, admitter: RunAdmitter, publish: Callable[[dict], object]) -> None:
        self.engine, self.admitter, self.publish = engine, admitter, publish

    def sweep(self, now: datetime | None = None) -> int:
        """Retry what is due; returns how many retries this call made."""
        now = now or utcnow()
        since = now - WINDOW
        made = 0
        with Session(self.engine) as session:  # a read first: nothing held (most sweeps) takes no write lock
            anything_held = session.connection().execute(SQL_ANY_HELD).first() is not None
        if anything_held:  # before the rule's check: a project may have turned its retries off
            with session_scope(self.engine) as session:
                settle_held_deliveries(session.connection(), now)
        with Session(self.engine) as session:
            conn = session.connection()
            projects = list(conn.execute(SQL_OPTED_IN).scalars())
            if not projects:
                return 0
            found = []
            start: Any = since
            after = ''
            for _ in range(MAX_PAGES):
                rows = conn.execute(SQL_CANDIDATES, {'since': start, 'after': after, 'projects': projects}).all()
                found += [(row, attempt_of(conn, row.id)) for row in rows]
                if len(rows) < PAGE:
                    break
                start, after = rows[-1].finished_at, rows[-1].id
        due = [
            (row, attempt)
            for row, attempt in found
            if should_retry(row.status, list(row.auto_retry_on or []), attempt, row.auto_retry)
        ]
        for row, attempt in due:
            made += self._retry(row, attempt)
        return made

    def _retry(self, row, attempt: int) -> int:  # noqa: ANN001 (a result row)
        of = f'attempt {attempt + 1} of {row.auto_retry + 1}'
        with Session(self.engine) as session:
            principal = principal_of(session, row.user_id)
        if principal is None:
            self._refused_for_good(row, of, 'The person who started it no longer exists.')
            return 0
        try:
            admitted: Admitted = self.admitter.retry(
                principal,
                run_id=row.id,
                overrides={},
                key=AUTO_RETRY_KEY_PREFIX + row.id,
                correlation_id=None,
                automatic=True,
            )
        except DomainError as exc:
            if exc.status not in WAIT_STATUSES:  # it will not pass by waiting
                # a 404: the run is there, so its person no longer sees its project (out of its team)
                gone = f"{principal.name} is no longer in the project's team." if exc.status == 404 else None
                self._refused_for_good(row, of, gone or exc.detail)
            else:
                self._waits(row, of, lasting_reason(exc.detail))
            return 0
        if admitted.replayed:  # another server made it first
            return 0
        self._note(row, f'Retried automatically as {admitted.run.id} ({of}, after it {row.status.replace("_", " ")}).')
        with session_scope(self.engine) as session:  # its end's held notifications are not sent; it waits no more
            session.connection().execute(SQL_SKIP_HELD, {'now': utcnow()})
            session.connection().execute(SQL_WAITS_NO_MORE, {'id': row.id})
        return 1

    def _waits(self, row, of: str, why: str) -> None:  # noqa: ANN001
        """Kept on the run for its page; said in its log by the first server to find it waiting."""
        with session_scope(self.engine) as session:
            conn = session.connection()
            if conn.execute(SQL_FIRST_WAIT, {'id': row.id, 'reason': why}).rowcount != 1:
                return  # said already
            append_events(
                conn, row.id, [('status', f'Automatic retry ({of}) waits: {why} It is tried again for an hour.')]
            )
        self.publish({'type': 'run', 'id': row.id, 'project_id': row.project_id, 'team_id': row.team_id})
        log.info('automatic retry of %s waits: %s', row.id, why)

    def _refused_for_good(self, row, of: str, why: str) -> None:  # noqa: ANN001
        """Marked on the run, so no server tries again and its end's held notifications go; said once."""
        with session_scope(self.engine) as session:
            conn = session.connection()
            if conn.execute(SQL_REFUSED_FOR_GOOD, {'id': row.id, 'now': utcnow()}).rowcount != 1:
                return  # another server found it first
            append_events(conn, row.id, [('status', f'Automatic retry ({of}) refused: {why}')])
        self.publish({'type': 'run', 'id': row.id, 'project_id': row.project_id, 'team_id': row.team_id})
        log.info('automatic retry of %s refused for good: %s', row.id, why)

    def _note(self, row, said: str) -> None:  # noqa: ANN001
        with session_scope(self.engine) as session:
            append_events(session.connection(), row.id, [('status', said)])
        self.publish({'type': 'run', 'id': row.id, 'project_id': row.project_id, 'team_id': row.team_id})
