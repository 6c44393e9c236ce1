"""Project issues: the local backlog (add, edit, close) or the forge's ready issues (read only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.container import Services
from app.core.errors import DomainError
from app.models import Project
from app.services.afk import issues
from app.services.execution import stop as run_stop

router = APIRouter(prefix='/projects/{project_id}/issues', tags=['issues'])
Number = Annotated[int, Path(ge=1, le=2_000_000_000)]


def _changed(services: Services, project_id: str, issue: issues.IssuePublic) -> None:

    with Session(services.engine) as session:
        project = session.get(Project, project_id)
    if project is not None:
        services.bus.publish(
            {'type': 'project', 'id': project_id, 'project_id': project_id, 'team_id': project.team_id}
        )
    if issue.ready and services.afk is not None:
        services.afk.kick()


@router.get('', response_model=list[issues.IssuePublic], responses=problems(401, 404, 502))
async def list_issues(project_id: str, services: ServicesDep, principal: PrincipalDep) -> list[issues.IssuePublic]:
    """Every local issue (open and closed), or a forge project's open issues labelled ready-for-agent."""
    return await run_in_threadpool(issues.list_project_issues, services.engine, principal, project_id)


@router.post('', status_code=201, response_model=issues.IssuePublic, responses=problems(400, 401, 404, 409, 422, 507))
async def create_issue(
    project_id: str, body: issues.IssueCreate, services: ServicesDep, principal: PrincipalDep
) -> issues.IssuePublic:
    """Add an issue to the local backlog; label it ready-for-agent for the AFK loop."""
    issue = await run_in_threadpool(issues.create_issue, services.engine, principal, project_id, body)
    await run_in_threadpool(_changed, services, project_id, issue)
    return issue


@router.patch('/{number}', response_model=issues.IssuePublic, responses=problems(400, 401, 404, 409, 422, 507))
async def update_issue(
    project_id: str, number: Number, body: issues.IssueUpdate, services: ServicesDep, principal: PrincipalDep
) -> issues.IssuePublic:
    """Edit or close/reopen a local issue. Reopening makes a done or discarded issue work again; closing it, or taking
    its ready-for-agent label off, stops the AFK run working on it (its claim is released, not parked)."""
    updated = await run_in_threadpool(issues.update_issue, services.engine, principal, project_id, number, body)
    if updated.withdrawn_run_id is not None:
        try:
            await run_in_threadpool(
                run_stop.stop_run,
                services.engine,
                services.bus,
                principal,
                updated.withdrawn_run_id,
                reason=updated.withdrawn_because,
            )
            services.runner.request_stop(updated.withdrawn_run_id)
        except DomainError:  # it ended meanwhile
            pass
    await run_in_threadpool(_changed, services, project_id, updated.issue)
    return updated.issue
