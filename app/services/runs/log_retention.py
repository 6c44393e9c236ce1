"""Log retention (`RUNBOARD_LOG_RETENTION_DAYS`, 0 keeps logs for ever; GitHub keeps a job's log 90 days): the output
of runs that ended longer ago than that leaves the database, a batch of runs at a time, oldest first. What a
person reads a run by stays: the run, its status lines, its stages, its annotations, its test results, usage and
artifacts' records (artifacts have a retention of their own). The run remembers when (`log_removed_at`), so its
page, its download and `runboard runs logs` say so instead of showing a log with lines missing.

Every server runs the sweep; two at once pick the same runs, and each run's removal is one transaction whose
UPDATE only the first takes (the second deletes rows already gone and marks nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from app.infra.db import session_scope
from app.models import utcnow

BATCH = 200  # runs a pass reads; each run's lines go in a transaction of its own

SQL_DUE = text(
    'SELECT id FROM run WHERE log_removed_at IS NULL AND finished_at < :before ORDER BY finished_at LIMIT :n'
)
SQL_MARK = text('UPDATE run SET log_removed_at = :now WHERE id = :id AND log_removed_at IS NULL')
# what the run printed; its status, stage and annotation lines stay
SQL_DELETE = text("DELETE FROM runevent WHERE run_id = :id AND type IN ('output', 'group', 'endgroup')")


def cutoff(now: datetime, days: float) -> datetime | None:
    """Pure: the output of runs that ended before this moment is removed (None: retention is off)."""
    return now - timedelta(days=days) if days > 0 else None


def sweep(engine: Engine, *, days: float, now: datetime | None = None, batch: int = BATCH) -> int:
    """Remove the output of the runs due; returns how many runs this call marked."""
    now = now or utcnow()
    before = cutoff(now, days)
    if before is None:
        return 0
    marked = 0
    while True:
        with session_scope(engine) as session:
            due = [row[0] for row in session.connection().execute(SQL_DUE, {'before': before, 'n': batch})]
        for run_id in due:
            with session_scope(engine) as session:
                conn = session.connection()
                if conn.execute(SQL_MARK, {'now': now, 'id': run_id}).rowcount:
                    conn.execute(SQL_DELETE, {'id': run_id})
                    marked += 1
        if len(due) < batch:
            return marked
