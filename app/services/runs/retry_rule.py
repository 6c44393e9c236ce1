"""The automatic-retry rule (docs/pipelines.md, "Automatic retries"): which ended runs a project's rule retries, which
attempt a run is, the retry a run that ended has coming, and the notifications of its end, held until the retry
comes. The sweep that makes the retries is auto_retry.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import JSON, Connection, bindparam, column, text

from app.models import utcnow
from app.services.runs.timeline import DB_TIME

WINDOW = timedelta(hours=1)  # a run that ended longer ago is a person's to retry (servers were down that long)
MAX_CHAIN = 10  # retries of retries read back to the first attempt, at most

# a run an automatic retry may follow: one copy for the sweep and for the run's end (its notifications wait)
ELIGIBLE = (
    "r.status IN ('crashed', 'timed_out', 'failed') AND r.kind <> 'auto' AND r.user_id IS NOT NULL "
    'AND r.auto_retry_refused_at IS NULL '
    'AND (p.auto_retry_since IS NULL OR r.created_at >= p.auto_retry_since) '
    'AND NOT EXISTS (SELECT 1 FROM run c WHERE c.retry_of = r.id)'
)
SQL_RULE_OF_RUN = text(
    'SELECT r.status, r.finished_at, p.auto_retry, p.auto_retry_on FROM run r JOIN project p ON p.id = r.project_id '
    f'WHERE r.id = :id AND p.auto_retry > 0 AND {ELIGIBLE}'
).columns(column('status'), column('finished_at', DB_TIME), column('auto_retry'), column('auto_retry_on', JSON))
SQL_RETRY_OF = text('SELECT retry_of FROM run WHERE id = :id')
# the first server to find the retry refused for good marks the run (once: its log says so once, on any server)
SQL_REFUSED_FOR_GOOD = text(
    'UPDATE run SET auto_retry_refused_at = :now, waits_for = NULL WHERE id = :id AND auto_retry_refused_at IS NULL'
).bindparams(bindparam('now', type_=DB_TIME))
# why its retry waits, kept on the run (its page shows it with the planned retry): the first server to find it waiting
# says so in its log, once on any server
SQL_FIRST_WAIT = text('UPDATE run SET waits_for = :reason WHERE id = :id AND waits_for IS NULL')
SQL_WAITS_NO_MORE = text('UPDATE run SET waits_for = NULL WHERE id = :id')

# A run end's notifications wait while its automatic retry is to come (GitLab tells of a pipeline's end, not of each
# try): its deliveries are written `held`. A retry made (by the sweep or a person) means they are not sent; a retry
# that will not come (refused for good, not made within the window, the project's rule changed) sends them.
SQL_SKIP_HELD = text(
    "UPDATE delivery SET status = 'skipped', next_attempt_at = NULL, updated_at = :now, "
    "last_error = 'retried as ' || (SELECT MIN(c.id) FROM run c WHERE c.retry_of = delivery.run_id) "
    "WHERE status = 'held' AND EXISTS (SELECT 1 FROM run c WHERE c.retry_of = delivery.run_id)"
).bindparams(bindparam('now', type_=DB_TIME))
SQL_ANY_HELD = text("SELECT 1 FROM delivery WHERE status = 'held' LIMIT 1")  # ix_delivery_due
SQL_HELD_RUNS = text("SELECT DISTINCT run_id FROM delivery WHERE status = 'held'")
SQL_RELEASE_RUN = text(
    "UPDATE delivery SET status = 'pending', next_attempt_at = :now, updated_at = :now "
    "WHERE run_id = :id AND status = 'held' AND NOT EXISTS (SELECT 1 FROM run c WHERE c.retry_of = :id)"
).bindparams(bindparam('now', type_=DB_TIME))


def attempt_of(conn: Connection, run_id: str) -> int:
    """Which attempt a run is: 1 for a first run, 2 for its retry, and so on (manual retries count too)."""
    attempt, current = 1, conn.execute(SQL_RETRY_OF, {'id': run_id}).scalar()
    while current is not None and attempt <= MAX_CHAIN:
        attempt += 1
        current = conn.execute(SQL_RETRY_OF, {'id': current}).scalar()
    return attempt


def should_retry(status: str, retry_on: list[str], attempt: int, retries: int) -> bool:
    """Pure: whether a run that ended `status` as attempt `attempt` is retried under a project's rule."""
    return status in retry_on and attempt <= retries


def lasting_reason(detail: str) -> str:
    """Pure: a refusal's words without the moment they were said at ('Retry in 7 s.'), to be shown for a while."""
    return re.sub(r'\s*Retry in \d+ s\.$', '', detail)[:500]


def planned_retry(conn: Connection, run_id: str, now: datetime | None = None) -> tuple[int, int] | None:
    """The automatic retry a run that ended has coming, as (its attempt, of how many): at the run's end (its
    notifications wait for it) and on its page until the retry is made. None: none is coming (the project's rule
    does not retry this end, a retry exists, the retry was refused for good, or the window passed)."""
    row = conn.execute(SQL_RULE_OF_RUN, {'id': run_id}).first()
    if row is None or row.finished_at is None or row.finished_at <= (now or utcnow()) - WINDOW:
        return None
    attempt = attempt_of(conn, run_id)
    if not should_retry(row.status, list(row.auto_retry_on or []), attempt, row.auto_retry):
        return None
    return attempt + 1, row.auto_retry + 1


def settle_held_deliveries(conn: Connection, now: datetime) -> int:
    """Held notifications of runs retried since are not sent; those of runs whose retry will not come are, now.
    Returns how many runs' notifications were released. With nothing held: one indexed read."""
    conn.execute(SQL_SKIP_HELD, {'now': now})
    released = 0
    for run_id in conn.execute(SQL_HELD_RUNS).scalars().all():
        if planned_retry(conn, run_id, now) is None:
            released += conn.execute(SQL_RELEASE_RUN, {'id': run_id, 'now': now}).rowcount > 0
    return released
