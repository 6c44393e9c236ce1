"""POST /runs/bulk: Stop, Retry or Approve many runs (a list, or every run matching a filter) under one
Idempotency-Key, answered per run. The rules are in app/services/runs/bulk.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from app.api.deps import PrincipalDep, ServicesDep, correlation
from app.api.runs import invalid_key_reason
from app.api.schemas import problems
from app.core.errors import DomainError
from app.services.execution.stop import stop_run
from app.services.identity.accounts import Principal
from app.services.runs import approvals
from app.services.runs.bulk import MAX_RUNS, BulkActions

router = APIRouter(prefix='/runs', tags=['runs'])


class BulkFilter(BaseModel):
    """The runs list's filters (GET /runs)."""

    model_config = ConfigDict(extra='forbid')
    project: str | None = None
    status: list[str] | None = None
    kind: str | None = None
    branch: str | None = None
    user: str | None = None
    since: str | None = None
    until: str | None = None
    q: str | None = None


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra='forbid')
    action: Literal['stop', 'retry', 'approve']
    run_ids: Annotated[list[str] | None, Field(min_length=1, max_length=MAX_RUNS)] = None
    filter: BulkFilter | None = None


class BulkItem(BaseModel):
    run_id: str
    outcome: Literal['done', 'skipped', 'refused']
    reason: str | None = None
    error: str | None = None  # the machine code of the problem that refused or skipped it
    status: int | None = None
    new_run_id: str | None = None  # retry: the run it made


class BulkAnswer(BaseModel):
    action: str
    idempotency_key: str
    items: list[BulkItem]
    summary: dict[str, int]


def bulk_actions(services: Any, stopped: list[str]) -> BulkActions:
    """The action runs in a worker thread; the runs it stops are collected in `stopped`, and their processes
    are asked to end on the event loop afterwards (the engine spawns its kill there)."""

    def stop(principal: Principal, run_id: str) -> None:
        stop_run(services.engine, services.bus, principal, run_id)
        stopped.append(run_id)

    def retry(principal: Principal, run_id: str, key: str, correlation_id: str | None) -> Any:
        return services.admitter.retry(principal, run_id=run_id, overrides={}, key=key, correlation_id=correlation_id)

    def approve(principal: Principal, run_id: str) -> Any:
        return approvals.approve(services.engine, services.bus, principal, run_id)

    return BulkActions(engine=services.engine, stop=stop, retry=retry, approve=approve)


@router.post('/bulk', response_model=BulkAnswer, responses=problems(400, 401, 403, 409, 422))
async def bulk(
    body: BulkRequest,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(alias='Idempotency-Key')] = None,
) -> JSONResponse:
    """One Idempotency-Key covers the whole action: a resend gets the same per-run answer and acts on nothing
    again. A filter is resolved once, when the action starts (at most 500 runs)."""
    if idempotency_key is None:
        raise DomainError(
            400, 'idempotency_key_required', 'A bulk action needs an Idempotency-Key header.', field='Idempotency-Key'
        )
    reason = invalid_key_reason(idempotency_key)
    if reason:
        raise DomainError(400, 'invalid_idempotency_key', reason, field='Idempotency-Key')
    filters = None
    if body.filter is not None:
        filters = body.filter.model_dump(exclude_none=True)
        if 'status' in filters:
            filters['status'] = [s for item in filters['status'] for s in item.split(',') if s]
    stopped: list[str] = []
    try:
        answer, replayed = await run_in_threadpool(
            bulk_actions(services, stopped).run,
            principal,
            action=body.action,
            run_ids=body.run_ids,
            filters=filters,
            key=idempotency_key,
            correlation_id=correlation(request),
        )
    finally:  # a stop already recorded reaches its process even if a later run failed the action
        for run_id in stopped:
            services.runner.request_stop(run_id)
    headers = {'Idempotency-Key': idempotency_key, **({'Idempotent-Replayed': 'true'} if replayed else {})}
    return JSONResponse(BulkAnswer.model_validate(answer).model_dump(mode='json'), headers=headers)
