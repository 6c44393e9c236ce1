"""Projects and their branches; operators may change them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import BranchPublic, QuotaPublic, RepositoryPublic, problems
from app.container import Services
from app.core.errors import DomainError
from app.models import Project, ProjectCreate, ProjectPublic, ProjectUpdate, RunCachesPublic
from app.services.afk import project_view as view
from app.services.artifacts import retention as artifact_retention
from app.services.execution import caches as run_caches
from app.services.execution.limits import project_limit_refusal
from app.services.identity.accounts import Principal
from app.services.projects import manage as projects
from app.services.projects import visibility
from app.services.repositories.access import is_remote
from app.services.repositories.branch_choices import branch_choices

router = APIRouter(tags=['projects'])


def noticed(project: ProjectPublic, services: Services) -> ProjectPublic:
    """The project with why its repository would be refused now (a server path in team mode, created before the
    rule or while RUNBOARD_ALLOW_LOCAL_REPOSITORIES was on): it keeps running, and its page says so."""
    reason = projects.local_repository_refusal(project.repository, services.repositories)
    return project.model_copy(update={'repository_notice': reason}) if reason else project


def sweep_clock(services: Services) -> view.SweepClock | None:
    """This server's AFK sweep, said on the projects whose loop is on (none without a loop)."""
    return services.afk.sweep_clock() if services.afk is not None else None


@router.get('/projects', response_model=list[ProjectPublic], responses=problems(401))
async def list_projects(services: ServicesDep, principal: PrincipalDep) -> list[ProjectPublic]:
    found = await run_in_threadpool(view.list_projects, services.engine, principal, sweep=sweep_clock(services))
    return [noticed(project, services) for project in found]


@router.get('/projects/{project_id}', response_model=ProjectPublic, responses=problems(401, 404))
async def get_project(project_id: str, services: ServicesDep, principal: PrincipalDep) -> ProjectPublic:
    found = await run_in_threadpool(
        view.get_project, services.engine, principal, project_id, sweep=sweep_clock(services)
    )
    return noticed(found, services)


@router.post('/projects', status_code=201, response_model=ProjectPublic, responses=problems(400, 401, 403, 409, 422))
async def create_project(body: ProjectCreate, services: ServicesDep, principal: PrincipalDep) -> ProjectPublic:
    """Operators. Team mode: a server path or file:// repository is 422 unsupported_repository unless
    RUNBOARD_ALLOW_LOCAL_REPOSITORIES=true (docs/security.md)."""
    _check_run_limits(body.run_memory_max, body.run_cpus, services)
    project_id = await run_in_threadpool(
        projects.create_project, services.engine, principal, body, services.repositories
    )
    project = await run_in_threadpool(
        view.get_project, services.engine, principal, project_id, sweep=sweep_clock(services)
    )
    services.bus.publish({'type': 'project', 'id': project.id, 'team_id': project.team_id})
    return project


@router.patch('/projects/{project_id}', response_model=ProjectPublic, responses=problems(400, 401, 403, 404, 409, 422))
async def update_project(
    project_id: str, body: ProjectUpdate, services: ServicesDep, principal: PrincipalDep
) -> ProjectPublic:
    """Operators: change the settings named; the others stay as they are. Send `edit_version`, the project's
    `edit_version` as you read it, and the edit is refused with 409 `edit_conflict` (its `current_version` the
    project's now; nothing saved) when someone else changed its settings since, instead of the last save winning
    silently; without it the edit applies to the project as it is now. Each edit that changes something moves
    `edit_version` on by one (one that changes nothing does not; nor do runs, the AFK loop or a cache clear)."""
    _check_run_limits(body.run_memory_max, body.run_cpus, services)
    await run_in_threadpool(
        projects.update_project, services.engine, principal, project_id, body, services.repositories
    )
    project = await run_in_threadpool(
        view.get_project, services.engine, principal, project_id, sweep=sweep_clock(services)
    )
    services.admitter.forget_project(project_id)
    if services.commit_statuses is not None:
        services.commit_statuses.forget(project_id)  # its forge or token may have changed
    if 'on_push' in body.model_fields_set and services.push_trigger is not None:
        # the heads the branches hold now are where the rules start: a push from now on runs
        await run_in_threadpool(services.push_trigger.baseline, project_id)
    services.bus.publish({'type': 'project', 'id': project.id, 'team_id': project.team_id})
    return noticed(project, services)


def _check_run_limits(memory: int | None, cpus: float | None, services: ServicesDep) -> None:
    """422 memory_limit_not_allowed, cpu_limit_not_allowed: a project's memory or CPU limit for its runs past what
    this deployment allows (docs/security.md)."""
    settings = services.settings
    deployment = int(settings.run_memory_max) if settings.run_memory_max else None
    allowed = int(settings.run_memory_max_allowed) if settings.run_memory_max_allowed else None
    if reason := project_limit_refusal('RUNBOARD_RUN_MEMORY_MAX', memory, deployment=deployment, allowed=allowed):
        raise DomainError(422, 'memory_limit_not_allowed', f'run_memory_max: {reason}', field='run_memory_max')
    allowed_cpus = settings.run_cpus_allowed
    if reason := project_limit_refusal('RUNBOARD_RUN_CPUS', cpus, deployment=settings.run_cpus, allowed=allowed_cpus):
        raise DomainError(422, 'cpu_limit_not_allowed', f'run_cpus: {reason}', field='run_cpus')


