"""The server's side of executor=celery: queued runs are published to the Celery queue, each at most once
per dispatch_again_seconds (a publish that was lost, or a task dropped because the cap was full, is sent
again by the next sweep; a duplicate is harmless: the worker's claim decides)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from celery import Celery
from sqlalchemy import Engine

from app.db import session_scope
from app.models import utcnow
from app.services.engine.celery_app import QUEUE, TASK
from app.services.timeline import timed_sql

log = logging.getLogger(__name__)
BATCH = 200
SQL_DUE = (
    "SELECT id FROM run WHERE status = 'queued' AND stop_requested_at IS NULL "
    'AND (dispatched_at IS NULL OR dispatched_at < :stale) ORDER BY created_at, id LIMIT :n'
)
SQL_MARK = "UPDATE run SET dispatched_at = :now WHERE id = :id AND status = 'queued'"


class Dispatcher:
    def __init__(self, engine: Engine, *, again_seconds: float, send: Callable[[str], None]) -> None:
        self.engine, self.again_seconds, self.send = engine, again_seconds, send

    def dispatch_due(self) -> list[str]:
        """Publish every queued run that is due; returns their ids."""
        now = utcnow()
        with session_scope(self.engine) as session:
            conn = session.connection()
            stale = now - timedelta(seconds=self.again_seconds)
            due = list(conn.execute(timed_sql(SQL_DUE, binds=('stale',)), {'stale': stale, 'n': BATCH}).scalars())
            for run_id in due:
                conn.execute(timed_sql(SQL_MARK, binds=('now',)), {'now': now, 'id': run_id})
        sent = []
        for run_id in due:
            try:
                self.send(run_id)
                sent.append(run_id)
            except Exception:  # the broker is away: the sweep publishes it again
                log.exception('publishing run %s to the queue failed', run_id)
        return sent


def celery_sender(app: Celery) -> Callable[[str], None]:
    def send(run_id: str) -> None:
        app.send_task(TASK, args=[run_id], queue=QUEUE)

    return send
