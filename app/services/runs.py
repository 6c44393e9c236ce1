"""Admit, create, retry, stop and read runs.

Admission order: validation -> idempotency lookup -> rate limit -> concurrency -> PR lock -> create.
The database decides the races: the idempotency key row, the PR-lock index and the slot index are
unique, so two requests (or two servers) can never both win.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import Connection, Engine, and_, delete, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db import session_scope
from app.models import (ACTIVE_STATUSES, RETRYABLE_STATUSES, IdempotencyKey, Project, Run, RunDetail, RunEvent,
                        RunEventPublic, RunKind, RunPublic, RunStatus, User, utcnow)
from app.services import admission, ids, projects
from app.services.accounts import Principal
from app.services.errors import DomainError, not_found
from app.services.reaper import finish_run
from app.services.timeline import append_events

IN_FLIGHT_WAIT_SECONDS = 3.0
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


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


# ------------------------------------------------------------------ reads
def public(run: Run, user_name: str | None = None) -> RunPublic:
    return RunPublic.model_validate({**run.model_dump(), 'user_name': user_name})


def _load_visible_run(session: Session, run_id: str, principal: Principal) -> tuple[Run, Project]:
    run = session.get(Run, run_id)
    project = session.get(Project, run.project_id) if run else None
    if run is None or not projects.visible(project, principal):
        raise not_found(f'run {run_id!r}')
    return run, project


def get_run(engine: Engine, principal: Principal, run_id: str, *, with_events: bool = True,
            events_limit: int = 2000) -> RunDetail:
    with Session(engine) as session:
        run, _ = _load_visible_run(session, run_id, principal)
        user = session.get(User, run.user_id) if run.user_id else None
        detail = RunDetail.model_validate({**public(run, user.name if user else None).model_dump()})
        if with_events:
            detail.events = _events(session, run_id, after=0, limit=events_limit, tail=True)
        return detail


def _events(session: Session, run_id: str, *, after: int, limit: int, tail: bool = False) -> list[RunEventPublic]:
    query = select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.seq > after)
    if tail:
        rows = session.exec(query.order_by(RunEvent.seq.desc()).limit(limit)).all()
        rows = list(reversed(rows))
    else:
        rows = session.exec(query.order_by(RunEvent.seq).limit(limit)).all()
    return [RunEventPublic.model_validate(r[0].model_dump()) for r in rows]


def list_events(engine: Engine, principal: Principal, run_id: str, *, after: int = 0,
                limit: int = 1000) -> list[RunEventPublic]:
    with Session(engine) as session:
        _load_visible_run(session, run_id, principal)
        return _events(session, run_id, after=after, limit=limit)


def list_runs(engine: Engine, principal: Principal, *, project: str | None = None, status: list[str] | None = None,
              kind: str | None = None, branch: str | None = None, user: str | None = None,
              cursor: str | None = None, limit: int = 50) -> tuple[list[RunPublic], str | None]:
    """Newest first; the cursor is the last id seen (ids sort by creation)."""
    with Session(engine) as session:
        query = (select(Run, User.name).join(Project, Project.id == Run.project_id)
                 .outerjoin(User, User.id == Run.user_id)
                 .where(Project.team_id.in_(principal.team_ids)))
        if project:
            query = query.where(Run.project_id == project)
        if status:
            query = query.where(Run.status.in_(status))
        if kind:
            query = query.where(Run.kind == kind)
        if branch:
            query = query.where(Run.branch_name == branch)
        if user:
            query = query.where(or_(Run.user_id == user, User.name == user))
        if cursor:
            query = query.where(Run.id < cursor)
        rows = session.exec(query.order_by(Run.id.desc()).limit(limit + 1)).all()
        items = [public(r, name) for r, name in rows[:limit]]
        next_cursor = items[-1].id if len(rows) > limit else None
        return items, next_cursor


# ------------------------------------------------------------------ admission
class RunAdmitter:
    """Creates runs under every rule; shared by the API (manual, retry) and the AFK loop (auto)."""

    def __init__(self, *, engine: Engine, settings, limiter, branches, bus) -> None:  # noqa: ANN001
        self.engine, self.settings, self.limiter, self.branches, self.bus = engine, settings, limiter, branches, bus

    def quota(self, principal: Principal):  # noqa: ANN201
        from app.services.ratelimit import user_runs_key
        return self.limiter.peek(user_runs_key(self.settings.redis_prefix, principal.user_id))

    # -- entry points
    def trigger(self, principal: Principal, *, project_id: str, depth_level: str, target_framework: str,
                branch: str, key: str | None, correlation_id: str | None) -> Admitted:
        with Session(self.engine) as session:
            project = projects.get_visible(session, project_id, principal)
        self._validate(project, depth_level=depth_level, target_framework=target_framework, branch=branch)
        spec = RunSpec(project_id, depth_level, target_framework, branch)
        payload = {'project_id': project_id, 'depth_level': depth_level, 'target_framework': target_framework,
                   'branch': branch}
        return self._admit(principal, project, spec, payload, key, correlation_id)

    def retry(self, principal: Principal, *, run_id: str, overrides: dict[str, str | None], key: str | None,
              correlation_id: str | None) -> Admitted:
        with Session(self.engine) as session:
            original, project = _load_visible_run(session, run_id, principal)
        refusal = admission.retry_verdict(original.status, RETRYABLE_STATUSES)
        if refusal:
            raise DomainError.from_refusal(refusal)
        branch = overrides.get('branch') or original.branch_name
        depth = overrides.get('depth_level') or original.depth_level
        framework = overrides.get('target_framework') or original.target_framework
        self._validate(project, depth_level=depth, target_framework=framework, branch=branch)
        spec = RunSpec(project.id, depth, framework, branch, kind=RunKind.retry.value, retry_of=original.id,
                       issue_number=original.issue_number, issue_title=original.issue_title)
        payload = {'retry_of': run_id, 'depth_level': depth, 'target_framework': framework, 'branch': branch}
        return self._admit(principal, project, spec, payload, key, correlation_id)

    def _validate(self, project: Project, *, depth_level: str, target_framework: str, branch: str) -> None:
        try:
            exists = self.branches.exists(project.repository, branch)
        except Exception:  # noqa: BLE001 - an unreachable repository is the client's problem to see
            exists = False
        refusal = admission.validate_run_request(
            depth_level=depth_level, target_framework=target_framework, branch=branch,
            allowed_depths=project.depth_levels, allowed_frameworks=project.target_frameworks, branch_exists=exists)
        if refusal:
            raise DomainError.from_refusal(refusal)

    # -- the core
    def _admit(self, principal: Principal, project: Project, spec: RunSpec, payload: dict, key: str | None,
               correlation_id: str | None) -> Admitted:
        from app.services.ratelimit import user_runs_key
        key = key or str(uuid.uuid4())
        fp = admission.fingerprint(payload)
        replay = self._reserve_key(principal.user_id, key, fp)
        if replay is not None:
            return Admitted(replay, True, key)
        rl_key = user_runs_key(self.settings.redis_prefix, principal.user_id)
        quota = None
        try:
            quota = self.limiter.acquire(rl_key, key)
            if not quota.allowed:
                retry = quota.retry_after_seconds
                raise DomainError(429, 'rate_limited',
                                  f'Run limit reached: {quota.limit} runs per {quota.window_seconds} s. '
                                  f'Retry in {retry} s.', retry_after_seconds=retry,
                                  headers=_rate_headers(quota) | {'Retry-After': str(retry)})
            run = self._create(principal, project, spec, key=key, fingerprint=fp, correlation_id=correlation_id)
        except BaseException as exc:
            if quota is not None and quota.allowed:
                self.limiter.release(rl_key, key)
            self._release_key(principal.user_id, key)
            if isinstance(exc, DomainError) and exc.status == 409 and quota is not None:
                exc.headers.update(_rate_headers(self.limiter.peek(rl_key)))
            raise
        self.bus.publish({'type': 'run', 'id': run.id, 'project_id': run.project_id, 'team_id': project.team_id,
                          'status': run.status})
        self.bus.publish({'type': 'queue'})
        return Admitted(run, False, key, quota)

    def _reserve_key(self, user_id: str, key: str, fp: str) -> RunPublic | None:
        """Claim the key for this request, or return the run it already names (a replay)."""
        deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
        while True:
            now = utcnow()
            with Session(self.engine) as session:
                row = session.get(IdempotencyKey, (user_id, key))
                verdict = admission.idempotency_verdict(
                    stored_fingerprint=row.fingerprint if row else None, stored_run_id=row.run_id if row else None,
                    expires_at=_aware(row.expires_at) if row else None, fingerprint_now=fp, now=now)
                if verdict == 'replay':
                    run = session.get(Run, row.run_id)
                    user = session.get(User, run.user_id) if run.user_id else None
                    return public(run, user.name if user else None)
            if verdict == 'mismatch':
                raise DomainError(422, 'idempotency_key_mismatch',
                                  'This Idempotency-Key was already used with a different request body.')
            if verdict == 'in_flight':
                if time.monotonic() >= deadline:
                    raise DomainError(409, 'idempotency_in_flight',
                                      'A request with this Idempotency-Key is still being processed; retry shortly.',
                                      headers={'Retry-After': '1'})
                time.sleep(0.02)
                continue
            try:
                with session_scope(self.engine) as session:
                    if row is not None:  # expired: the key is free again
                        session.exec(delete(IdempotencyKey).where(
                            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key,
                            IdempotencyKey.expires_at <= now))
                    session.add(IdempotencyKey(user_id=user_id, key=key, fingerprint=fp, expires_at=now + timedelta(
                        seconds=self.settings.idempotency_ttl_seconds)))
                return None
            except IntegrityError:
                continue  # someone else holds it: look again

    def _release_key(self, user_id: str, key: str) -> None:
        with session_scope(self.engine) as session:
            session.exec(delete(IdempotencyKey).where(and_(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, IdempotencyKey.run_id.is_(None))))

    def _create(self, principal: Principal | None, project: Project, spec: RunSpec, *, key: str | None,
                fingerprint: str | None, correlation_id: str | None, bypass_concurrency: bool = False,
                before_insert: Callable[[Connection], None] | None = None,
                after_insert: Callable[[Connection, Run], None] | None = None) -> RunPublic:
        """before_insert / after_insert run inside the creating transaction (the AFK loop checks its
        gates and claims the issue there, so a refusal or a lost race leaves nothing behind)."""
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self._try_create(principal, project, spec, key=key, fingerprint=fingerprint,
                                        correlation_id=correlation_id, bypass_concurrency=bypass_concurrency,
                                        before_insert=before_insert, after_insert=after_insert)
            except IntegrityError:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise DomainError(409, 'concurrency_limit', 'The repository changed under this request; retry.',
                                      headers={'Retry-After': '1'})
                continue  # another request took the slot or the branch: decide again with fresh facts
        raise AssertionError('unreachable')

    def _try_create(self, principal: Principal | None, project: Project, spec: RunSpec, *, key: str | None,
                    fingerprint: str | None, correlation_id: str | None, bypass_concurrency: bool,
                    before_insert: Callable[[Connection], None] | None = None,
                    after_insert: Callable[[Connection, Run], None] | None = None) -> RunPublic:
        now = utcnow()
        with session_scope(self.engine) as session:
            conn = session.connection()
            if before_insert is not None:
                before_insert(conn)
            rows = conn.execute(text(
                "SELECT id, branch_name, slot FROM run WHERE repository_key = :repo "
                "AND status IN ('queued', 'running')"), {'repo': project.repository_key}).all()
            active = [admission.ActiveRun(r[0], r[1], r[2]) for r in rows]
            limit = _shared_limit(conn, project)
            refusal = admission.repository_verdict(active=active, max_concurrent=limit, branch=spec.branch_name,
                                                   bypass_concurrency=bypass_concurrency)
            if refusal:
                raise DomainError.from_refusal(refusal)
            slot = None if bypass_concurrency else admission.free_slot({r.slot for r in active if r.slot is not None},
                                                                       limit)
            run = Run(id=ids.new_run_id(), project_id=project.id, repository_key=project.repository_key,
                      kind=spec.kind, status=RunStatus.queued.value, depth_level=spec.depth_level,
                      target_framework=spec.target_framework, branch_name=spec.branch_name,
                      checkout_ref=spec.checkout_ref or spec.branch_name,
                      user_id=principal.user_id if principal else None, idempotency_key=key,
                      payload_fingerprint=fingerprint, retry_of=spec.retry_of, issue_number=spec.issue_number,
                      issue_title=spec.issue_title, slot=slot, created_at=now,
                      budget_seconds=project.run_budget_seconds or self.settings.run_budget_seconds,
                      correlation_id=correlation_id)
            session.add(run)
            session.flush()
            if after_insert is not None:
                after_insert(conn, run)
            if key and principal:
                conn.execute(text('UPDATE idempotencykey SET run_id = :run WHERE user_id = :u AND key = :k'),
                             {'run': run.id, 'u': principal.user_id, 'k': key})
            append_events(conn, run.id, [('status', 'queued' + (f' (retry of {spec.retry_of})' if spec.retry_of
                                                                 else ''))], now=now)
            name = principal.name if principal else None
            return public(run, name)

    # -- stop
    def stop(self, principal: Principal, run_id: str) -> RunPublic:
        with session_scope(self.engine) as session:
            run, project = _load_visible_run(session, run_id, principal)
            if run.status not in ACTIVE_STATUSES:
                raise DomainError(409, 'run_ended', f'Run {run_id} already ended ({run.status}).')
            conn = session.connection()
            conn.execute(text('UPDATE run SET stop_requested_at = :now, stop_requested_by = :u '
                              'WHERE id = :id AND stop_requested_at IS NULL'),
                         {'now': utcnow(), 'u': principal.user_id, 'id': run_id})
            append_events(conn, run_id, [('status', f'stop requested by {principal.name}')])
            was_queued = run.status == RunStatus.queued.value
            team_id = project.team_id
        if was_queued:
            finish_run(self.engine, run_id=run_id, status=RunStatus.stopped, message=f'stopped by {principal.name}')
        self.bus.publish({'type': 'run.stop', 'id': run_id, 'project_id': run.project_id, 'team_id': team_id})
        self.bus.publish({'type': 'run', 'id': run_id, 'project_id': run.project_id, 'team_id': team_id,
                          'status': 'stopping'})
        return get_run(self.engine, principal, run_id, with_events=False)


def _shared_limit(conn, project: Project) -> int:  # noqa: ANN001
    """Projects sharing a repository share one limit: the smallest any of them allows."""
    value = conn.execute(text('SELECT min(max_concurrent_runs) FROM project WHERE repository_key = :repo'),
                         {'repo': project.repository_key}).scalar()
    return int(value or project.max_concurrent_runs)


def _rate_headers(quota) -> dict[str, str]:  # noqa: ANN001
    reset = max(0, int(round(quota.reset_after)))
    return {'RateLimit-Policy': f'"runs";q={quota.limit};w={quota.window_seconds}',
            'RateLimit': f'"runs";r={quota.remaining};t={reset}'}


rate_headers = _rate_headers
