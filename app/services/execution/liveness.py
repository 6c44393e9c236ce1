"""Liveness of running runs: each instance refreshes the heartbeat of the runs it owns, and a run whose
owner is gone (its process dead, or silent for three heartbeats) is an orphan that recovery ends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Row, text

from app.infra.db import session_scope
from app.models import utcnow
from app.services.runs.timeline import timed_sql


def is_orphaned(
    *,
    owner: str | None,
    me: str,
    live_here: bool,
    heartbeat: datetime | None,
    stale_before: datetime,
    owner_process_dead: bool,
) -> bool:
    """Pure: has this `running` run lost the instance that executes it?"""
    if owner == me:
        return not live_here  # ours on paper, but no live process here: it cannot finish
    return owner_process_dead or heartbeat is None or heartbeat < stale_before


def refresh_heartbeats(engine: Engine, instance_id: str) -> list[str]:
    """Refresh the heartbeat of this instance's runs; return those a person asked to stop (in case the
    bus missed it)."""
    with session_scope(engine) as session:
        conn = session.connection()
        conn.execute(
            timed_sql(
                "UPDATE run SET heartbeat_at = :now WHERE owner_instance = :me AND status = 'running'", binds=('now',)
            ),
            {'now': utcnow(), 'me': instance_id},
        )
        rows = conn.execute(
            text(
                "SELECT id FROM run WHERE owner_instance = :me AND status = 'running' AND stop_requested_at IS NOT NULL"
            ),
            {'me': instance_id},
        ).all()
    return [r[0] for r in rows]


def running_runs(engine: Engine) -> list[Row]:
    """Every `running` run with what recovery needs (owner, heartbeat, pid, and the PR probe's facts)."""
    with session_scope(engine) as session:
        return list(
            session.connection()
            .execute(
                timed_sql(
                    'SELECT r.id, r.owner_instance, r.heartbeat_at, r.pid, r.kind, r.issue_number, r.project_id, '
                    'p.issue_source, p.repository FROM run r JOIN project p ON p.id = r.project_id '
                    "WHERE r.status = 'running'",
                    columns=('heartbeat_at',),
                )
            )
            .all()
        )
