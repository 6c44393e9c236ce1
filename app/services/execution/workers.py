"""The worker registry (executor=celery): each `runboard worker` registers itself and beats every
heartbeat interval; people drain and undrain it here and the worker reads the flag on its next beat. A
worker is live while it beats: silent for three intervals it is lost (its runs end `crashed` through run
recovery, which reads the same heartbeats of the runs themselves)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.core.errors import not_found
from app.infra.db import session_scope
from app.models import Run, Worker, WorkerPublic, as_utc, utcnow
from app.services.execution.queue_reason import WorkerCapacity

LOST_AFTER_BEATS = 3


def worker_state(
    *, heartbeat_at: datetime, stopped_at: datetime | None, draining: bool, now: datetime, heartbeat_seconds: float
) -> str:
    """Pure: 'stopped' (shut down cleanly), 'lost' (silent for three beats), 'draining' or 'live'."""
    if stopped_at is not None:
        return 'stopped'
    if as_utc(heartbeat_at) < now - timedelta(seconds=LOST_AFTER_BEATS * heartbeat_seconds):
        return 'lost'
    return 'draining' if draining else 'live'


def state_of(row: Worker, *, now: datetime, heartbeat_seconds: float) -> str:
    return worker_state(
        heartbeat_at=row.heartbeat_at,
        stopped_at=row.stopped_at,
        draining=row.draining,
        now=now,
        heartbeat_seconds=heartbeat_seconds,
    )


def register(
    engine: Engine, *, name: str, instance_id: str, host: str, pid: int, labels: list[str], slots: int, version: str
) -> bool:
    """Insert or refresh the row for `name`; returns whether it is draining (a drain outlives a restart)."""
    now = utcnow()
    with session_scope(engine) as session:
        row = session.get(Worker, name)
        if row is None:
            row = Worker(
                name=name,
                instance_id=instance_id,
                host=host,
                pid=pid,
                labels=labels,
                slots=slots,
                version=version,
                started_at=now,
                heartbeat_at=now,
            )
        else:
            row.instance_id, row.host, row.pid, row.labels, row.slots = instance_id, host, pid, labels, slots
            row.version, row.started_at, row.heartbeat_at, row.stopped_at = version, now, now, None
        session.add(row)
        session.commit()
        return row.draining


def _touch(engine: Engine, name: str, **changes: object) -> bool:
    """Set fields on the worker's row; returns its draining flag (False when the row is gone)."""
    with session_scope(engine) as session:
        row = session.get(Worker, name)
        if row is None:
            return False
        for key, value in changes.items():
            setattr(row, key, value)
        session.add(row)
        session.commit()
        return row.draining


def beat(engine: Engine, name: str, caches: dict[str, dict] | None = None) -> bool:
    """Refresh the heartbeat (and, when they changed, what the run caches on this machine hold); returns whether a
    person asked this worker to drain."""
    return _touch(engine, name, heartbeat_at=utcnow(), **({} if caches is None else {'caches': caches}))


def mark_stopped(engine: Engine, name: str) -> None:
    _touch(engine, name, stopped_at=utcnow())


def list_workers(engine: Engine, *, heartbeat_seconds: float) -> list[WorkerPublic]:
    now = utcnow()
    with Session(engine) as session:
        rows = session.exec(select(Worker).order_by(col(Worker.name))).all()
        busy = dict(
            session.exec(
                select(col(Run.owner_instance), func.count())
                .where(col(Run.status) == 'running')
                .group_by(col(Run.owner_instance))
            ).all()
        )
    answer = []
    for row in rows:
        state = state_of(row, now=now, heartbeat_seconds=heartbeat_seconds)
        answer.append(
            WorkerPublic.model_validate({**row.model_dump(), 'busy': busy.get(row.instance_id, 0), 'state': state})
        )
    return answer


def serving_labels(engine: Engine, *, heartbeat_seconds: float) -> list[list[str]]:
    """The labels of each live, undrained worker: all the dispatcher needs (no busy counts)."""
    now = utcnow()
    with Session(engine) as session:
        rows = session.exec(
            select(Worker).where(col(Worker.stopped_at).is_(None), col(Worker.draining).is_(False))
        ).all()
    return [
        list(row.labels)
        for row in rows
        if worker_state(
            heartbeat_at=row.heartbeat_at, stopped_at=None, draining=False, now=now, heartbeat_seconds=heartbeat_seconds
        )
        == 'live'
    ]


def capacities(workers: list[WorkerPublic]) -> list[WorkerCapacity]:
    return [
        WorkerCapacity(
            labels=tuple(w.labels),
            slots=w.slots,
            busy=w.busy,
            live=w.state in ('live', 'draining'),
            draining=w.draining,
        )
        for w in workers
    ]


def set_draining(engine: Engine, name: str, draining: bool, *, heartbeat_seconds: float) -> WorkerPublic:
    with session_scope(engine) as session:
        row = session.get(Worker, name)
        if row is None:
            raise not_found(f'worker {name!r}')
        if row.draining != draining:
            row.draining = draining
            row.drain_requested_at = utcnow() if draining else None
            session.add(row)
            session.commit()
    return next(w for w in list_workers(engine, heartbeat_seconds=heartbeat_seconds) if w.name == name)


def describe_instance(engine: Engine, instance_id: str | None) -> str | None:
    """'worker gpu@build-3 (pid 4120)' for a worker's instance id, else None (a server instance)."""
    if not instance_id:
        return None
    with Session(engine) as session:
        row = session.exec(select(Worker).where(col(Worker.instance_id) == instance_id)).first()
    return f'worker {row.name} (pid {row.pid}, {row.host})' if row else None
