"""Admit and retry runs: the request checked against its project (`validate_request`), then the admission
policy (services/runs/admission.py: the steps, in order) in one write transaction whose questions
services/runs/writer.py answers on the database. Reads: reads.py; stop: stop.py; a matrix batch's children:
batches.py. The database decides the races: the idempotency key row, the PR-lock index and the slot index are
unique, so two requests (or two servers) can never both win.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError
from sqlmodel import Session

from app.config import Settings
from app.core.errors import DomainError
from app.core.globs import protected_branch
from app.infra.db import one_statement, read_only
from app.infra.events import EventBus
from app.models import ACTIVE_SQL, RETRYABLE_STATUSES, Project, Role, Run, RunKind, RunPublic, User, utcnow
from app.services.identity.accounts import Principal
from app.services.projects.cache import ProjectCache
from app.services.repositories import gitops
from app.services.repositories.access import RepositoryAccess
from app.services.runs import admission, approvals
from app.services.runs.admission import Conflict, StaleProject
from app.services.runs.ports import Quota, RateLimiter
from app.services.runs.ratelimit import user_runs_key
from app.services.runs.reads import load_visible_run, run_variables
from app.services.runs.timing import Timing, past_refusal, resolve_timing
from app.services.runs.writer import (
    CREATE_ATTEMPTS,
    Request,
    RunSpec,
    RunWriter,
    bad_data,
    lost_race,
    repository_changed,
    stored_key,
)

__all__ = ['Admitted', 'RunAdmitter', 'RunSpec']


@dataclass
class Admitted:
    run: RunPublic
    replayed: bool
    idempotency_key: str
    quota: Quota | None = None  # of the admitting request


def with_approval(spec: RunSpec, project: Project, principal: Principal) -> RunSpec:
    """The spec as written: waiting for an operator's approval when the project's rules ask one of this person on
    this branch. Every way a run is admitted goes through it (a trigger, a retry, a matrix batch's children)."""
    if approvals.needs_approval(
        project=project, kind=spec.kind, branch=spec.branch_name, is_operator=principal.is_operator
    ):
        return dataclasses.replace(spec, awaiting_approval=True)
    return spec


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
        self.key_reader = one_statement(engine)  # a replay's read, outside the write lock
        self.writer = RunWriter(engine=engine, settings=settings, bus=bus)
        self.projects = ProjectCache(self.reader)
        # the AFK loop's retry of an AFK run (services/afk/actions.py), registered at start: runs/ knows no AFK
        self.retry_afk_run: Callable[[Principal, Run, Project, str | None], RunPublic] | None = None

    async def aclose(self) -> None:
        await self.limiter.aclose()

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
        key: str | None,
        correlation_id: str | None,
        **choices: Any,
    ) -> Admitted:
        """choices: plan_trigger's."""
        plan = self.plan_trigger(principal, **choices)
        return self._admit(principal, plan.project, plan.spec, plan.payload, key, correlation_id, plan.refusal)

    def plan_trigger(self, principal: Principal, **choices: Any) -> TriggerPlan:
        return plan_trigger(self.projects, self.repositories, principal, **choices)

    def retry(
        self,
        principal: Principal,
        *,
        run_id: str,
        overrides: dict[str, str | None],
        key: str | None,
        correlation_id: str | None,
        automatic: bool = False,
    ) -> Admitted:
        """`automatic`: the project's auto-retry rule retries it (auto_retry.py) as the run's person, and its audit
        entry says so."""
        with Session(self.reader) as session:
            original, project = load_visible_run(session, run_id, principal)
            variables = run_variables(session.connection(), run_id)  # a retry runs with the original's
            person = session.get(User, original.user_id) if variables and original.user_id else None
            session.expunge_all()
        refusal = admission.retry_verdict(original.status, RETRYABLE_STATUSES)
        if refusal:
            raise DomainError.from_refusal(refusal)
        if original.kind == RunKind.auto.value and self.retry_afk_run is not None:
            was = {'branch': original.branch_name, 'depth_level': original.depth_level}
            was['target_framework'] = original.target_framework
            moved = next((name for name, value in overrides.items() if value and value != was.get(name)), None)
            if moved:
                raise DomainError(
                    422, 'validation', f'An AFK run is retried on its issue as it was: {moved} cannot be changed.'
                )
            run = self.retry_afk_run(principal, original, project, correlation_id)
            return Admitted(run, replayed=False, idempotency_key=key or str(uuid.uuid4()))
        branch = overrides.get('branch') or original.branch_name
        depth = overrides.get('depth_level') or original.depth_level
        framework = overrides.get('target_framework') or original.target_framework
        payload = {'retry_of': run_id, 'depth_level': depth, 'target_framework': framework, 'branch': branch}
        if key is not None:  # a resend replays before any check: its own retry now holds the cell, say
            replayed = self._replay(principal, key, admission.fingerprint(payload))
            if replayed is not None:
                return replayed
        if variables and not (person is not None and person.role == Role.operator.value):
            # a builder's variables were admitted where the branch was not protected (another branch, or this one
            # before it was): on a protected branch they are as a trigger's own there, an operator's to set (a
            # builder's BASH_ENV must not reach its protected variables and secrets)
            check_own_variables(project, principal, branch)
        # as GitHub's re-run, on its own branch the commit it ran (its status is that commit's)
        pinned = original.commit_sha if branch == original.branch_name else None
        commit = validate_request(
            self.repositories, project, depth_level=depth, target_framework=framework, branch=branch, pinned=pinned
        )
        cell = (original.branch_name, original.depth_level, original.target_framework)
        same_cell = (branch, depth, framework) == cell
        if original.batch_id and same_cell:
            self._refuse_a_busy_cell(original.batch_id, depth, framework)
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
            # a matrix child's retry takes its place in the batch (GitHub's "re-run failed jobs"); moved elsewhere, it
            # is a run of its own
            batch_id=original.batch_id if same_cell else None,
            variables=tuple(variables.items()),
            automatic=automatic,
        )
        return self._admit(principal, project, spec, payload, key, correlation_id)

    def _replay(self, principal: Principal, key: str, fp: str) -> Admitted | None:
        """The run a sent key already names (None: the key is free); a key used with another body is refused."""
        try:
            with self.key_reader.connect() as conn:
                replay = admission.replay_of(stored_key(conn, principal.user_id, key), fp, utcnow())
        except DataError as exc:
            raise bad_data() from exc
        return None if replay is None else Admitted(replay, True, key, self.quota(principal))

    def _refuse_a_busy_cell(self, batch_id: str, depth_level: str, target_framework: str) -> None:
        """A batch's cell runs one attempt at a time: a retry while another retry of it is queued or running is
        refused naming that run (the database's uq_run_batch_cell_active refuses it too, less clearly: then this
        is asked again)."""
        with self.key_reader.connect() as conn:
            busy = conn.execute(
                text(
                    'SELECT id, status FROM run WHERE batch_id = :b AND depth_level = :d AND target_framework = :f '
                    f'AND {ACTIVE_SQL} LIMIT 1'
                ),
                {'b': batch_id, 'd': depth_level, 'f': target_framework},
            ).first()
        if busy is not None:
            raise DomainError(
                409,
                'batch_cell_busy',
                f'Run {busy[0]} of this cell of batch {batch_id} is {busy[1]}; retry once it has ended.',
                blocking_run_id=busy[0],
            )

    # -- the core
    def _admit(
        self,
        principal: Principal,
        project: Project,
        spec: RunSpec,
        payload: dict[str, Any],
        key: str | None,
        correlation_id: str | None,
        refusal: admission.Refusal | None = None,
    ) -> Admitted:
        minted = key is None
        key = key or str(uuid.uuid4())
        fp = admission.fingerprint(payload)
        spec = with_approval(spec, project, principal)
        # SQLite: a replay is read outside the write lock (which is the whole database's). PostgreSQL's admission
        # claims the key before it locks the repository, so a replay waits for nothing there and needs no read
        # first, except to replay a request that is now refused (a delayed trigger resent after its time).
        if not minted and (self.writer.sqlite or refusal is not None):
            try:
                with self.key_reader.connect() as conn:
                    replay = admission.replay_of(stored_key(conn, principal.user_id, key), fp, utcnow())
            except DataError as exc:
                raise bad_data() from exc
            if replay is not None:
                return Admitted(replay, True, key, self.quota(principal))
        if refusal is not None:
            raise DomainError.from_refusal(refusal)
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self._admit_once(Request(principal, project, spec, key, fp, correlation_id))
            except Conflict:
                if spec.retry_of and spec.batch_id:  # another request's retry of this cell may have won the race
                    self._refuse_a_busy_cell(spec.batch_id, spec.depth_level, spec.target_framework)
                if attempt == CREATE_ATTEMPTS - 1:
                    raise repository_changed() from None
            except StaleProject:
                self.projects.forget(project.id)
                project = self.projects.get(project.id, principal)
        raise AssertionError('unreachable')

    admit_spec = _admit  # the core for a spec built by the caller: a matrix batch's child (services/runs/batches.py)

    def _admit_once(self, request: Request) -> Admitted:
        """The admission policy in one write transaction; refused, it leaves nothing (its quota given back)."""
        taken: list[str] = []  # the quota entries this admission took
        try:
            with self.writer.transaction() as conn:
                admitted = self.admit_in(conn, request, taken)
        except BaseException as exc:
            self.give_back(request.principal, taken)
            if lost_race(exc):
                raise Conflict() from exc
            if isinstance(exc, DataError):
                raise bad_data() from exc
            raise
        if not admitted.replayed:
            self.writer.announce(admitted.run, request.project)
        return admitted

    def admit_in(self, conn: Connection, request: Request, taken: list[str]) -> Admitted:
        """The policy for one request in the caller's write transaction (also a matrix batch's all-or-nothing
        pass: every child in one); the quota entries it takes are added to `taken`."""
        tx = self.writer.keyed(conn, request, self.limiter, self.rate_key(request.principal), taken)
        decided = admission.admit(tx, tx.ask, tx.now)
        return Admitted(decided.run, decided.replayed, request.key, decided.quota)

    def give_back(self, principal: Principal, taken: list[str]) -> None:
        for member in taken:
            self.limiter.release(self.rate_key(principal), member)


