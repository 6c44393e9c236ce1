"""Run history for charts: one project's (GET /projects/{id}/history) and the newest finished runs of many
projects at once (GET /history?project=a,b,c: the dashboard's sparklines, one request for every card)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.services.runs import history as run_history
from app.services.runs.history import ProjectHistory, RecentRunsPage

router = APIRouter(tags=['history'])


@router.get('/projects/{project_id}/history', response_model=ProjectHistory, responses=problems(401, 404, 422))
async def project_history(
    project_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    branch: Annotated[str | None, Query(max_length=250, description='Only this branch (exact name)')] = None,
    limit: Annotated[int, Query(ge=1, le=run_history.MAX_LIMIT, description='Newest finished runs')] = (
        run_history.DEFAULT_LIMIT
    ),
    days: Annotated[int, Query(ge=1, le=run_history.MAX_DAYS, description='Days in the per-day series')] = (
        run_history.DEFAULT_DAYS
    ),
    utc_offset: Annotated[
        int,
        Query(
            ge=-run_history.MAX_UTC_OFFSET_MINUTES,
            le=run_history.MAX_UTC_OFFSET_MINUTES,
            description="Minutes east of UTC the days are counted in (the viewer's time zone; 0: UTC days)",
        ),
    ] = 0,
) -> ProjectHistory:
    """The project's newest finished runs (newest first, with their durations) and, for each of the last
    `days` days, its finished runs by outcome with the success rate (succeeded / (succeeded + failed, timed
    out, crashed); stopped runs are no verdict). A run counts on the day it was created."""
    return await run_in_threadpool(
        run_history.project_history,
        services.engine,
        principal,
        project_id,
        branch=branch or None,
        limit=limit,
        days=days,
        utc_offset=utc_offset,
    )


@router.get('/history', response_model=RecentRunsPage, responses=problems(401, 422))
async def recent_runs(
    services: ServicesDep,
    principal: PrincipalDep,
    project: Annotated[list[str], Query(description='Project ids: repeated, or comma-separated')],
    limit: Annotated[int, Query(ge=1, le=run_history.BATCH_MAX_LIMIT)] = run_history.BATCH_DEFAULT_LIMIT,
) -> RecentRunsPage:
    """The newest `limit` finished runs of each project named (at most 100 projects), newest first, in one
    answer; a project the caller cannot see is left out, as GET /runs?project= answers it with no runs."""
    ids = [part.strip() for item in project for part in item.split(',') if part.strip()]
    return await run_in_threadpool(run_history.recent_runs, services.engine, principal, ids, limit=limit)
