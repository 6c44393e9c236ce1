"""Claiming: the oldest queued run becomes `running` on one instance, under the global cap, atomically
(SQLite: the write lock; PostgreSQL: an advisory lock serialises claims across servers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, text

from app.infra.db import is_sqlite, session_scope
from app.models import utcnow
from app.services.execution.live import ClaimedRun
from app.services.runs.timeline import append_events, timed_sql

CLAIM_LOCK_ID = 727001
SQL_RUNNING_COUNT = "SELECT count(*) FROM run WHERE status = 'running'"
SQL_NEXT_QUEUED = (
    'SELECT r.id, r.project_id, r.budget_seconds, r.checkout_ref, r.branch_name, r.depth_level, '
    'r.target_framework, r.kind, r.issue_number, r.issue_title, r.issue_body, r.commit_sha, p.repository, '
    'p.issue_source, p.command, p.team_id, p.credentials_kind, p.credentials_username, p.credentials_secret, '
    'p.network, p.base_branch, p.cache_generation, p.run_memory_max, p.run_cpus '
    'FROM run r JOIN project p ON p.id = r.project_id '
    "WHERE r.status = 'queued' AND r.stop_requested_at IS NULL "
    'ORDER BY r.created_at, r.id LIMIT :n'
)
SQL_QUEUED_BY_ID = SQL_NEXT_QUEUED.replace(
    "WHERE r.status = 'queued'", "WHERE r.id = :id AND r.status = 'queued'"
).replace(' ORDER BY r.created_at, r.id LIMIT :n', '')
SQL_MARK_RUNNING = (
    "UPDATE run SET status = 'running', started_at = :now, deadline_at = :deadline, "
    'heartbeat_at = :now, owner_instance = :owner, worktree_path = :worktree '
    "WHERE id = :id AND status = 'queued' AND stop_requested_at IS NULL"
)
ClaimResult = ClaimedRun | Literal['lost'] | None


def claim_next(
    engine: Engine,
    *,
    global_cap: int,
    instance_id: str,
    worktrees_dir: Path,
    register: Callable[[ClaimedRun], None],
    unregister: Callable[[str], object],
    limit: int = 1,
) -> list[ClaimedRun] | None:
    """The oldest queued runs, up to `limit` and what the global cap allows, -> running on `instance_id`, in one
    transaction (the engine's free slots are filled by one claim, not one claim each: claims are serialised by
    the lock); each one's checkout will be `worktrees_dir`/<run id> (recorded now, in the claim's transaction).

    Returns None when nothing may start, else the claimed runs: empty when every chosen run changed under us
    (stopped by a person on another server between the SELECT and the UPDATE). `register` is called before
    the commit: recovery must never see a run `running` as ours yet not live.
    """
    return _claim(engine, SQL_NEXT_QUEUED, {}, global_cap, instance_id, worktrees_dir, register, unregister, limit)


def claim_run(
    engine: Engine,
    run_id: str,
    *,
    global_cap: int | None,
    instance_id: str,
    worktrees_dir: Path,
    register: Callable[[ClaimedRun], None],
    unregister: Callable[[str], object],
) -> ClaimResult:
    """The worker's claim: this run -> running on `instance_id`, if it is still queued and not being
    stopped, and the global cap allows (None otherwise: a duplicate publish, a stopped run, a full cap).
    `global_cap` None: no cap to hold (a worker's slots bound it), so no lock either: the conditional UPDATE
    alone decides between two claimants, and workers' claims do not queue behind each other."""
    claimed = _claim(
        engine, SQL_QUEUED_BY_ID, {'id': run_id}, global_cap, instance_id, worktrees_dir, register, unregister, 1
    )
    if claimed is None:
        return None
    return claimed[0] if claimed else 'lost'


def _claim(
    engine: Engine,
    select_sql: str,
    params: dict[str, str],
    global_cap: int | None,
    instance_id: str,
    worktrees_dir: Path,
    register: Callable[[ClaimedRun], None],
    unregister: Callable[[str], object],
    limit: int,
) -> list[ClaimedRun] | None:
    claimed: list[ClaimedRun] = []
    with session_scope(engine) as session:
        conn = session.connection()  # SQLite: BEGIN IMMEDIATE, i.e. the write lock
        if global_cap is not None and not is_sqlite(str(engine.url)):
            conn.execute(text(f'SELECT pg_advisory_xact_lock({CLAIM_LOCK_ID})'))
        now = utcnow()  # only once we hold the lock: started_at never precedes the end of the run it replaces
        if global_cap is not None:
            limit = min(limit, global_cap - conn.execute(text(SQL_RUNNING_COUNT)).scalar_one())
        if limit <= 0:
            return None
        rows = conn.execute(text(select_sql), {**params, 'n': limit}).mappings().all()
        if not rows:
            return None
        mark_sql = timed_sql(SQL_MARK_RUNNING, binds=('now', 'deadline'))
        try:
            for row in rows:
                deadline = now + timedelta(seconds=row['budget_seconds'])
                values = {
                    'now': now,
                    'deadline': deadline,
                    'owner': instance_id,
                    'worktree': str(worktrees_dir / row['id']),
                    'id': row['id'],
                }
                if conn.execute(mark_sql, values).rowcount != 1:
                    continue  # lost
                append_events(conn, row['id'], [('status', 'running')], now=now)
                run: ClaimedRun = {**row, 'deadline_at': deadline}
                register(run)
                claimed.append(run)
            session.commit()
        except BaseException:
            for run in claimed:
                unregister(run['id'])
            raise
    return claimed
