"""The admission policy's questions answered on the database (admission.Transaction), in one SQLAlchemy
transaction: the idempotency key, the repository lock and its facts, the run's rows. Also the unkeyed path the
AFK loop uses (no idempotency key, no quota) and the repository rules a delayed run meets when it is due.

SQLite: BEGIN IMMEDIATE (app/infra/db.py) under a lock of this process, so admissions queue here rather than in
SQLite's busy handler (which sleeps). PostgreSQL: an advisory lock per repository, taken in the statement that
claims the key, serialises admissions to one repository across servers. The partial unique indexes stay the last
line of defence: a lost race is an IntegrityError, and the caller decides again (`lost_race`)."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from app.config import Settings
from app.core import ids
from app.core.errors import DomainError, not_found
from app.infra.db import advisory_lock_id, is_sqlite
from app.infra.events import EventBus
from app.models import (
    AuditEntry,
    CommitInfo,
    IdempotencyKey,
    Project,
    Run,
    RunEvent,
    RunKind,
    RunPublic,
    RunStatus,
    User,
    utcnow,
)
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.runs import admission, approvals
from app.services.runs import sql as run_sql
from app.services.runs.admission import Ask, RepositoryFacts, StaleProject, StoredKey
from app.services.runs.ports import Quota, RateLimiter
from app.services.runs.timeline import DB_TIME

CREATE_ATTEMPTS = 5

# SQLModel sets __table__ on every table model, but its stubs do not declare it
RUN: Table = Run.__table__  # type: ignore[attr-defined]
EVENT: Table = RunEvent.__table__  # type: ignore[attr-defined]
AUDIT: Table = AuditEntry.__table__  # type: ignore[attr-defined]
KEY: Table = IdempotencyKey.__table__  # type: ignore[attr-defined]
USER: Table = User.__table__  # type: ignore[attr-defined]
COMMIT: Table = CommitInfo.__table__  # type: ignore[attr-defined]
PUBLIC_COLUMNS = tuple(RUN.c[name] for name in RunPublic.model_fields if name in RUN.c)  # what an answer reads

KEY_AND_RUN = (  # the key's row and the run it names: one read answers a replay
    select(
        KEY.c.fingerprint,
        KEY.c.run_id,
        KEY.c.expires_at.label('key_expires_at'),
        USER.c.name.label('user_name'),
        COMMIT.c.title.label('commit_title'),  # a replay names its commit as a read of the run does, once it is read
        COMMIT.c.author_name.label('commit_author'),
        *PUBLIC_COLUMNS,
    )
    .select_from(
        KEY.outerjoin(RUN, RUN.c.id == KEY.c.run_id)
        .outerjoin(USER, USER.c.id == RUN.c.user_id)
        .outerjoin(COMMIT, COMMIT.c.sha == RUN.c.commit_sha)
    )
    .where(KEY.c.user_id == bindparam('u'), KEY.c.key == bindparam('k'))
)
# SQLite: its write lock is the repository's lock too, so the claim returns the repository's facts (step 3) as well,
# read under that lock; no row: the key is someone else's
KEY_CLAIM_WITH_FACTS = text(
    'INSERT INTO idempotencykey (user_id, key, fingerprint, run_id, created_at, expires_at) '
    'VALUES (:user_id, :key, :fingerprint, :run_id, :created_at, :expires_at) ON CONFLICT DO NOTHING '
    f'RETURNING {run_sql.REPOSITORY_FACTS_COLUMNS}'
).bindparams(bindparam('created_at', type_=DB_TIME), bindparam('expires_at', type_=DB_TIME))
# PostgreSQL: the claim and, when it claimed the key, the repository's advisory lock, in one statement; the
# facts are read by the next one, whose snapshot comes after the lock (READ COMMITTED)
KEY_CLAIM_AND_LOCK = text(
    'WITH claimed AS (INSERT INTO idempotencykey (user_id, key, fingerprint, run_id, created_at, expires_at) '
    'VALUES (:user_id, :key, :fingerprint, :run_id, :created_at, :expires_at) ON CONFLICT DO NOTHING RETURNING 1) '
    'SELECT pg_advisory_xact_lock(:lock) FROM claimed'
).bindparams(bindparam('created_at', type_=DB_TIME), bindparam('expires_at', type_=DB_TIME))
KEY_DELETE_EXPIRED = KEY.delete().where(
    KEY.c.user_id == bindparam('u'), KEY.c.key == bindparam('k'), KEY.c.expires_at <= bindparam('now')
)
ADVISORY_LOCK = text('SELECT pg_advisory_xact_lock(:k)')
RUN_INSERT, EVENT_INSERT, AUDIT_INSERT = insert(RUN), insert(EVENT), insert(AUDIT)
VARIABLE_INSERT = text('INSERT INTO runvariable (run_id, name, value) VALUES (:run_id, :name, :value)')
UNSET = {column.name: None for column in PUBLIC_COLUMNS if column.nullable}  # what a new run has not done yet


@functools.cache
def _run_write(run_columns: tuple[str, ...], audit_columns: tuple[str, ...]) -> Insert:
    """PostgreSQL: the run, its first event and its audit entry in one statement, one round trip instead of
    three. The event's text is bound as first_event_text, the audit entry's columns as audit_<column>."""
    defaults = {  # the table's own scalar defaults for what the values leave out (a CTE's INSERT needs them bound)
        c.name: c.default.arg
        for c in RUN.c
        if c.name not in run_columns and isinstance(c.default, ScalarElementColumnDefault)
    }
    run = insert(RUN).values({**defaults, **{name: bindparam(name, type_=RUN.c[name].type) for name in run_columns}})
    event = insert(EVENT).values(
        run_id=bindparam('id', type_=RUN.c.id.type),
        seq=1,
        at=bindparam('created_at', type_=RUN.c.created_at.type),
        type='status',
        text=bindparam('first_event_text', type_=EVENT.c.text.type),
    )
    audit_row = {name: bindparam(f'audit_{name}', type_=AUDIT.c[name].type) for name in audit_columns}
    return insert(AUDIT).values(audit_row).add_cte(run.cte('written'), event.cte('first_event'))


def run_write(values: dict[str, Any], entry: dict[str, Any]) -> Insert:
    return _run_write(tuple(values), tuple(entry))


AUDIT_ACTIONS = {
    'manual': 'run.triggered',
    'retry': 'run.retried',
    'auto': 'afk.started',
    'scheduled': 'schedule.fired',
    'push': 'run.pushed',  # a push the project's push rules select (services/triggers/push.py)
    'pull_request': 'run.pull_request',
}


@dataclass(frozen=True)
class RunSpec:
    project_id: str
    depth_level: str
    target_framework: str
    branch_name: str
    kind: str = RunKind.manual.value
    retry_of: str | None = None
    issue_number: int | None = None
    issue_title: str | None = None
    checkout_ref: str | None = None
    commit_sha: str | None = None  # the branch's commit at admission (None: resolved when the run starts)
    run_at: datetime | None = None  # later: the run is written `delayed`, holding nothing (scheduling/delayed_runs.py)
    ttl_seconds: int | None = None  # the trigger's queued TTL (else the project's)
    batch_id: str | None = None  # a child of this matrix batch: its siblings do not lock it out of the branch
    variables: tuple[tuple[str, str], ...] = ()  # the trigger's own (name, value) pairs, over the project's
    awaiting_approval: bool = False  # written `delayed` until an operator approves it (services/runs/approvals.py)
    automatic: bool = False  # a retry the project's auto-retry rule made as the run's person (its audit says so)

    @property
    def delayed(self) -> bool:
        """Written `delayed`: holding nothing until it is due (its time came, or it was approved)."""
        return self.run_at is not None or self.awaiting_approval


@dataclass(frozen=True)
class Request:
    """One keyed admission: a run of `spec` in `project` for `principal`, under idempotency `key` whose request
    body has fingerprint `fp`."""

    principal: Principal
    project: Project
    spec: RunSpec
    key: str
    fp: str
    correlation_id: str | None


def repository_changed() -> DomainError:
    return DomainError(
        409, 'concurrency_limit', 'The repository changed under this request; retry.', headers={'Retry-After': '1'}
    )


def bad_data() -> DomainError:
    return DomainError(
        422, 'validation', 'The request contains a value the database cannot store (such as a NUL character).'
    )


def lost_race(exc: BaseException) -> bool:
    """A unique index refused the write (another request won), or PostgreSQL broke a deadlock or a serialization
    failure: decide again with fresh facts."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, OperationalError) and getattr(exc.orig, 'sqlstate', None) in ('40001', '40P01')


