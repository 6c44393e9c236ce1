"""The worker registry (executor=celery): each `runboard worker` registers itself and beats every
heartbeat interval; people drain and undrain it here and the worker reads the flag on its next beat. A
worker is live while it beats: silent for three intervals it is lost (its runs end `crashed` through run
recovery, which reads the same heartbeats of the runs themselves).

Gone workers leave the list (as GitHub forgets offline self-hosted runners): a worker stopped, or lost, for longer
than `RUNBOARD_WORKER_RETENTION_DAYS` is deleted by every server's hourly sweep (`forgotten` is the rule, `sweep`
one DELETE with it in its WHERE: two servers sweeping at once delete each row once), and an administrator may
remove one that is stopped or lost at once (`remove`). A worker that still owns a running run is kept either way.
A worker whose row is gone registers again at its next beat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, delete, exists, func, or_
from sqlmodel import Session, col, select

from app.core.errors import DomainError, not_found
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


def forgotten(
    *,
    heartbeat_at: datetime,
    stopped_at: datetime | None,
    owns_running_runs: bool,
    now: datetime,
    heartbeat_seconds: float,
    retention_days: float,
) -> bool:
    """Pure: whether the sweep deletes this worker's row. Stopped for longer than `retention_days`, or lost (silent
    for LOST_AFTER_BEATS heartbeats) for longer than that; never while it owns a running run; never with a retention
    of 0 (kept for ever). Draining does not matter: a draining worker that stops beating is lost like any other."""
    if retention_days <= 0 or owns_running_runs:
        return False
    return _gone_since(heartbeat_at, stopped_at, heartbeat_seconds) < now - timedelta(days=retention_days)


def _gone_since(heartbeat_at: datetime, stopped_at: datetime | None, heartbeat_seconds: float) -> datetime:
    """When the worker stopped, or became lost (a live worker's is a moment still to come)."""
    if stopped_at is not None:
        return as_utc(stopped_at)
    return as_utc(heartbeat_at) + timedelta(seconds=LOST_AFTER_BEATS * heartbeat_seconds)


def _gone_before(before: datetime, *, heartbeat_seconds: float) -> ColumnElement[bool]:
    """`forgotten` in SQL: stopped, or lost, before `before`, and owning no running run."""
    lost_beat = before - timedelta(seconds=LOST_AFTER_BEATS * heartbeat_seconds)
    return and_(
        or_(
            and_(col(Worker.stopped_at).is_not(None), col(Worker.stopped_at) < before),
            and_(col(Worker.stopped_at).is_(None), col(Worker.heartbeat_at) < lost_beat),
        ),
        ~exists().where(col(Run.owner_instance) == col(Worker.instance_id), col(Run.status) == 'running'),
    )


def sweep(engine: Engine, *, retention_days: float, heartbeat_seconds: float, now: datetime | None = None) -> int:
    """Delete the workers `forgotten` says are gone (one DELETE: two servers at once each delete what is left);
    returns how many rows this call deleted."""
    if retention_days <= 0:
        return 0
    before = (now or utcnow()) - timedelta(days=retention_days)
    with session_scope(engine) as session:
        deleted = session.connection().execute(
            delete(Worker).where(_gone_before(before, heartbeat_seconds=heartbeat_seconds))
        )
        session.commit()
    return deleted.rowcount


def remove(engine: Engine, name: str, *, heartbeat_seconds: float) -> None:
    """Delete one stopped or lost worker now. The DELETE itself checks the state (a beat between a read and the
    delete cannot lose the row of a live worker); when it deleted nothing, the row says why."""
    now = utcnow()
    with session_scope(engine) as session:
        deleted = session.connection().execute(
            delete(Worker).where(col(Worker.name) == name, _gone_before(now, heartbeat_seconds=heartbeat_seconds))
        )
        session.commit()
        if deleted.rowcount:
            return
        row = session.get(Worker, name)
        if row is None:
            raise not_found(f'worker {name!r}')
        state = state_of(row, now=now, heartbeat_seconds=heartbeat_seconds)
        running = session.exec(
            select(func.count()).where(col(Run.owner_instance) == row.instance_id, col(Run.status) == 'running')
        ).one()
    if state in ('live', 'draining'):
        raise DomainError(
            409,
            'worker_live',
            f'Worker {name} is {state}: a live worker registers again at its next heartbeat. Drain it, stop it '
            f'(`runboard workers drain {name}`, then end its process), and remove it once it shows stopped or lost.',
            state=state,
        )
    raise DomainError(
        409,
        'worker_busy',
        f'Worker {name} is {state} but still owns {running} running run{"" if running == 1 else "s"}: run recovery '
        'ends them crashed within a few heartbeats; remove it after that.',
        state=state,
    )


def state_of(row: Worker, *, now: datetime, heartbeat_seconds: float) -> str:
    return worker_state(
        heartbeat_at=row.heartbeat_at,
        stopped_at=row.stopped_at,
        draining=row.draining,
        now=now,
        heartbeat_seconds=heartbeat_seconds,
    )


def register(
    engine: Engine,
    *,
    name: str,
    instance_id: str,
    host: str,
    pid: int,
    labels: list[str],
    slots: int,
    version: str,
    confinement: dict | None = None,
) -> bool:
    """Insert or refresh the row for `name`; returns whether it is draining (a drain outlives a restart).
    `confinement`: how it executes runs (`process.Confinement.facts`)."""
    now = utcnow()
    confinement = confinement or {}
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
                confinement=confinement,
            )
        else:
            row.instance_id, row.host, row.pid, row.labels, row.slots = instance_id, host, pid, labels, slots
            row.version, row.started_at, row.heartbeat_at, row.stopped_at = version, now, now, None
            row.confinement = confinement
        session.add(row)
        session.commit()
        return row.draining


