"""Schedules of a project: list and read (its team), create, edit, pause, resume, delete (operators), and the
history of firings. The rules: docs/triggers.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.container import Services
from app.models import FiringPublic, ScheduleCreate, SchedulePublic, ScheduleUpdate
from app.services.scheduling import schedules

router = APIRouter(tags=['schedules'])  # GET /schedules/{id}; the project's routes are project_router's
project_router = APIRouter(prefix='/projects/{project_id}/schedules', tags=['schedules'])


@router.get('/schedules/{schedule_id}', response_model=SchedulePublic, responses=problems(401, 404))
async def find_schedule(schedule_id: str, services: ServicesDep, principal: PrincipalDep) -> SchedulePublic:
    """A schedule by its id alone (ids are unique), with its project_id: a 404 for another team's."""
    return await run_in_threadpool(schedules.find_schedule, services.engine, principal, schedule_id)


async def _changed(services: Services, project_id: str) -> None:
    """Cards show the next firing; schedule pages re-read."""
    team_id = await run_in_threadpool(schedules.team_of, services.engine, project_id)
    services.bus.publish({'type': 'project', 'id': project_id, 'team_id': team_id})


@project_router.get('', response_model=list[SchedulePublic], responses=problems(401, 404))
async def list_schedules(project_id: str, services: ServicesDep, principal: PrincipalDep) -> list[SchedulePublic]:
    """The project's schedules with their next slots and their latest firing."""
    return await run_in_threadpool(schedules.list_schedules, services.engine, principal, project_id)


@project_router.post('', status_code=201, response_model=SchedulePublic, responses=problems(401, 403, 404, 409, 422))
async def create_schedule(
    project_id: str, body: ScheduleCreate, services: ServicesDep, principal: PrincipalDep
) -> SchedulePublic:
    """A cron expression read in `timezone` (IANA), with the run's branch, depth and framework; it fires as
    the operator who creates it. A bad cron or an unknown zone is a 422 naming the field."""
    schedule = await run_in_threadpool(
        schedules.create_schedule, services.engine, principal, project_id, body, services.repositories
    )
    await _changed(services, project_id)
    return schedule


class CronPreviewIn(BaseModel):
    model_config = {'extra': 'forbid'}
    cron: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default='UTC', min_length=1, max_length=64)


class CronPreview(BaseModel):
    next: list[datetime]  # the next slots, soonest first


@project_router.post('/preview', response_model=CronPreview, responses=problems(401, 404, 422))
async def preview_schedule(
    project_id: str, body: CronPreviewIn, services: ServicesDep, principal: PrincipalDep
) -> CronPreview:
    """The next slots a cron expression would fire in `timezone`, as the schedule form shows them while one
    types; a bad expression or zone is the same 422 as at create. Nothing is saved."""
    return CronPreview(
        next=await run_in_threadpool(
            schedules.preview, services.engine, principal, project_id, body.cron, body.timezone
        )
    )


@project_router.get('/{schedule_id}', response_model=SchedulePublic, responses=problems(401, 404))
async def get_schedule(
    project_id: str, schedule_id: str, services: ServicesDep, principal: PrincipalDep
) -> SchedulePublic:
    return await run_in_threadpool(schedules.get_schedule, services.engine, principal, project_id, schedule_id)


@project_router.patch('/{schedule_id}', response_model=SchedulePublic, responses=problems(401, 403, 404, 409, 422))
async def update_schedule(
    project_id: str, schedule_id: str, body: ScheduleUpdate, services: ServicesDep, principal: PrincipalDep
) -> SchedulePublic:
    """Operators: change the fields named; the others stay as they are. A new cron or zone applies from now: its
    next slot after now. A slot of the old rule due and not fired yet is recorded `missed` (reason
    `schedule_edited`), not run. Send `edit_version`, the schedule's `edit_version` as you read it, and the edit is
    refused with 409 `edit_conflict` (its `current_version` the schedule's now; nothing saved) when someone else
    edited it since, instead of the last save winning silently; without it the edit applies to the schedule as it
    is now. Each edit that changes something moves `edit_version` on by one; firings, pause and resume do not."""
    schedule = await run_in_threadpool(
        schedules.update_schedule, services.engine, principal, project_id, schedule_id, body, services.repositories
    )
    await _changed(services, project_id)
    return schedule


@project_router.post('/{schedule_id}/pause', response_model=SchedulePublic, responses=problems(401, 403, 404))
async def pause_schedule(
    project_id: str, schedule_id: str, services: ServicesDep, principal: PrincipalDep
) -> SchedulePublic:
    """No slot fires until it is resumed; one due at the pause and not fired yet is recorded `missed` (reason
    `schedule_paused`)."""
    schedule = await run_in_threadpool(
        schedules.set_paused, services.engine, principal, project_id, schedule_id, paused=True
    )
    await _changed(services, project_id)
    return schedule


@project_router.post('/{schedule_id}/resume', response_model=SchedulePublic, responses=problems(401, 403, 404))
async def resume_schedule(
    project_id: str, schedule_id: str, services: ServicesDep, principal: PrincipalDep
) -> SchedulePublic:
    """It fires again from its next slot after now; the slots while it was paused are not caught up."""
    schedule = await run_in_threadpool(
        schedules.set_paused, services.engine, principal, project_id, schedule_id, paused=False
    )
    await _changed(services, project_id)
    return schedule


@project_router.delete('/{schedule_id}', status_code=204, responses=problems(401, 403, 404))
async def delete_schedule(
    project_id: str, schedule_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """The schedule and its history; the runs it made stay."""
    await run_in_threadpool(schedules.delete_schedule, services.engine, principal, project_id, schedule_id)
    await _changed(services, project_id)
    return Response(status_code=204)


@project_router.get('/{schedule_id}/firings', response_model=list[FiringPublic], responses=problems(401, 404, 422))
async def list_firings(
    project_id: str,
    schedule_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    before: Annotated[datetime | None, Query(description='only slots before this one (the next page)')] = None,
    limit: Annotated[int, Query(ge=1, le=schedules.MAX_FIRINGS_PAGE)] = 50,
) -> list[FiringPublic]:
    """Newest slot first: admitted (with the run and its status now), skipped (with the refusal), missed."""
    return await run_in_threadpool(
        schedules.list_firings, services.engine, principal, project_id, schedule_id, before=before, limit=limit
    )
