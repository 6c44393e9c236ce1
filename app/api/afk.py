"""AFK endpoints: start by hand, auto on/off, Reset (JSON or a plain HTML form), parked issues, an AFK run's review,
the costs, and the loop's summary since a moment (under the project's path: project_router)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from app.api.deps import PrincipalDep, ServicesDep, correlation, get_principal
from app.api.schemas import problems
from app.container import Services
from app.core.errors import DomainError
from app.core.permissions import may_control_afk
from app.models import ProjectPublic, RunPublic, utcnow
from app.models.afk_summary import AfkSummary
from app.models.review import RunReview
from app.models.usage import ProjectCosts
from app.services.afk import costs, review, summary
from app.services.afk.actions import AfkActions
from app.services.identity import form_tokens
from app.services.projects import visibility

router = APIRouter(prefix='/afk', tags=['afk'])
project_router = APIRouter(prefix='/projects/{project_id}/afk', tags=['afk'])
FORM_TYPES = ('application/x-www-form-urlencoded', 'multipart/form-data')


class AutoSwitch(BaseModel):
    model_config = ConfigDict(extra='forbid')
    enabled: bool


class ParkedIssue(BaseModel):
    issue_number: int
    issue_title: str
    state: str
    run_id: str | None
    cause: str | None


class FormToken(BaseModel):
    csrf_token: str
    field: str = 'csrf_token'
    expires_in_seconds: int = form_tokens.TTL_SECONDS


def _loop(services: Services) -> AfkActions:
    if services.afk_actions is None:
        raise RuntimeError('the AFK loop is not installed')
    return services.afk_actions


@router.post('/start/{project_id}', status_code=201, response_model=RunPublic, responses=problems(401, 404, 409, 502))
async def start_afk_run(project_id: str, request: Request, services: ServicesDep, principal: PrincipalDep) -> RunPublic:
    """An AFK run on the project's next ready issue, now (also on a paused project, also with auto off)."""
    return await run_in_threadpool(
        _loop(services).start_by_hand, principal, project_id, correlation_id=correlation(request)
    )


@router.post('/auto/{project_id}', response_model=ProjectPublic, responses=problems(400, 401, 403, 404, 422))
async def switch_auto(
    project_id: str, body: AutoSwitch, services: ServicesDep, principal: PrincipalDep
) -> ProjectPublic:
    """Operators: auto AFK runs on or off. Does not clear a pause (only Reset or a success does)."""
    return await run_in_threadpool(_loop(services).set_auto, principal, project_id, body.enabled)


