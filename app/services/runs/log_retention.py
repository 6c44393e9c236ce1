"""Log retention (`RUNBOARD_LOG_RETENTION_DAYS`, 0 keeps logs for ever; GitHub keeps a job's log 90 days; a project
may set its own, as a GitHub repository may): the output of runs that ended longer ago than that leaves the
database, a batch of runs at a time, oldest first. What a person reads a run by stays: the run, its status lines,
its stages, its annotations, its test results, usage and artifacts' records (artifacts have a retention of their
own). The run remembers when (`log_removed_at`), so its page, its download and `runboard runs logs` say so instead
of showing a log with lines missing.

Every server runs the sweep; two at once pick the same runs, and each run's removal is one transaction whose
UPDATE only the first takes (the second deletes rows already gone and marks nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, TextClause, bindparam, text

from app.infra.db import session_scope
from app.models import utcnow

BATCH = 200  # runs a pass reads; each run's lines go in a transaction of its own

SQL_DUE = text(
    'SELECT id FROM run WHERE log_removed_at IS NULL AND finished_at < :before ORDER BY finished_at LIMIT :n'
)
SQL_DUE_OF = text(
    'SELECT id FROM run WHERE log_removed_at IS NULL AND finished_at < :before AND project_id = :p '
    'ORDER BY finished_at LIMIT :n'
)
SQL_DUE_OF_OTHERS = text(
    'SELECT id FROM run WHERE log_removed_at IS NULL AND finished_at < :before AND project_id NOT IN :own '
    'ORDER BY finished_at LIMIT :n'
).bindparams(bindparam('own', expanding=True))
SQL_OWN = text('SELECT id, log_retention_days FROM project WHERE log_retention_days IS NOT NULL')
SQL_MARK = text('UPDATE run SET log_removed_at = :now WHERE id = :id AND log_removed_at IS NULL')
# what the run printed; its status, stage and annotation lines stay
SQL_DELETE = text("DELETE FROM runevent WHERE run_id = :id AND type IN ('output', 'group', 'endgroup')")


def cutoff(now: datetime, days: float) -> datetime | None:
    """Pure: the output of runs that ended before this moment is removed (None: retention is off)."""
    return now - timedelta(days=days) if days > 0 else None


def cutoffs(now: datetime, days: float, own: dict[str, int]) -> tuple[dict[str, datetime], datetime | None]:
    """Pure: the cutoff of each project with a retention of its own, and of every other project's runs (the
    server's; None: kept)."""
    return {project: now - timedelta(days=project_days) for project, project_days in own.items()}, cutoff(now, days)


def sweep(engine: Engine, *, days: float, now: datetime | None = None, batch: int = BATCH) -> int:
    """Remove the output of the runs due (the server's `days`, or their project's own); returns how many runs this
    call marked."""
    now = now or utcnow()
    with engine.connect() as conn:
        own = {project: int(project_days) for project, project_days in conn.execute(SQL_OWN)}
    per_project, others = cutoffs(now, days, own)
    marked = sum(
        _remove(engine, SQL_DUE_OF, {'before': before, 'p': p}, now, batch) for p, before in per_project.items()
    )
    if others is not None:
        query, params = (SQL_DUE_OF_OTHERS, {'own': list(own)}) if own else (SQL_DUE, {})
        marked += _remove(engine, query, {'before': others, **params}, now, batch)
    return marked


def _remove(engine: Engine, due_query: TextClause, params: dict[str, Any], now: datetime, batch: int) -> int:
    marked = 0
    while True:
        with session_scope(engine) as session:
            due = [row[0] for row in session.connection().execute(due_query, {**params, 'n': batch})]
        for run_id in due:
            with session_scope(engine) as session:
                conn = session.connection()
                if conn.execute(SQL_MARK, {'now': now, 'id': run_id}).rowcount:
                    conn.execute(SQL_DELETE, {'id': run_id})
                    marked += 1
        if len(due) < batch:
            return marked
