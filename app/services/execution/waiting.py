"""Queued runs read with why they wait and their place in line (the sentence from queue_reason.py).

Local executor: one FIFO line under the global cap. Celery executor: one line per runner-label queue,
served by the live workers holding those labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from app.config import Settings
from app.models import RunDetail, RunPublic
from app.services.execution import workers
from app.services.execution.dispatch import labels_of
from app.services.execution.queue_reason import waiting_reason
from app.services.identity.accounts import Principal
from app.services.runs import reads as run_reads
from app.services.runs.timeline import DB_TIME

SQL_RUNNING = "SELECT count(*) FROM run WHERE status = 'running'"
SQL_AHEAD = (
    "SELECT count(*) FROM run WHERE status = 'queued' AND stop_requested_at IS NULL "
    'AND (created_at < :created OR (created_at = :created AND id < :id))'
)


def annotate(engine: Engine, settings: Settings, runs: list[RunPublic]) -> None:
    """Fill `waiting` and `queue_position` of the queued runs among `runs` (in place)."""
    queued = [run for run in runs if run.status == 'queued']
    if not queued:
        return
    celery = settings.executor == 'celery'
    capacity = (
        workers.capacities(workers.list_workers(engine, heartbeat_seconds=settings.heartbeat_seconds)) if celery else []
    )
    with engine.connect() as conn:
        running = conn.execute(text(SQL_RUNNING)).scalar_one()
        labels = {pid: labels_of(runs_on) for pid, runs_on in conn.execute(text('SELECT id, runs_on FROM project'))}
        for run in queued:
            runs_on = labels.get(run.project_id, [])
            run.waiting = waiting_reason(
                executor=settings.executor,
                runs_on=runs_on,
                workers=capacity,
                running=running,
                global_cap=settings.global_run_cap,
            )
            run.queue_position = 1 + _ahead(
                conn,
                run.id,
                run.created_at,
                [pid for pid, held in labels.items() if held == runs_on] if celery else None,
            )


def get_run_waiting(settings: Settings, engine: Engine, principal: Principal, run_id: str, **options: Any) -> RunDetail:
    """get_run, and for a queued run why it waits and its place in line."""
    detail = run_reads.get_run(engine, principal, run_id, **options)
    annotate(engine, settings, [detail])
    return detail


def list_runs_waiting(
    settings: Settings, engine: Engine, principal: Principal, **filters: Any
) -> tuple[list[RunPublic], str | None]:
    items, next_cursor = run_reads.list_runs(engine, principal, **filters)
    annotate(engine, settings, items)
    return items, next_cursor


def _ahead(conn: Connection, run_id: str, created: datetime, projects: list[str] | None) -> int:
    sql = SQL_AHEAD
    params: dict[str, object] = {'created': created, 'id': run_id}
    statement = text(sql).bindparams(bindparam('created', type_=DB_TIME))
    if projects is not None:
        statement = text(sql + ' AND project_id IN :projects').bindparams(
            bindparam('created', type_=DB_TIME), bindparam('projects', expanding=True)
        )
        params['projects'] = projects
    return int(conn.execute(statement, params).scalar_one())
