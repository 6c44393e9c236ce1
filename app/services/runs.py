"""Admit, create, retry and stop runs (reads are in run_reads.py, the admission SQL in run_sql.py).

Admission order: validation -> idempotency lookup -> rate limit -> concurrency -> PR lock -> create.
The database decides the races: the idempotency key row, the PR-lock index and the slot index are
unique, so two requests (or two servers) can never both win.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db import is_sqlite, read_only, session_scope
from app.models import (
    ACTIVE_STATUSES,
    RETRYABLE_STATUSES,
    Project,
    RunKind,
    RunPublic,
    RunStatus,
    as_utc,
    utcnow,
)
from app.services import admission, gitops, ids, projects, run_sql
from app.services.accounts import Principal
from app.services.errors import DomainError, not_found
from app.services.rawdb import RawDB
from app.services.reaper import finish_run
from app.services.run_reads import get_run, load_visible_run
from app.services.timeline import append_events

CREATE_ATTEMPTS = 5


@dataclass
class Admitted:
    run: RunPublic
    replayed: bool
    idempotency_key: str
    quota: Any | None = None  # ratelimit.Quota of the admitting request


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


# ------------------------------------------------------------------ admission
PROJECT_CACHE_SECONDS = 2.0


class RunAdmitter:
    """Creates runs under every rule; shared by the API (manual, retry) and the AFK loop (auto).

    One transaction per admission: claim the idempotency key (its primary key decides races), take
    the quota, check the repository's limits, insert the run. Anything refused rolls back, so it
    creates nothing, and gives its quota entry back. On PostgreSQL an advisory lock per repository
    serialises admissions to one repository across servers (SQLite's BEGIN IMMEDIATE already does);
    the partial unique indexes stay the last line of defence.
    """

    def __init__(self, *, engine: Engine, settings, limiter, branches, bus) -> None:  # noqa: ANN001
        self.engine, self.settings, self.limiter, self.branches, self.bus = engine, settings, limiter, branches, bus
        self.reader = read_only(engine)
        self.db = RawDB(engine)
        self._sql = {name: self.db.sql(value) for name, value in vars(run_sql).items() if name.startswith('SQL_')}
        self._sqlite = is_sqlite(str(engine.url))
        # Admissions in this process queue here rather than in SQLite's busy handler (which sleeps).
        self._write_lock = threading.Lock() if self._sqlite else contextlib.nullcontext()
        self._projects: dict[str, tuple[float, Project]] = {}

    def quota(self, principal: Principal):  # noqa: ANN201
        return self.limiter.peek(self.rate_key(principal))

    def rate_key(self, principal: Principal) -> str:
        from app.services.ratelimit import user_runs_key

        return user_runs_key(self.settings.redis_prefix, principal.user_id)

    # -- projects, briefly cached: the trigger path reads one per request
    def _project(self, project_id: str, principal: Principal) -> Project:
        now = time.monotonic()
        hit = self._projects.get(project_id)
        if hit is None or now - hit[0] > PROJECT_CACHE_SECONDS:
            with Session(self.reader) as session:
                project = session.get(Project, project_id)
                if project is not None:
                    session.expunge(project)
            if project is None:
                self._projects.pop(project_id, None)
                raise not_found(f'project {project_id!r}')
            if len(self._projects) > 10_000:
                self._projects.clear()
            self._projects[project_id] = (now, project)
        else:
            project = hit[1]
        if not projects.visible(project, principal):
            raise not_found(f'project {project_id!r}')  # never reveal that another team's project exists
        return project

    def forget_project(self, project_id: str) -> None:
        self._projects.pop(project_id, None)

    # -- entry points
    def trigger(
        self,
        principal: Principal,
        *,
        project_id: str,
        depth_level: str,
        target_framework: str,
        branch: str,
        key: str | None,
        correlation_id: str | None,
    ) -> Admitted:
        project = self._project(project_id, principal)
        self._validate(project, depth_level=depth_level, target_framework=target_framework, branch=branch)
        spec = RunSpec(project_id, depth_level, target_framework, branch)
        payload = {
            'project_id': project_id,
            'depth_level': depth_level,
            'target_framework': target_framework,
            'branch': branch,
        }
        return self._admit(principal, project, spec, payload, key, correlation_id)

    def retry(
        self,
        principal: Principal,
        *,
        run_id: str,
        overrides: dict[str, str | None],
        key: str | None,
        correlation_id: str | None,
    ) -> Admitted:
        with Session(self.reader) as session:
            original, project = load_visible_run(session, run_id, principal)
            session.expunge_all()
        refusal = admission.retry_verdict(original.status, RETRYABLE_STATUSES)
        if refusal:
            raise DomainError.from_refusal(refusal)
        branch = overrides.get('branch') or original.branch_name
        depth = overrides.get('depth_level') or original.depth_level
        framework = overrides.get('target_framework') or original.target_framework
        self._validate(project, depth_level=depth, target_framework=framework, branch=branch)
        spec = RunSpec(
            project.id,
            depth,
            framework,
            branch,
            kind=RunKind.retry.value,
            retry_of=original.id,
            issue_number=original.issue_number,
            issue_title=original.issue_title,
        )
        payload = {'retry_of': run_id, 'depth_level': depth, 'target_framework': framework, 'branch': branch}
        return self._admit(principal, project, spec, payload, key, correlation_id)

    def _validate(self, project: Project, *, depth_level: str, target_framework: str, branch: str) -> None:
        refusal = admission.validate_choice(
            depth_level, project.depth_levels, 'depth_level'
        ) or admission.validate_choice(target_framework, project.target_frameworks, 'target_framework')
        if refusal:
            raise DomainError.from_refusal(refusal)
        unsupported = gitops.unsupported_reason(project.repository)
        if unsupported:
            raise DomainError(
                422, 'unsupported_repository', f'Runs cannot use this repository: {unsupported}.', field='repository'
            )
        try:
            exists = self.branches.exists(project.repository, branch)
        except (gitops.GitError, OSError) as exc:
            raise DomainError(
                502, 'repository_unavailable', f'Could not read the branches of {project.repository!r}: {exc}'
            ) from exc
        refusal = admission.validate_run_request(
            depth_level=depth_level,
            target_framework=target_framework,
            branch=branch,
            allowed_depths=project.depth_levels,
            allowed_frameworks=project.target_frameworks,
            branch_exists=exists,
        )
        if refusal:
            raise DomainError.from_refusal(refusal)

    # -- the core
    def _admit(
        self,
        principal: Principal,
        project: Project,
        spec: RunSpec,
        payload: dict,
        key: str | None,
        correlation_id: str | None,
    ) -> Admitted:
        minted = key is None
        key = key or str(uuid.uuid4())
        fp = admission.fingerprint(payload)
        if not minted:  # a replay needs no lock: read the key first
            try:
                replay = self._lookup_key(principal.user_id, key, fp)
            except self.db.data_errors as exc:
                raise _bad_data() from exc
            if replay is not None:
                return Admitted(replay, True, key, self.quota(principal))
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self._admit_once(principal, project, spec, key, fp, correlation_id)
            except _Conflict:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise DomainError(
                        409,
                        'concurrency_limit',
                        'The repository changed under this request; retry.',
                        headers={'Retry-After': '1'},
                    ) from None
            except _StaleProject:
                self.forget_project(project.id)
                project = self._project(project.id, principal)
        raise AssertionError('unreachable')

    def _lookup_key(self, user_id: str, key: str, fp: str) -> RunPublic | None:
        """A committed key naming a run: the replay, or a mismatch. None when the key is free or expired."""
        with self.db.reading() as cursor:
            cursor.execute(self._sql['SQL_KEY_AND_RUN'], {'u': user_id, 'k': key})
            row = cursor.fetchone()
        if self._key_verdict(row, fp) == 'replay':
            return self._run_from_key_row(row)
        return None

    def _key_verdict(self, row, fp: str) -> str:  # noqa: ANN001
        verdict = admission.idempotency_verdict(
            stored_fingerprint=row[0] if row else None,
            stored_run_id=row[1] if row else None,
            expires_at=as_utc(self.db.read_ts(row[2])) if row else None,
            fingerprint_now=fp,
            now=utcnow(),
        )
        if verdict == 'mismatch':
            raise DomainError(
                422, 'idempotency_key_mismatch', 'This Idempotency-Key was already used with a different request body.'
            )
        if verdict == 'in_flight':
            raise DomainError(
                409,
                'idempotency_in_flight',
                'A request with this Idempotency-Key is still being processed; retry shortly.',
                headers={'Retry-After': '1'},
            )
        return verdict

    @staticmethod
    def _run_from_key_row(row) -> RunPublic:  # noqa: ANN001
        return RunPublic.model_validate({'user_name': row[3], **dict(zip(run_sql.RUN_FIELDS, row[4:], strict=True))})

    def _admit_once(
        self, principal: Principal, project: Project, spec: RunSpec, key: str, fp: str, correlation_id: str | None
    ) -> Admitted:
        rl_key = self.rate_key(principal)
        quota = None
        run_id = ids.new_run_id()
        now = utcnow()
        sql = self._sql
        try:
            with self._write_lock, self.db.transaction() as cursor:
                self._lock_repository(cursor, project.repository_key)
                params = {'u': principal.user_id, 'k': key}
                claim = {
                    **params,
                    'fp': fp,
                    'run': run_id,
                    'now': self.db.ts(now),
                    'expires': self.db.ts(now + timedelta(seconds=self.settings.idempotency_ttl_seconds)),
                }
                cursor.execute(sql['SQL_KEY_INSERT'], claim)
                if cursor.rowcount != 1:
                    cursor.execute(sql['SQL_KEY_AND_RUN'], params)
                    row = cursor.fetchone()
                    if self._key_verdict(row, fp) == 'replay':
                        return Admitted(self._run_from_key_row(row), True, key, self.limiter.peek(rl_key))
                    cursor.execute(sql['SQL_KEY_DELETE_EXPIRED'], {**params, 'now': self.db.ts(now)})
                    cursor.execute(sql['SQL_KEY_INSERT'], claim)  # the key is free again
                    if cursor.rowcount != 1:
                        raise _Conflict()  # taken meanwhile: decide again
                quota = self.limiter.acquire(rl_key, key)
                if not quota.allowed:
                    retry = quota.retry_after_seconds
                    raise DomainError(
                        429,
                        'rate_limited',
                        f'Run limit reached: {quota.limit} runs per {quota.window_seconds} s. Retry in {retry} s.',
                        retry_after_seconds=retry,
                        headers={'Retry-After': str(retry)},  # the API adds RateLimit-Policy / RateLimit
                    )
                run = self._insert_run(
                    cursor,
                    principal,
                    project,
                    spec,
                    run_id=run_id,
                    now=now,
                    key=key,
                    fingerprint=fp,
                    correlation_id=correlation_id,
                    bypass_concurrency=False,
                )
        except BaseException as exc:
            if quota is not None and quota.allowed:
                self.limiter.release(rl_key, key)
            if isinstance(exc, self.db.integrity_errors):
                raise _Conflict() from exc
            if isinstance(exc, self.db.data_errors):
                raise _bad_data() from exc
            raise
        self._announce(run, project)
        return Admitted(run, False, key, quota)

    def _lock_repository(self, cursor, repository_key: str) -> None:  # noqa: ANN001
        if not self.db.sqlite:
            cursor.execute(self._sql['SQL_ADVISORY_LOCK'], {'k': _lock_id(repository_key)})
            cursor.fetchall()

    def _announce(self, run: RunPublic, project: Project) -> None:
        self.bus.publish(
            {
                'type': 'run',
                'id': run.id,
                'project_id': run.project_id,
                'team_id': project.team_id,
                'status': run.status,
            }
        )
        self.bus.publish({'type': 'queue'})

    def _insert_run(
        self,
        cursor,
        principal: Principal | None,
        project: Project,
        spec: RunSpec,
        *,  # noqa: ANN001
        run_id: str,
        now: datetime,
        key: str | None,
        fingerprint: str | None,
        correlation_id: str | None,
        bypass_concurrency: bool,
    ) -> RunPublic:
        repo = project.repository_key
        sql = self._sql
        cursor.execute(sql['SQL_REPOSITORY_FACTS'], {'pid': project.id, 'repo': repo, 'branch': spec.branch_name})
        project_ok, limit, slotted, max_slot, holder = cursor.fetchone()
        if not project_ok:
            raise _StaleProject()  # deleted, or moved to another repository since it was cached
        # projects sharing a repository share the smallest limit among them
        verdict = admission.repository_verdict(
            slotted_active=slotted, max_concurrent=limit, branch_holder=holder, bypass_concurrency=bypass_concurrency
        )
        if verdict == 'concurrency_limit':
            cursor.execute(sql['SQL_SLOTTED_IDS'], {'repo': repo})
            blocking = tuple(r[0] for r in cursor.fetchall())
            raise DomainError.from_refusal(admission.concurrency_refusal(limit, blocking))
        if verdict == 'pr_lock':
            raise DomainError.from_refusal(admission.pr_lock_refusal(spec.branch_name, holder))
        slot = None
        if not bypass_concurrency:
            slot = 0 if max_slot is None else max_slot + 1  # above every held slot: free by definition
            if slot >= limit:  # holes below: take the lowest free one
                cursor.execute(sql['SQL_SLOTS'], {'repo': repo})
                slot = admission.free_slot({r[0] for r in cursor.fetchall()}, limit)
        values = dict(
            id=run_id,
            project_id=project.id,
            repository_key=repo,
            kind=spec.kind,
            status=RunStatus.queued.value,
            depth_level=spec.depth_level,
            target_framework=spec.target_framework,
            branch_name=spec.branch_name,
            checkout_ref=spec.checkout_ref or spec.branch_name,
            user_id=principal.user_id if principal else None,
            idempotency_key=key,
            payload_fingerprint=fingerprint,
            retry_of=spec.retry_of,
            issue_number=spec.issue_number,
            issue_title=spec.issue_title,
            slot=slot,
            created_at=self.db.ts(now),
            budget_seconds=project.run_budget_seconds or self.settings.run_budget_seconds,
            correlation_id=correlation_id,
            last_seq=1,
            output_lines=0,
        )
        cursor.execute(sql['SQL_RUN_INSERT'], values)
        text_ = 'queued' + (f' (retry of {spec.retry_of})' if spec.retry_of else '')
        cursor.execute(sql['SQL_FIRST_EVENT'], {'run': run_id, 'at': self.db.ts(now), 'text': text_})
        return RunPublic.model_validate(
            {
                **values,
                'created_at': now,
                'user_name': principal.name if principal else None,
                'started_at': None,
                'finished_at': None,
                'deadline_at': None,
                'heartbeat_at': None,
                'exit_code': None,
                'error': None,
            }
        )

    def _create(
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
                with self._write_lock, self.engine.begin() as conn:
                    if before_insert is not None:
                        before_insert(conn)
                    cursor = conn.connection.dbapi_connection.cursor()  # the same transaction, driver level
                    self._lock_repository(cursor, project.repository_key)
                    run = self._insert_run(
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
                self._announce(run, project)
                return run
            except (IntegrityError, *self.db.integrity_errors):
                if attempt == CREATE_ATTEMPTS - 1:
                    raise DomainError(
                        409,
                        'concurrency_limit',
                        'The repository changed under this request; retry.',
                        headers={'Retry-After': '1'},
                    ) from None
            except _StaleProject as exc:
                raise not_found(f'project {project.id!r}') from exc
        raise AssertionError('unreachable')

    # -- stop
    def stop(self, principal: Principal, run_id: str) -> RunPublic:
        with session_scope(self.engine) as session:
            run, project = load_visible_run(session, run_id, principal)
            if run.status not in ACTIVE_STATUSES:
                raise DomainError(409, 'run_ended', f'Run {run_id} already ended ({run.status}).')
            conn = session.connection()
            conn.execute(
                text(
                    'UPDATE run SET stop_requested_at = :now, stop_requested_by = :u '
                    'WHERE id = :id AND stop_requested_at IS NULL'
                ),
                {'now': utcnow(), 'u': principal.user_id, 'id': run_id},
            )
            append_events(conn, run_id, [('status', f'stop requested by {principal.name}')])
            was_queued = run.status == RunStatus.queued.value
            team_id = project.team_id
        if was_queued:
            finish_run(self.engine, run_id=run_id, status=RunStatus.stopped, message=f'stopped by {principal.name}')
        self.bus.publish({'type': 'run.stop', 'id': run_id, 'project_id': run.project_id, 'team_id': team_id})
        self.bus.publish(
            {'type': 'run', 'id': run_id, 'project_id': run.project_id, 'team_id': team_id, 'status': 'stopping'}
        )
        return get_run(self.engine, principal, run_id, with_events=False)


class _StaleProject(Exception):
    """The cached project no longer matches the database."""


class _Conflict(Exception):
    """A unique index refused the write (another request won a race): decide again with fresh facts."""


def _bad_data() -> DomainError:
    return DomainError(
        422, 'validation', 'The request contains a value the database cannot store (such as a NUL character).'
    )


def _lock_id(repository_key: str) -> int:
    """A stable signed 64-bit advisory-lock id for a repository."""
    return int.from_bytes(hashlib.sha256(b'runboard-repo:' + repository_key.encode()).digest()[:8], 'big', signed=True)