@router.delete('/projects/{project_id}', status_code=204, responses=problems(401, 403, 404, 409))
async def delete_project(project_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    files = await run_in_threadpool(artifact_retention.stored_files_of_project, services.engine, project_id)
    team_id = await run_in_threadpool(_team_of, services, project_id)
    await run_in_threadpool(projects.delete_project, services.engine, principal, project_id)
    services.admitter.forget_project(project_id)
    # every open dashboard drops its card (it re-reads and finds the project gone), on every server
    services.bus.publish({'type': 'project', 'id': project_id, 'team_id': team_id, 'deleted': True})
    # its runs' artifact rows went with them; their files leave the store now (docs/artifacts.md)
    await run_in_threadpool(artifact_retention.delete_files, services.artifact_store, files)
    await run_in_threadpool(run_caches.remove_tree, services.settings.caches_dir / project_id)  # and its caches
    return Response(status_code=204)


def _team_of(services: Services, project_id: str) -> str | None:
    with Session(services.engine) as session:
        project = session.get(Project, project_id)
        return project.team_id if project is not None else None


def _repository(services: Services, principal: Principal, project_id: str, *, refresh: bool) -> RepositoryPublic:
    with Session(services.engine) as session:
        project = visibility.get_visible(session, project_id, principal)
        session.expunge(project)
    if refresh and is_remote(project.repository):
        services.repositories.refresh(project, max_age=services.settings.mirror_refresh_min_seconds)
    elif refresh:  # a path: nothing to fetch, but its branches are read again (a commit made a moment ago)
        services.repositories.branches.forget(project.repository)
    state = services.repositories.state(project)
    fetched = datetime.fromtimestamp(state.fetched_at, UTC) if state.fetched_at else None
    return RepositoryPublic.model_validate({**dataclasses.asdict(state), 'fetched_at': fetched})


@router.get('/projects/{project_id}/repository', response_model=RepositoryPublic, responses=problems(401, 404))
async def repository_state(project_id: str, services: ServicesDep, principal: PrincipalDep) -> RepositoryPublic:
    """Where the branches come from: the path, or the remote's mirror with its last fetch and last error."""
    return await run_in_threadpool(_repository, services, principal, project_id, refresh=False)


@router.post(
    '/projects/{project_id}/repository/refresh', response_model=RepositoryPublic, responses=problems(401, 404, 502)
)
async def refresh_repository(project_id: str, services: ServicesDep, principal: PrincipalDep) -> RepositoryPublic:
    """Fetch a remote repository's mirror now (at most once per RUNBOARD_MIRROR_REFRESH_MIN_SECONDS: a fetch
    younger than that is answered as is), or read a path's branches again (they are remembered for 5 s).
    502 repository_unavailable with `reason` when the remote fails."""
    return await run_in_threadpool(_repository, services, principal, project_id, refresh=True)


def _branches(services: Services, principal: Principal, project_id: str, q: str, limit: int) -> list[BranchPublic]:
    return [
        BranchPublic(
            name=c.branch.name,
            commit=c.branch.commit,
            committed_at=c.branch.committed_at,
            subject=c.branch.subject,
            is_base=c.is_base,
            busy_run_id=c.busy_run_id,
        )
        for c in branch_choices(services.engine, services.repositories, principal, project_id, q, limit)
    ]


@router.get('/projects/{project_id}/branches', response_model=list[BranchPublic], responses=problems(401, 404, 502))
async def list_branches(
    project_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(max_length=250, description='Part of a branch name')] = '',
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
) -> list[BranchPublic]:
    """The branches whose name contains `q`: the base branch first, then the newest commits, at most `limit`.
    A repository's listing is served from memory and re-read in the background, so it never stalls."""
    return await run_in_threadpool(_branches, services, principal, project_id, q, limit)


def _caches(services: Services, principal: Principal, project_id: str, *, clear: bool) -> RunCachesPublic:
    settings = services.settings
    return run_caches.caches_of(
        services.engine,
        principal,
        project_id,
        settings.caches_dir,
        settings.executor,
        heartbeat_seconds=settings.heartbeat_seconds,
        clear=clear,
    )


@router.get('/projects/{project_id}/caches', response_model=RunCachesPublic, responses=problems(401, 404))
async def project_caches(project_id: str, services: ServicesDep, principal: PrincipalDep) -> RunCachesPublic:
    """The project's run caches ($RUNBOARD_CACHE_DIR, docs/pipelines.md): their generation, when last cleared, and
    the bytes of each on this server's machine when it runs the runs itself, else on each live Celery worker's."""
    return await run_in_threadpool(_caches, services, principal, project_id, clear=False)


@router.post('/projects/{project_id}/caches/clear', response_model=RunCachesPublic, responses=problems(401, 404))
async def clear_project_caches(project_id: str, services: ServicesDep, principal: PrincipalDep) -> RunCachesPublic:
    """Every machine's next run of the project starts with empty caches (runs under way keep theirs to the end)."""
    return await run_in_threadpool(_caches, services, principal, project_id, clear=True)


@router.get('/quota/runs', response_model=QuotaPublic, responses=problems(401), tags=['quota'])
async def run_quota(services: ServicesDep, principal: PrincipalDep) -> QuotaPublic:
    quota = await run_in_threadpool(services.admitter.quota, principal)
    resets = datetime.now(UTC).timestamp() + quota.reset_after
    return QuotaPublic(
        limit=quota.limit,
        remaining=quota.remaining,
        window_seconds=quota.window_seconds,
        resets_at=datetime.fromtimestamp(resets, UTC).isoformat(),
        retry_after_seconds=quota.retry_after_seconds,
    )