class RunWriter:
    """Writes runs; one per process, shared by the admitter (keyed, with quota), matrix batches, delayed runs
    and the AFK loop."""

    def __init__(self, *, engine: Engine, settings: Settings, bus: EventBus) -> None:
        self.engine, self.settings, self.bus = engine, settings, bus
        self.sqlite = is_sqlite(str(engine.url))
        self.write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self.sqlite else contextlib.nullcontext()
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (SQLite: BEGIN IMMEDIATE, after this process's other admissions)."""
        with self.write_lock, self.engine.begin() as conn:
            yield conn

    def keyed(self, conn: Connection, request: Request, limiter: RateLimiter, rate_key: str, taken: list[str]) -> Keyed:
        """admission.Transaction for one keyed request (the quota entries it takes are added to `taken`)."""
        return Keyed(self, conn, request, limiter, rate_key, taken)

    def lock_repository(self, conn: Connection, repository_key: str) -> None:
        if not self.sqlite:
            conn.execute(ADVISORY_LOCK, {'k': lock_id(repository_key)})

    def take_slot(
        self, conn: Connection, project: Project, branch: str, bypass_concurrency: bool, batch_id: str | None = None
    ) -> int | None:
        """The repository rules (admission step 3) for one more active run on `branch`, after the lock."""
        facts = Repository(conn, project, branch, batch_id)
        return admission.repository_rules(facts, branch, bypass_concurrency=bypass_concurrency, batch_id=batch_id)

    def write(
        self,
        conn: Connection,
        principal: Principal | None,
        project: Project,
        spec: RunSpec,
        *,
        slot: int | None,
        run_id: str,
        now: datetime,
        key: str | None = None,
        fingerprint: str | None = None,
        correlation_id: str | None,
    ) -> RunPublic:
        """The run (holding `slot`), its first event and its audit entry; returns the run as stored."""
        delayed = spec.delayed
        ttl = None if delayed else spec.ttl_seconds or project.queued_ttl_seconds
        values: dict[str, Any] = dict(
            id=run_id,
            project_id=project.id,
            repository_key=project.repository_key,
            kind=spec.kind,
            status=RunStatus.delayed.value if delayed else RunStatus.queued.value,
            depth_level=spec.depth_level,
            target_framework=spec.target_framework,
            branch_name=spec.branch_name,
            checkout_ref=spec.checkout_ref or spec.branch_name,
            commit_sha=spec.commit_sha,
            user_id=principal.user_id if principal else None,
            idempotency_key=key,
            payload_fingerprint=fingerprint,
            retry_of=spec.retry_of,
            issue_number=spec.issue_number,
            issue_title=spec.issue_title,
            slot=slot,
            created_at=now,
            budget_seconds=project.run_budget_seconds or self.settings.run_budget_seconds,
            correlation_id=correlation_id,
            last_seq=1,
            output_lines=0,
            run_at=spec.run_at,
            ttl_seconds=spec.ttl_seconds if delayed else ttl,
            expires_at=now + timedelta(seconds=ttl) if ttl else None,
            batch_id=spec.batch_id,
        )
        said = 'queued' + (f' (retry of {spec.retry_of})' if spec.retry_of else '')
        if spec.run_at is not None:
            said = f'delayed until {spec.run_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC'
        if spec.awaiting_approval:
            values['approval'] = 'waiting'
            said = approvals.waiting_text(spec.branch_name) + (
                f', then delayed until {spec.run_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC' if spec.run_at else ''
            )
        entry = audit.entry_values(
            principal,
            AUDIT_ACTIONS.get(spec.kind, 'run.triggered'),
            team_id=project.team_id,
            project_id=project.id,
            target=run_id,
            details=audit_details(spec),
            correlation_id=correlation_id,
            now=now,
        )
        if self.sqlite:  # in-process statements: three cost no round trips
            conn.execute(RUN_INSERT, values)
            conn.execute(EVENT_INSERT, {'run_id': run_id, 'seq': 1, 'at': now, 'type': 'status', 'text': said})
            conn.execute(AUDIT_INSERT, entry)
        else:
            audit_values = {f'audit_{name}': value for name, value in entry.items()}
            conn.execute(run_write(values, entry), {**values, 'first_event_text': said, **audit_values})
        if spec.variables:
            conn.execute(VARIABLE_INSERT, [{'run_id': run_id, 'name': n, 'value': v} for n, v in spec.variables])
        user_name = principal.name if principal else None
        return RunPublic.model_validate({**UNSET, **values, 'user_name': user_name, 'variables': dict(spec.variables)})

    def announce(self, run: RunPublic, project: Project) -> None:
        self.bus.publish_many(announcement(run, project))

    def create(
        self,
        principal: Principal | None,
        project: Project,
        spec: RunSpec,
        *,
        correlation_id: str | None,
        key: str | None = None,
        fingerprint: str | None = None,
        bypass_concurrency: bool = False,
        before_insert: Callable[[Connection], None] | None = None,
        after_insert: Callable[[Connection, RunPublic], None] | None = None,
    ) -> RunPublic:
        """A run without the idempotency and quota steps (the AFK loop), under the same repository rules.

        before_insert / after_insert run inside the creating transaction (the AFK loop re-checks its gates
        and claims the issue there, so a refusal or a lost race leaves nothing behind)."""
        for attempt in range(CREATE_ATTEMPTS):
            try:
                with self.transaction() as conn:
                    if before_insert is not None:
                        before_insert(conn)
                    self.lock_repository(conn, project.repository_key)
                    slot = self.take_slot(conn, project, spec.branch_name, bypass_concurrency, spec.batch_id)
                    run = self.write(
                        conn,
                        principal,
                        project,
                        spec,
                        slot=slot,
                        run_id=ids.new_run_id(at=spec.run_at),
                        now=utcnow(),
                        key=key,
                        fingerprint=fingerprint,
                        correlation_id=correlation_id,
                    )
                    if after_insert is not None:
                        after_insert(conn, run)
                self.announce(run, project)
                return run
            except StaleProject as exc:
                raise not_found(f'project {project.id!r}') from exc
            except (IntegrityError, OperationalError) as exc:
                if not lost_race(exc):
                    raise
                if attempt == CREATE_ATTEMPTS - 1:
                    raise repository_changed() from None
        raise AssertionError('unreachable')


class Repository:
    """The repository's side of admission.Transaction (step 3), read after the repository lock."""

    def __init__(self, conn: Connection, project: Project, branch: str, batch_id: str | None) -> None:
        self.conn, self.project, self.branch, self.batch_id = conn, project, branch, batch_id

    def facts_params(self) -> dict[str, Any]:
        return {
            'pid': self.project.id,
            'repo': self.project.repository_key,
            'branch': self.branch,
            'batch': self.batch_id or '',
        }

    def repository(self) -> RepositoryFacts:
        return facts_of(self.conn.execute(run_sql.REPOSITORY_FACTS, self.facts_params()).one())

    def slotted_count(self, limit: int) -> int:
        params = {'repo': self.project.repository_key, 'limit': limit}
        return int(self.conn.execute(run_sql.SLOTTED_COUNT, params).scalar_one())

    def slotted_ids(self) -> tuple[str, ...]:
        return tuple(self.conn.execute(run_sql.SLOTTED_IDS, {'repo': self.project.repository_key}).scalars())

    def held_slots(self) -> set[int]:
        return set(self.conn.execute(run_sql.SLOTS, {'repo': self.project.repository_key}).scalars())


class Keyed(Repository):
    """admission.Transaction for one keyed request, on the admitting transaction's connection."""

    def __init__(
        self,
        writer: RunWriter,
        conn: Connection,
        request: Request,
        limiter: RateLimiter,
        rate_key: str,
        taken: list[str],
    ) -> None:
        super().__init__(conn, request.project, request.spec.branch_name, request.spec.batch_id)
        self.writer, self.request, self.limiter, self.rate_key, self.taken = writer, request, limiter, rate_key, taken
        self.now = utcnow()
        self.run_id = ids.new_run_id(at=request.spec.run_at)
        self.facts: RepositoryFacts | None = None  # SQLite: returned by the key's claim
        spec = request.spec
        self.ask = Ask(request.fp, spec.branch_name, delayed=spec.delayed, batch_id=spec.batch_id)

    def claim_key(self) -> bool:
        request = self.request
        row = {
            'user_id': request.principal.user_id,
            'key': request.key,
            'fingerprint': request.fp,
            'run_id': self.run_id,
            'created_at': self.now,
            'expires_at': self.now + timedelta(seconds=self.writer.settings.idempotency_ttl_seconds),
        }
        if self.writer.sqlite:
            facts = self.conn.execute(KEY_CLAIM_WITH_FACTS, {**row, **self.facts_params()}).first()
            self.facts = None if facts is None else facts_of(facts)
            return facts is not None
        lock = lock_id(request.project.repository_key)
        return self.conn.execute(KEY_CLAIM_AND_LOCK, {**row, 'lock': lock}).first() is not None

    def repository(self) -> RepositoryFacts:
        """SQLite: as the claim returned them (the same lock held since); PostgreSQL: read after the lock."""
        return self.facts or super().repository()

    def stored_key(self) -> StoredKey | None:
        return stored_key(self.conn, self.request.principal.user_id, self.request.key)

    def claim_expired_key(self) -> bool:
        self.conn.execute(
            KEY_DELETE_EXPIRED, {'u': self.request.principal.user_id, 'k': self.request.key, 'now': self.now}
        )
        return self.claim_key()

    def take_quota(self) -> Quota:
        quota = self.limiter.acquire(self.rate_key, self.request.key)
        if quota.allowed:
            self.taken.append(self.request.key)
        return quota

    def peek_quota(self) -> Quota:
        return self.limiter.peek(self.rate_key)

    def write(self, slot: int | None) -> RunPublic:
        request = self.request
        return self.writer.write(
            self.conn,
            request.principal,
            request.project,
            request.spec,
            slot=slot,
            run_id=self.run_id,
            now=self.now,
            key=request.key,
            fingerprint=request.fp,
            correlation_id=request.correlation_id,
        )


def facts_of(row: Any) -> RepositoryFacts:
    return RepositoryFacts(bool(row[0]), int(row[1] or 0), row[2], row[3], row[4])  # no project: no limit


def stored_key(conn: Connection, user_id: str, key: str) -> StoredKey | None:
    """The key's row and the run it names."""
    row = conn.execute(KEY_AND_RUN, {'u': user_id, 'k': key}).mappings().first()
    if row is None:
        return None
    run = None
    if row['id'] is not None:
        run = RunPublic.model_validate(
            {column.name: row[column.name] for column in PUBLIC_COLUMNS}
            | {name: row[name] for name in ('user_name', 'commit_title', 'commit_author')}
        )
    return StoredKey(row['fingerprint'], row['run_id'], row['key_expires_at'], run)


def audit_details(spec: RunSpec) -> dict[str, Any]:
    """What the audit entry of a run's admission says besides its target."""
    pairs = (('branch', spec.branch_name), ('retry_of', spec.retry_of), ('batch_id', spec.batch_id))
    details: dict[str, Any] = {k: v for k, v in pairs if v}
    if spec.automatic:
        details['automatic'] = True
    return details


def lock_id(repository_key: str) -> int:
    """A stable signed 64-bit advisory-lock id for a repository."""
    return advisory_lock_id(f'runboard-repo:{repository_key}')


def announcement(run: RunPublic, project: Project) -> list[dict[str, Any]]:
    """The events of a new run: the run itself, and that the queue changed."""
    return [
        {
            'type': 'run',
            'id': run.id,
            'project_id': run.project_id,
            'team_id': project.team_id,
            'status': run.status,
            **({'batch_id': run.batch_id} if run.batch_id else {}),  # a batch page learns of new children
        },
        {'type': 'queue'},
    ]
