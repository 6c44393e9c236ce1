"""The Runboard Celery app (executor=celery): the server publishes "execute run X"; any `runboard worker`
runs it. Settings chosen for runs that last hours: a task is acknowledged on receipt (acks_late off), so the
broker never redelivers a run that is still going when a visibility timeout passes; each worker thread
prefetches one task (a long run never holds others back); liveness comes from the run's heartbeat in the
database, and a lost publish is re-published by the server's dispatch sweep (dispatch.py). The database
stays the truth: a duplicate or stale task finds its run no longer queued and does nothing."""

from __future__ import annotations

from celery import Celery

from app.config import Settings
from app.infra.redis import celery_ssl
from app.services.execution.routing import base_queue

TASK = 'runboard.execute_run'


def broker_of(settings: Settings) -> str:
    broker = settings.broker_url or settings.redis_url
    if not broker:
        raise RuntimeError('executor=celery needs RUNBOARD_BROKER_URL (or RUNBOARD_REDIS_URL)')
    return broker


def make_celery(settings: Settings) -> Celery:
    broker = broker_of(settings)
    app = Celery('runboard', broker=broker)
    app.conf.update(
        broker_use_ssl=celery_ssl(broker),  # rediss://: the certificate checked (its options are in the URL)
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=base_queue(settings.redis_prefix),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,  # Flower (or `celery events`) shows each run's task
        task_send_sent_event=True,
        task_serializer='json',
        accept_content=['json'],
    )
    return app
