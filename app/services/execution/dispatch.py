"""The server's side of executor=celery: queued runs are published to the Celery queue of their project's
runner labels, each at most once per dispatch_again_seconds (a publish that was lost, or a task a
draining worker let go, is sent again by the next sweep; a duplicate is harmless: the worker's claim
decides). A run no live worker can serve is not published: it waits, with the reason on its row, and goes
out on the first sweep after a worker holding its labels comes up."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Celery
from sqlalchemy import Engine, bindparam, text

from app.infra.db import session_scope
from app.models import utcnow
from app.services.execution import workers
from app.services.execution.celery_app import TASK
from app.services.execution.routing import DEFAULT_NAMESPACE, can_serve, queue_for
from app.services.runs.timeline import timed_sql

log = logging.getLogger(__name__)
BATCH = 200
SQL_PROJECT_LABELS = 'SELECT id, runs_on FROM project'
SQL_DUE = (
    "SELECT id, project_id FROM run WHERE status = 'queued' AND stop_requested_at IS NULL "
    'AND (dispatched_at IS NULL OR dispatched_at < :stale) AND project_id IN :projects '
    'ORDER BY created_at, id LIMIT :n'
)
SQL_MARK = "UPDATE run SET dispatched_at = :now WHERE id IN :ids AND status = 'queued'"
SQL_FORGET = "UPDATE run SET dispatched_at = NULL WHERE id = :id AND status = 'queued'"


def labels_of(value: Any) -> list[str]:
    """A JSON column read through text(): a string on SQLite, already a list on PostgreSQL."""
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or [])


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        *,
        again_seconds: float,
        heartbeat_seconds: float,
        send: Callable[[str, str], None],
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        self.engine, self.again_seconds, self.heartbeat_seconds, self.send = (
            engine,
            again_seconds,
            heartbeat_seconds,
            send,
        )
        self.namespace = namespace  # the deployment's queues (routing.py)

    def servable_queues(self) -> dict[str, str]:
        """project id -> its queue, for the projects some live, undrained worker can serve."""
        live = workers.serving_labels(self.engine, heartbeat_seconds=self.heartbeat_seconds)
        with self.engine.connect() as conn:
            projects = [(pid, labels_of(runs_on)) for pid, runs_on in conn.execute(text(SQL_PROJECT_LABELS))]
        return {
            pid: queue_for(runs_on, self.namespace)
            for pid, runs_on in projects
            if any(can_serve(w, runs_on) for w in live)
        }

    def dispatch_due(self) -> list[str]:
        """Publish every queued run that is due and has a worker to go to; returns their ids."""
        queues = self.servable_queues()
        if not queues:
            return []
        now = utcnow()
        due_sql = timed_sql(SQL_DUE, binds=('stale',)).bindparams(bindparam('projects', expanding=True))
        with session_scope(self.engine) as session:
            conn = session.connection()
            stale = now - timedelta(seconds=self.again_seconds)
            due = conn.execute(due_sql, {'stale': stale, 'n': BATCH, 'projects': list(queues)}).all()
            if due:  # one statement for the batch, not one per run
                mark_sql = timed_sql(SQL_MARK, binds=('now',)).bindparams(bindparam('ids', expanding=True))
                conn.execute(mark_sql, {'now': now, 'ids': [run_id for run_id, _ in due]})
        sent = []
        for run_id, project_id in due:
            try:
                self.send(run_id, queues[project_id])
                sent.append(run_id)
            except Exception:  # the broker is away: the sweep publishes it again
                log.exception('publishing run %s to the queue failed', run_id)
        return sent


def forget_dispatch(engine: Engine, run_id: str) -> None:
    """A worker let the run go without claiming it (it is draining): publish it again on the next sweep."""
    with session_scope(engine) as session:
        session.connection().execute(text(SQL_FORGET), {'id': run_id})


def celery_sender(app: Celery) -> Callable[[str, str], None]:
    def send(run_id: str, queue: str) -> None:
        app.send_task(TASK, args=[run_id], queue=queue)

    return send
