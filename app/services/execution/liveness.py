"""Liveness of running runs: each instance refreshes the heartbeat of the runs it owns, and a run whose
owner is gone (its process dead, or silent for three heartbeats) is an orphan that recovery ends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine, Row, text

from app.infra.db import session_scope
from app.models import utcnow
from app.services.execution.live import LiveRun
from app.services.runs.timeline import timed_sql

USAGE_EVENT = 'run.usage'


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


@dataclass(frozen=True)
class UsageSoFar:
    """What a running run's processes used so far, from its cgroup (limits.RunCgroup.usage)."""

    id: str
    peak_memory_bytes: int | None
    cpu_seconds: float | None
    memory_max_bytes: int | None  # the memory limit it runs under


def usage_so_far(runs: Iterable[LiveRun]) -> list[UsageSoFar]:
    """Blocking (it reads cgroup files): what each of these runs used so far, where its cgroup counts it."""
    found = []
    for live in runs:
        group = live.cgroup
        if group is None or live.cgroup_ending is not None:
            continue
        peak, cpu = group.usage()
        if peak is not None or cpu is not None:
            found.append(UsageSoFar(live.run_id, peak, cpu, group.limits.memory_bytes))
    return found


def beat(engine: Engine, instance_id: str, runs: Iterable[LiveRun]) -> tuple[list[UsageSoFar], list[str]]:
    """Blocking, one thread hop a heartbeat: what these runs used so far, stored with their heartbeats; returns it and
    the runs a person asked to stop (refresh_heartbeats)."""
    used = usage_so_far(runs)
    return used, refresh_heartbeats(engine, instance_id, used)


def usage_event(live: LiveRun, used: UsageSoFar) -> dict:
    return {'type': USAGE_EVENT, 'project_id': live.project_id, 'team_id': live.team_id, **asdict(used)}


def refresh_heartbeats(engine: Engine, instance_id: str, used: Sequence[UsageSoFar] = ()) -> list[str]:
    """Refresh the heartbeat of this instance's runs, with what they used so far; return those a person asked to
    stop (in case the bus missed it)."""
    with session_scope(engine) as session:
        conn = session.connection()
        conn.execute(
            timed_sql(
                "UPDATE run SET heartbeat_at = :now WHERE owner_instance = :me AND status = 'running'", binds=('now',)
            ),
            {'now': utcnow(), 'me': instance_id},
        )
        if used:  # the rows in one order, as the heartbeat above takes them; a run that ended meanwhile keeps its end's
            conn.execute(
                text(
                    'UPDATE run SET peak_memory_bytes = COALESCE(:peak_memory_bytes, peak_memory_bytes), '
                    'cpu_seconds = COALESCE(:cpu_seconds, cpu_seconds), memory_max_bytes = :memory_max_bytes '
                    "WHERE id = :id AND owner_instance = :me AND status = 'running'"
                ),
                [{**asdict(u), 'me': instance_id} for u in sorted(used, key=lambda u: u.id)],
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
