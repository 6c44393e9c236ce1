"""GET /audit: the audit log of the caller's teams (operators), newest first, filterable, paged by cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.services.identity import audit

router = APIRouter(prefix='/audit', tags=['audit'])


class AuditEntryPublic(BaseModel):
    id: str
    at: datetime
    team_id: str
    actor_id: str | None
    actor_name: str
    token_id: str | None
    action: str
    project_id: str | None
    target: str | None
    details: dict[str, Any]
    correlation_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    next_cursor: str | None


@router.get('', response_model=AuditPage, responses=problems(401, 403, 422))
async def audit_log(
    services: ServicesDep,
    principal: PrincipalDep,
    action: Annotated[
        str | None,
        Query(
            description='an action (run.stopped) or a group (run, afk, project, project.variable, token); one the '
            'log does not know is 422 unknown_audit_action with its `close_matches`, `known_actions` and '
            '`known_groups`'
        ),
    ] = None,
    actor: Annotated[str | None, Query(description="a person's name or id")] = None,
    project: str | None = None,
    since: Annotated[str | None, Query(description='at or after: YYYY-MM-DD or ISO 8601 (UTC)')] = None,
    until: Annotated[str | None, Query(description='before; a date includes that whole day (UTC)')] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    rows, next_cursor = await run_in_threadpool(
        audit.list_entries,
        services.engine,
        principal,
        action=action,
        actor=actor,
        project=project,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return AuditPage(items=[AuditEntryPublic.model_validate(r.model_dump()) for r in rows], next_cursor=next_cursor)
