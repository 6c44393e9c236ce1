"""Queued TTL: a run still `queued` when its expires_at passes ends `expired` (neutral for the AFK counter),
with a timeline event saying how long it waited and what for (services/execution/queue_reason.py's sentence).

expires_at is set when the run is queued: the trigger's `ttl`, else the project's queued_ttl_seconds. The
expiry never races an engine's claim: it ends the run with `UPDATE ... WHERE status = 'queued'`, the claim
moves it with `UPDATE ... WHERE status = 'queued'`; whichever commits first wins and the other changes
nothing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.config import Settings
from app.infra.events import EventBus
from app.models import Project, Run, RunStatus, as_utc, utcnow
from app.services.execution import waiting as run_waiting
from app.services.execution.reaper import finish_run
from app.services.runs import timing
from app.services.runs.reads import public

log = logging.getLogger(__name__)
BATCH = 100
STILL_QUEUED_SQL = "status = 'queued'"


def due_statement(now: datetime) -> Any:
    """The next queued runs whose TTL has passed, soonest first (with their project's team)."""
    return (
        select(Run, col(Project.team_id))
        .join(Project, col(Project.id) == col(Run.project_id))
        .where(col(Run.status) == RunStatus.queued.value, col(Run.expires_at) <= now)  # ix_run_status_expiry
        .order_by(col(Run.expires_at))
        .limit(BATCH)
    )


def expire_due(engine: Engine, settings: Settings, bus: EventBus, now: datetime | None = None) -> list[str]:
    """End every queued run whose TTL has passed by `now`; returns the ids this call ended."""
    now = now or utcnow()
    with Session(engine) as session:
        rows = session.exec(due_statement(now)).all()
        runs = [(public(run), run.ttl_seconds, team_id) for run, team_id in rows]
    if not runs:
        return []
    run_waiting.annotate(engine, settings, [run for run, _, _ in runs])  # what each one waits for, now
    ended = []
    for run, ttl, team_id in runs:
        expires_at = as_utc(run.expires_at) or now
        queued_at = expires_at - timedelta(seconds=ttl or 0)
        said = timing.waited_text(queued_at, now, run.waiting)
        done = finish_run(
            engine,
            run_id=run.id,
            status=RunStatus.expired,
            error=f'Queued TTL of {timing.duration_text(ttl or 0)} passed before it started: {said}.',
            message=said,
            only_if=STILL_QUEUED_SQL,
        )
        if done is None:
            continue  # claimed (or stopped) meanwhile: it is not ours to end
        ended.append(run.id)
        bus.publish(
            {'type': 'run', 'id': run.id, 'project_id': run.project_id, 'team_id': team_id, 'status': 'expired'}
        )
    return ended
