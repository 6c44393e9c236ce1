"""Forge webhooks: POST /api/hooks/{project_id} (GitHub, Gitea/Forgejo, GitLab push and pull_request deliveries,
verified with the project's hook secret, not a Runboard token), the hook secret itself (operators), and the
project's commit statuses (the delivery log of what was posted back). docs/triggers.md, "On push and pull
requests"."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep, correlation
from app.api.schemas import problems
from app.models.triggers import CommitStatusPublic, HookAccepted, HookSecretCreated
from app.services.triggers import push as push_triggers
from app.services.triggers.queries import list_commit_statuses

router = APIRouter(tags=['hooks'])


@router.post('/hooks/{project_id}', response_model=HookAccepted, responses=problems(401, 413, 422))
async def receive_hook(project_id: str, request: Request, services: ServicesDep) -> HookAccepted:
    """A forge's delivery. Authenticated by its signature alone (X-Hub-Signature-256, X-Gitea-Signature,
    X-Gitlab-Token) with the project's hook secret: a wrong or missing one is a 401 and changes nothing. A push
    or pull request the rules select fetches the mirror and is admitted at once (`admitted`, or `replayed` when
    this head already has its run); `no_match`, `ignored` (a tag, a deleted branch, a closed pull request, a
    ping), `skipped` (the head commit says `[skip ci]`) and `refused` (the branch busy: the next mirror fetch tries
    again) answer 200 too, so the forge does not retry them."""
    body = await request.body()
    trigger = services.push_trigger
    assert trigger is not None  # built with the services (container.py)
    return await run_in_threadpool(
        trigger.deliver,
        project_id,
        dict(request.headers),
        body,
        correlation_id=correlation(request),
    )


@router.post(
    '/projects/{project_id}/hook-secret',
    status_code=201,
    response_model=HookSecretCreated,
    responses=problems(401, 403, 404),
)
async def rotate_hook_secret(project_id: str, services: ServicesDep, principal: PrincipalDep) -> HookSecretCreated:
    """Operators: a new hook secret for the project, answered this once (the old one stops working at once)."""
    secret = await run_in_threadpool(
        push_triggers.set_hook_secret, services.engine, services.repositories.secrets, principal, project_id
    )
    services.admitter.forget_project(project_id)
    return HookSecretCreated(project_id=project_id, secret=secret, url=f'/api/hooks/{project_id}')


@router.get(
    '/projects/{project_id}/commit-statuses', response_model=list[CommitStatusPublic], responses=problems(401, 404)
)
async def commit_statuses(
    project_id: str, services: ServicesDep, principal: PrincipalDep, run: str | None = None
) -> list[CommitStatusPublic]:
    """The commit statuses posted (or being posted) to the forge for the project's runs, newest first."""
    return await run_in_threadpool(list_commit_statuses, services.engine, principal, project_id, run_id=run)
