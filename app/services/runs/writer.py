"""Writing a run under the repository rules, inside the admitting transaction: the repository lock
(PostgreSQL advisory lock; SQLite's write lock already serialises), concurrency slots and the PR lock
(decided by admission.repository_verdict, enforced by the partial unique indexes), the run row and its
first timeline event. Also the unkeyed path the AFK loop uses (no idempotency key, no quota)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.core import ids
from app.core.errors import DomainError, not_found
from app.infra import no_wait
from app.infra.events import EventBus
from app.infra.rawdb import RawDB
from app.models import Project, RunKind, RunPublic, utcnow
from app.services.identity.accounts import Principal
from app.services.runs import admission
from app.services.runs import rows as run_rows
from app.services.runs import sql as run_sql

CREATE_ATTEMPTS = 5
Cursor = Any  # a DB-API cursor of the driver (sqlite3 or psycopg)
Facts = Any  # SQL_REPOSITORY_FACTS's row: project still there, limit, highest slot, branch holder, its batch


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


class StaleProject(Exception):
    """The cached project no longer matches the database."""


def repository_changed() -> DomainError:
    return DomainError(
        409, 'concurrency_limit', 'The repository changed under this request; retry.', headers={'Retry-After': '1'}
    )


class RunWriter:
    """Inserts runs; one per process, shared by the admitter (keyed, with quota) and the AFK loop."""

    def __init__(self, *, engine: Engine, settings: Settings, bus: EventBus) -> None:
        self.engine, self.settings, self.bus = engine, settings, bus
        self.db = RawDB(engine)
        self.sql = {name: self.db.sql(value) for name, value in vars(run_sql).items() if name.startswith('SQL_')}
        # Admissions in this process queue here rather than in SQLite's busy handler (which sleeps).
        self.write_lock: contextlib.AbstractContextManager[Any] = (
            no_wait.Lock() if self.db.sqlite else contextlib.nullcontext()
        )

    def lock_repository(self, cursor: Cursor, repository_key: str) -> None:
        if not self.db.sqlite:
            cursor.execute(self.sql['SQL_ADVISORY_LOCK'], {'k': lock_id(repository_key)})
            cursor.fetchall()

    def announce(self, run: RunPublic, project: Project) -> None:
        self.bus.publish_many(announcement(run, project))

    def _slotted_below(self, cursor: Cursor, repo: str, limit: int, max_slot: int | None) -> int:
        """The active slotted runs, or any smaller number when that is already below `limit` (all the
        verdict asks): slots are distinct, so there are at most max_slot + 1 of them."""
        if max_slot is None:
            return 0
        if max_slot + 1 < limit:
            return max_slot + 1
        cursor.execute(self.sql['SQL_SLOTTED_COUNT'], {'repo': repo, 'limit': limit})
        return int(cursor.fetchone()[0])

    def take_slot(
        self,
        cursor: Cursor,
        project: Project,
        branch: str,
        bypass_concurrency: bool,
        batch_id: str | None = None,
        facts: Facts | None = None,
    ) -> int | None:
        """The repository rules for one more active run on `branch`: its concurrency slot (None when it bypasses
        the limit), or the refusal (409 concurrency_limit / pr_lock). Inside the admitting transaction, after the
        repository lock; `facts`: SQL_REPOSITORY_FACTS's row when the caller read it already (after the lock)."""
        repo = project.repository_key
        sql = self.sql
        if facts is None:
            cursor.execute(sql['SQL_REPOSITORY_FACTS'], facts_params(project, branch, batch_id))
            facts = cursor.fetchone()
        project_ok, limit, max_slot, holder, holder_batch = facts
        if not project_ok:
            raise StaleProject()  # deleted, or moved to another repository since it was cached
        slotted = self._slotted_below(cursor, repo, limit, max_slot)
        # projects sharing a repository share the smallest limit among them
        verdict = admission.repository_verdict(
            slotted_active=slotted,
            max_concurrent=limit,
            branch_holder=holder,
            bypass_concurrency=bypass_concurrency,
            batch_id=batch_id,
            holder_batch_id=holder_batch,
        )
        if verdict == 'concurrency_limit':
            cursor.execute(sql['SQL_SLOTTED_IDS'], {'repo': repo})
            blocking = tuple(r[0] for r in cursor.fetchall())
            raise DomainError.from_refusal(admission.concurrency_refusal(limit, blocking))
        if verdict == 'pr_lock':
            raise DomainError.from_refusal(admission.pr_lock_refusal(branch, holder))
        if bypass_concurrency:
            return None
        slot = 0 if max_slot is None else max_slot + 1  # above every held slot: free by definition
        if slot >= limit:  # holes below: take the lowest free one
            cursor.execute(sql['SQL_SLOTS'], {'repo': repo})
            slot = admission.free_slot({r[0] for r in cursor.fetchall()}, limit)
        return slot

    def insert(
        self, cursor: Cursor, principal: Principal | None, project: Project, spec: RunSpec, **write: Any
    ) -> RunPublic:
        """prepare()'s statements, executed on `cursor` (write: prepare's keyword arguments)."""
        statements, run = self.prepare(cursor, principal, project, spec, **write)
        for statement, params in statements:
            cursor.execute(statement, params)
        return run

    def prepare(
        self,
        cursor: Cursor,
        principal: Principal | None,
        project: Project,
        spec: RunSpec,
        *,
        run_id: str,
        now: datetime,
        key: str | None,
        fingerprint: str | None,
        correlation_id: str | None,
        bypass_concurrency: bool,
        facts: Facts | None = None,
    ) -> tuple[list[tuple[str, dict[str, Any]]], RunPublic]:
        """The repository rules (which may read through `cursor`, or refuse), then the statements that write the
        run, its first event and its audit entry, and the run as they write it."""
        delayed = spec.run_at is not None  # holds nothing until it is due: no slot, no PR lock
        slot = (
            None
            if delayed
            else self.take_slot(cursor, project, spec.branch_name, bypass_concurrency, spec.batch_id, facts)
        )
        return run_rows.write_statements(
            self,
            principal,
            project,
            spec,
            slot=slot,
            run_id=run_id,
            now=now,
            key=key,
            fingerprint=fingerprint,
            correlation_id=correlation_id,
        )

    def create(
        self,
        principal: Principal | None,
        project: Project,
        spec: RunSpec,
        *,
        key: str | None,
        fingerprint: str | None,
        correlation_id: str | None,
        bypass_concurrency: bool = False,
        before_insert: Callable[[Connection], None] | None = None,
        after_insert: Callable[[Connection, RunPublic], None] | None = None,
    ) -> RunPublic:
        """A run without the idempotency and quota steps (the AFK loop), under the same repository rules.

        before_insert / after_insert run inside the creating transaction (the AFK loop re-checks its gates
        and claims the issue there, so a refusal or a lost race leaves nothing behind)."""
        for attempt in range(CREATE_ATTEMPTS):
            try:
                with self.write_lock, self.engine.begin() as conn:
                    if before_insert is not None:
                        before_insert(conn)
                    dbapi_connection = conn.connection.dbapi_connection
                    if dbapi_connection is None:
                        raise RuntimeError('the database connection has no DBAPI connection (invalidated)')
                    cursor = dbapi_connection.cursor()  # the same transaction, driver level
                    self.lock_repository(cursor, project.repository_key)
                    run = self.insert(
                        cursor,
                        principal,
                        project,
                        spec,
                        run_id=ids.new_run_id(),
                        now=utcnow(),
                        key=key,
                        fingerprint=fingerprint,
                        correlation_id=correlation_id,
                        bypass_concurrency=bypass_concurrency,
                    )
                    if after_insert is not None:
                        after_insert(conn, run)
                self.announce(run, project)
                return run
            except (IntegrityError,) + self.db.integrity_errors:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise repository_changed() from None
            except StaleProject as exc:
                raise not_found(f'project {project.id!r}') from exc
        raise AssertionError('unreachable')


def facts_params(project: Project, branch: str, batch_id: str | None) -> dict[str, str]:
    """SQL_REPOSITORY_FACTS's parameters."""
    return {'pid': project.id, 'repo': project.repository_key, 'branch': branch, 'batch': batch_id or ''}


def lock_id(repository_key: str) -> int:
    """A stable signed 64-bit advisory-lock id for a repository."""
    return int.from_bytes(hashlib.sha256(b'runboard-repo:' + repository_key.encode()).digest()[:8], 'big', signed=True)


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