@dataclass(frozen=True)
class TriggerPlan:
    project: Project
    spec: RunSpec
    payload: dict[str, Any]  # what the idempotency fingerprint covers
    refusal: admission.Refusal | None  # refused, unless it replays an earlier request


def plan_trigger(
    projects: ProjectCache,
    repositories: RepositoryAccess,
    principal: Principal,
    *,
    project_id: str,
    depth_level: str,
    target_framework: str,
    branch: str,
    run_at: str | None = None,
    run_in: str | None = None,
    ttl: str | int | None = None,
    kind: str = RunKind.manual.value,
    variables: dict[str, str] | None = None,
) -> TriggerPlan:
    """The trigger's request checked against its project (refusals raise) and the run it asks for. run_at /
    run_in: a delayed run (services/scheduling/delayed_runs.py admits it when due); ttl: how long it may wait queued
    (services/scheduling/queue_ttl.py). kind: `scheduled` for a schedule's firing. variables: the run's own, over
    the project's of the same names."""
    timing = timing_of(run_at=run_at, run_in=run_in, ttl=ttl)
    if variables and (refused := admission.validate_variables(variables)):
        raise DomainError.from_refusal(refused)
    project = projects.get(project_id, principal)
    if variables:
        check_own_variables(project, principal, branch)
    commit = validate_request(
        repositories, project, depth_level=depth_level, target_framework=target_framework, branch=branch
    )
    spec = RunSpec(
        project_id,
        depth_level,
        target_framework,
        branch,
        kind=kind,
        commit_sha=None if timing.run_at else commit,  # a delayed run checks out the branch as it is when due
        run_at=timing.run_at,
        ttl_seconds=timing.ttl_seconds,
        variables=tuple(sorted((variables or {}).items())),
    )
    payload = {
        'project_id': project_id,
        'depth_level': depth_level,
        'target_framework': target_framework,
        'branch': branch,
        **timing.payload(run_at, run_in, ttl),
        **({'variables': dict(sorted(variables.items()))} if variables else {}),  # a key's request as it was
    }
    refusal = past_refusal(timing, utcnow())  # a resend of a delayed trigger after its time still replays
    return TriggerPlan(project, spec, payload, refusal)