def _touch(engine: Engine, name: str, **changes: object) -> bool | None:
    """Set fields on the worker's row; returns its draining flag (None when the row is gone)."""
    with session_scope(engine) as session:
        row = session.get(Worker, name)
        if row is None:
            return None
        for key, value in changes.items():
            setattr(row, key, value)
        session.add(row)
        session.commit()
        return row.draining


def beat(engine: Engine, name: str, caches: dict[str, dict] | None = None) -> bool | None:
    """Refresh the heartbeat (and, when they changed, what the run caches on this machine hold); returns whether a
    person asked this worker to drain, or None when its row is gone (removed, or swept after a long silence): the
    worker registers again."""
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
        said = row.confinement or {}
        answer.append(
            WorkerPublic.model_validate(
                {
                    **row.model_dump(),
                    'busy': busy.get(row.instance_id, 0),
                    'state': state,
                    'sandbox': said.get('sandbox'),
                    'limits': said.get('limits'),
                    'warnings': [w for w in (said.get('sandbox_warning'), said.get('limits_warning')) if w],
                }
            )
        )
    return answer


SANDBOX_SEVERITY = ('sandboxed', 'unsandboxed', 'refused')


@dataclass(frozen=True)
class Fleet:
    sandbox: str  # the worst of the live workers': sandboxed | unsandboxed | refused
    sandbox_warning: str | None
    limits_warning: str | None


def fleet_confinement(live: list[tuple[str, dict]]) -> Fleet | None:
    """Pure: how runs execute on these live workers ((name, what it said at its start)): the worst sandbox state
    of any (refused, then unsandboxed), and each worker's sandbox and limits warnings, named. None when none said
    (no live worker, or only workers of an earlier version)."""
    said = [(name, facts) for name, facts in live if facts.get('sandbox') in SANDBOX_SEVERITY]
    if not said:
        return None
    worst = max((facts['sandbox'] for _, facts in said), key=SANDBOX_SEVERITY.index)

    def named(key: str) -> str | None:
        return '; '.join(f'worker {name}: {facts[key]}' for name, facts in said if facts.get(key)) or None

    return Fleet(worst, named('sandbox_warning'), named('limits_warning'))


def live_confinement(engine: Engine, *, heartbeat_seconds: float) -> Fleet | None:
    """fleet_confinement over the workers that are live or draining now (they execute runs)."""
    now = utcnow()
    with Session(engine) as session:
        rows = session.exec(select(Worker).order_by(col(Worker.name))).all()
    return fleet_confinement(
        [
            (row.name, row.confinement or {})
            for row in rows
            if state_of(row, now=now, heartbeat_seconds=heartbeat_seconds) in ('live', 'draining')
        ]
    )


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