@router.post(
    '/reset/{project_id}',
    response_model=ProjectPublic,
    responses={303: {'description': 'HTML form post: back to the page it came from'}, **problems(401, 403, 404)},
)
async def reset_project(project_id: str, request: Request, services: ServicesDep) -> ProjectPublic | RedirectResponse:
    """Operators: zero the failure counter and sweep at once.

    API clients (Authorization: Bearer) get the project as JSON. A plain HTML form post
    (application/x-www-form-urlencoded, no JavaScript) must come from this server's own page
    (Origin/Referer) and carry the csrf_token field from POST /afk/form-token/{project}; it gets
    a 303 back to the page it came from.
    """
    if request.headers.get('authorization'):
        principal = await get_principal(request)
        return await run_in_threadpool(_loop(services).reset, principal, project_id)
    content_type = request.headers.get('content-type', '').split(';')[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise DomainError(
            401, 'unauthorized', 'Authorization: Bearer <token> is required.', headers={'WWW-Authenticate': 'Bearer'}
        )
    host = request.headers.get('host')
    referer = request.headers.get('referer')
    if not form_tokens.same_origin(origin=request.headers.get('origin'), referer=referer, host=host):
        raise DomainError(403, 'csrf', 'This form post did not come from a Runboard page on this server.')
    token = await _form_field(request, content_type, 'csrf_token')
    form_principal = await run_in_threadpool(form_tokens.verify, services.engine, token or '', project_id, 'reset')
    if form_principal is None:
        raise DomainError(
            403, 'csrf', 'The form token is missing, expired or not for this project; reload the page and try again.'
        )
    await run_in_threadpool(_loop(services).reset, form_principal, project_id)
    return RedirectResponse(form_tokens.redirect_target(referer, host), status_code=303)


async def _form_field(request: Request, content_type: str, name: str) -> str | None:
    if content_type == 'multipart/form-data':
        form = await request.form()
        value = form.get(name)
        return value if isinstance(value, str) else None
    body = (await request.body()).decode('utf-8', 'replace')
    values = parse_qs(body, keep_blank_values=True).get(name)
    return values[0] if values else None


@router.post('/form-token/{project_id}', response_model=FormToken, responses=problems(401, 403, 404))
async def form_token(project_id: str, request: Request, services: ServicesDep, principal: PrincipalDep) -> FormToken:
    """A CSRF token for the Reset form of one project, tied to the caller's API token (operators)."""

    def mint() -> str | None:
        if not may_control_afk(principal.role):
            raise DomainError(403, 'forbidden', 'only operators can reset a paused project')
        with Session(services.engine) as session:
            visibility.get_visible(session, project_id, principal)
        bearer = request.headers.get('authorization', '').partition(' ')[2].strip()
        return form_tokens.mint(services.engine, bearer, project_id, 'reset')

    token = await run_in_threadpool(mint)
    if token is None:
        raise DomainError(401, 'unauthorized', 'The token is not valid.')
    return FormToken(csrf_token=token)


@router.get('/parked/{project_id}', response_model=list[ParkedIssue], responses=problems(401, 404))
async def parked_issues(project_id: str, services: ServicesDep, principal: PrincipalDep) -> list[dict]:
    """Issues whose AFK run failed (or was stopped): not retried automatically until requeued."""
    return await run_in_threadpool(_loop(services).parked, principal, project_id)


@router.post('/parked/{project_id}/{number}/requeue', response_model=ParkedIssue, responses=problems(401, 404, 422))
async def requeue_parked(project_id: str, number: int, services: ServicesDep, principal: PrincipalDep) -> dict:
    """The issue becomes ready again; the next sweep may take it: a parked one, or one whose AFK run is done (or that
    was discarded) while the issue stays open (on a forge: the agent's pull request was closed unmerged)."""
    return await run_in_threadpool(_loop(services).leave_parked, principal, project_id, number, 'requeue')


@router.post('/parked/{project_id}/{number}/discard', response_model=ParkedIssue, responses=problems(401, 404, 422))
async def discard_parked(project_id: str, number: int, services: ServicesDep, principal: PrincipalDep) -> dict:
    """The parked issue leaves the AFK queue until a person requeues it."""
    return await run_in_threadpool(_loop(services).leave_parked, principal, project_id, number, 'discard')


@router.get('/runs/{run_id}/review', response_model=RunReview, responses=problems(401, 404, 409))
async def review_afk_run(run_id: str, services: ServicesDep, principal: PrincipalDep) -> RunReview:
    """An AFK run as its reviewer reads it: the issue, the pull request of `afk/<N>` with its checks, and the changes
    (the forge's API, else `git diff <base>...afk/<N>`); what could not be read is in `problems`."""
    return await run_in_threadpool(review.review_run, services.engine, services.repositories, principal, run_id)


@router.get('/costs/{project_id}', response_model=ProjectCosts, responses=problems(401, 404, 422))
async def afk_costs(
    project_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    days: Annotated[int, Query(ge=1, le=90)] = 14,
) -> ProjectCosts:
    """The project's AFK cost per UTC day and per issue, and today's against its cap (docs/afk.md, "Cost")."""
    return await run_in_threadpool(costs.project_costs, services.engine, principal, project_id, days=days, now=utcnow())


@project_router.get('/summary', response_model=AfkSummary, responses=problems(401, 404, 422))
async def afk_summary(
    project_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    since: Annotated[
        str | None, Query(max_length=64, description='12h, 90m, 2d, or an ISO 8601 time; default 24h')
    ] = None,
) -> AfkSummary:
    """What the AFK loop did since `since` (the last 24 hours by default): its runs per issue with their outcome and
    cost, the window's cost against the daily cap, when it paused or reached the cap, where it stands now, and the
    ready issues it has not tried (docs/afk.md, "The summary")."""
    return await run_in_threadpool(
        summary.loop_summary,
        services.engine,
        services.repositories,
        principal,
        project_id,
        since=since,
        now=utcnow(),
        global_run_cap=services.settings.global_run_cap,
    )