def check_own_variables(project: Project, principal: Principal, branch: str) -> None:
    protected = protected_branch(branch, base_branch=project.base_branch, patterns=project.protected_branches)
    refused = admission.own_variables_refusal(branch=branch, protected=protected, is_operator=principal.is_operator)
    if refused:
        raise DomainError.from_refusal(refused)


def timing_of(*, run_at: str | None, run_in: str | None, ttl: str | int | None) -> Timing:
    if run_at is None and run_in is None and ttl is None:
        return Timing()
    timing = resolve_timing(run_at=run_at, run_in=run_in, ttl=ttl, now=utcnow())
    if isinstance(timing, admission.Refusal):
        raise DomainError.from_refusal(timing)
    return timing


def validate_request(
    repositories: RepositoryAccess,
    project: Project,
    *,
    depth_level: str,
    target_framework: str,
    branch: str,
    pinned: str | None = None,
) -> str | None:
    """The request's choices against the project: allowed depth and framework, a usable repository, an
    existing branch. Returns the commit the run will check out: `pinned` when the run already has one (a retry's
    original's, a push's, an approved run's), else the branch's head, a remote's fetched first."""
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
    if pinned is None:
        repositories.freshen(project)  # a remote: what it holds now, not at the last mirror fetch
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
    return pinned or commit
