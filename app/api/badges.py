"""README badges (docs/triggers.md, "Badges"): a branch's last verdict and coverage as shields-style SVG pictures
(drawn by anybadge) at addresses that carry the project's badge key instead of a token, since a forge's image proxy
sends none; and the key itself: read by the project's team, made or removed by operators."""

from __future__ import annotations

from typing import Annotated

import anybadge
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.models import ProjectBadges
from app.services.projects import badges

router = APIRouter(tags=['badges'])

BranchQuery = Annotated[str | None, Query(max_length=250, description="A branch; the project's base branch if none.")]
DepthQuery = Annotated[str | None, Query(max_length=100, description='Only runs at this depth level.')]
FrameworkQuery = Annotated[str | None, Query(max_length=100, description='Only runs for this target framework.')]


def _answer(request: Request, project_id: str, key: str | None, branch: str) -> ProjectBadges:
    if key is None:
        return ProjectBadges(project_id=project_id, enabled=False, branch=branch)
    base = str(request.base_url).rstrip('/')
    status_url = str(request.url_for('badge_svg', project_id=project_id, key=key, kind='status'))
    coverage_url = str(request.url_for('badge_svg', project_id=project_id, key=key, kind='coverage'))
    link = f'{base}/projects/{project_id}'
    return ProjectBadges(
        project_id=project_id,
        enabled=True,
        branch=branch,
        status_url=status_url,
        coverage_url=coverage_url,
        markdown=f'[![build]({status_url})]({link}) [![coverage]({coverage_url})]({link})',
    )


@router.get('/projects/{project_id}/badges', response_model=ProjectBadges, responses=problems(401, 404))
async def project_badges(
    project_id: str, request: Request, services: ServicesDep, principal: PrincipalDep
) -> ProjectBadges:
    """The badges' addresses and the Markdown for a README (`enabled: false` and no address while they are off)."""
    key, branch = await run_in_threadpool(badges.badge_key, services.engine, principal, project_id)
    return _answer(request, project_id, key, branch)


@router.post(
    '/projects/{project_id}/badges', status_code=201, response_model=ProjectBadges, responses=problems(401, 403, 404)
)
async def new_badge_key(
    project_id: str, request: Request, services: ServicesDep, principal: PrincipalDep
) -> ProjectBadges:
    """Operators: turn the badges on with a new key; addresses made before stop working at once."""
    key, branch = await run_in_threadpool(badges.set_badge_key, services.engine, principal, project_id, on=True)
    return _answer(request, project_id, key, branch)


@router.delete('/projects/{project_id}/badges', status_code=204, responses=problems(401, 403, 404))
async def remove_badges(project_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Operators: turn the badges off; every address answers 404 from now on."""
    await run_in_threadpool(badges.set_badge_key, services.engine, principal, project_id, on=False)
    return Response(status_code=204)


@router.get(
    '/badges/{project_id}/{key}/{kind}.svg',
    name='badge_svg',
    response_class=Response,
    responses={200: {'content': {'image/svg+xml': {}}}, **problems(404)},
)
async def badge_svg(
    project_id: str,
    key: str,
    kind: str,
    services: ServicesDep,
    branch: BranchQuery = None,
    depth: DepthQuery = None,
    framework: FrameworkQuery = None,
) -> Response:
    """No token: the key in the address is the credential. The branch's last run with a verdict (`passing`,
    `failing`, `timed out`, `crashed`; `no runs`) or its last coverage, of runs at one depth level or framework if
    asked; not cached, so a README shows the figure of now (GitHub's image proxy honours `Cache-Control:
    no-cache`)."""
    label, value, colour = await run_in_threadpool(
        lambda: badges.badge(
            services.engine, project_id, key, kind, branch=branch, depth_level=depth, target_framework=framework
        )
    )
    svg = anybadge.Badge(label, value, default_color=colour).badge_svg_text
    return Response(
        svg,
        media_type='image/svg+xml',
        headers={'Cache-Control': 'no-cache, max-age=0'},  # anybadge's picture: no script, no text of a user's
    )
