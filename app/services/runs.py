"""Admit and retry runs (reads: run_reads.py; the write under the repository rules: run_writer.py; stop:
run_stop.py; the admission SQL: run_sql.py; the pure rules: admission.py).

Admission order: validation -> idempotency lookup -> rate limit -> concurrency -> PR lock -> create.
The database decides the races: the idempotency key row, the PR-lock index and the slot index are
unique, so two requests (or two servers) can never both win.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from app.config import Settings
from app.db import read_only
from app.models import RETRYABLE_STATUSES, Project, RunKind, RunPublic, utcnow
from app.services import admission, gitops, ids
from app.services.accounts import Principal
from app.services.errors import DomainError
from app.services.events import EventBus
from app.services.idempotency import bad_data, key_verdict, run_from_key_row
from app.services.ports import Quota, RateLimiter
from app.services.project_cache import ProjectCache
from app.services.ratelimit import user_runs_key
from app.services.repositories import RepositoryAccess
from app.services.run_reads import load_visible_run
from app.services.run_stop import stop_run
from app.services.run_writer import CREATE_ATTEMPTS, RunSpec, RunWriter, StaleProject, repository_changed

__all__ = ['Admitted', 'RunAdmitter', 'RunSpec']


@dataclass
class Admitted:
    run: RunPublic
    replayed: bool
    idempotency_key: str
    quota: Quota | None = None  # of the admitting request


class _Conflict(Exception):
    """A unique index refused the write (another request won a race): decide again with fresh facts."""


class RunAdmitter:
    """Creates runs under every rule; shared by the API (manual, retry) and the AFK loop (auto).

    One transaction per admission: claim the idempotency key (its primary key decides races), take
    the quota, check the repository's limits, insert the run. Anything refused rolls back, so it
    creates nothing, and gives its quota entry back. On PostgreSQL an advisory lock per repository
    serialises admissions to one repository across servers (SQLite's BEGIN IMMEDIATE already does);
    the partial unique indexes stay the last line of defence.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        limiter: RateLimiter,
        repositories: RepositoryAccess,
        bus: EventBus,
    ) -> None:
        self.engine, self.settings, self.limiter, self.bus = engine, settings, limiter, bus
        self.repositories = repositories
        self.reader = read_only(engine)
        self.writer = RunWriter(engine=engine, settings=settings, bus=bus)
        self.db = self.writer.db
        self.projects = ProjectCache(self.reader)

    def forget_project(self, project_id: str) -> None:  # the project changed or is gone
        self.projects.forget(project_id)

    def quota(self, principal: Principal) -> Quota:
        return self.limiter.peek(self.rate_key(principal))

    def rate_key(self, principal: Principal) -> str:
        return user_runs_key(self.settings.redis_prefix, principal.user_id)

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
        project = self.projects.get(project_id, principal)
        commit = validate_request(
            self.repositories, project, depth_level=depth_level, target_framework=target_framework, branch=branch
        )
        spec = RunSpec(project_id, depth_level, target_framework, branch, commit_sha=commit)
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
        commit = validate_request(
            self.repositories, project, depth_level=depth, target_framework=framework, branch=branch
        )
        spec = RunSpec(
            project.id,
            depth,
            framework,
            branch,
            kind=RunKind.retry.value,
            retry_of=original.id,
            issue_number=original.issue_number,
            issue_title=original.issue_title,
            commit_sha=commit,
        )
        payload = {'retry_of': run_id, 'depth_level': depth, 'target_framework': framework, 'branch': branch}
        return self._admit(principal, project, spec, payload, key, correlation_id)

    # -- the core
    def _admit(
        self,
        principal: Principal,
        project: Project,
        spec: RunSpec,
        payload: dict[str, Any],
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
                raise bad_data() from exc
            if replay is not None:
                return Admitted(replay, True, key, self.quota(principal))
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self._admit_once(principal, project, spec, key, fp, correlation_id)
            except _Conflict:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise repository_changed() from None
            except StaleProject:
                self.projects.forget(project.id)
                project = self.projects.get(project.id, principal)
        raise AssertionError('unreachable')

    def _lookup_key(self, user_id: str, key: str, fp: str) -> RunPublic | None:
        """A committed key naming a run: the replay, or a mismatch. None when the key is free or expired."""
        with self.db.reading() as cursor:
            cursor.execute(self.writer.sql['SQL_KEY_AND_RUN'], {'u': user_id, 'k': key})
            row = cursor.fetchone()
        if key_verdict(self.db, row, fp) == 'replay':
            return run_from_key_row(row)
        return None

    def _admit_once(
        self, principal: Principal, project: Project, spec: RunSpec, key: str, fp: str, correlation_id: str | None
    ) -> Admitted:
        rl_key = self.rate_key(principal)
        quota = None
        run_id = ids.new_run_id()
        now = utcnow()
        sql = self.writer.sql
        try:
            with self.writer.write_lock, self.db.transaction() as cursor:
                self.writer.lock_repository(cursor, project.repository_key)
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
                    if key_verdict(self.db, row, fp) == 'replay':
                        return Admitted(run_from_key_row(row), True, key, self.limiter.peek(rl_key))
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
                run = self.writer.insert(
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
                raise bad_data() from exc
            raise
        self.writer.announce(run, project)
        return Admitted(run, False, key, quota)

    def stop(self, principal: Principal, run_id: str) -> RunPublic:
        return stop_run(self.engine, self.bus, principal, run_id)


def validate_request(
    repositories: RepositoryAccess, project: Project, *, depth_level: str, target_framework: str, branch: str
) -> str | None:
    """The request's choices against the project: allowed depth and framework, a usable repository, an
    existing branch. Returns the branch's commit, which the run will check out."""
    refusal = admission.validate_choice(depth_level, project.depth_levels, 'depth_level') or admission.validate_choice(
        target_framework, project.target_frameworks, 'target_framework'
    )
    if refusal:
        raise DomainError.from_refusal(refusal)
    unsupported = gitops.unsupported_reason(project.repository)
    if unsupported:
        raise DomainError(
            422, 'unsupported_repository', f'Runs cannot use this repository: {unsupported}.', field='repository'
        )
    commit = repositories.branch_commit(project, branch)
    refusal = admission.validate_run_request(
        depth_level=depth_level,
        target_framework=target_framework,
        branch=branch,
        allowed_depths=project.depth_levels,
        allowed_frameworks=project.target_frameworks,
        branch_exists=commit is not None,
    )
    if refusal:
        raise DomainError.from_refusal(refusal)
    return commit
