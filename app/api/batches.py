"""POST /runs/batch: a matrix trigger (one run per depth level x target framework) under one Idempotency-Key,
answered per child; GET /runs/batch/{id}: the batch with its children as they are now. The rules are in
app/services/runs/batches.py; docs/triggers.md ("Matrix triggers") explains them."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep, correlation
from app.api.runs import invalid_key_reason, rate_headers
from app.api.schemas import problems
from app.container import Services
from app.core.errors import DomainError
from app.models import BatchCreate, BatchPublic
from app.services.identity.accounts import Principal
from app.services.runs import batch_rules
from app.services.runs.batches import BatchAdmitter

router = APIRouter(prefix='/runs', tags=['runs'])


def batch_key(header_key: str | None, x_header_key: str | None) -> str | None:
    keys = {k for k in (header_key, x_header_key) if k is not None}
    for key in keys:
        reason = invalid_key_reason(key)
        if reason:
            raise DomainError(400, 'invalid_idempotency_key', reason, field='Idempotency-Key')
    if len(keys) > 1:
        raise DomainError(422, 'validation', 'Idempotency-Key and X-Idempotency-Key differ.', field='Idempotency-Key')
    return next(iter(keys), None)


@router.post(
    '/batch',
    status_code=201,
    response_model=BatchPublic,
    responses={
        200: {'description': 'The batch this key made already (missing children tried again)', 'model': BatchPublic},
        **problems(400, 401, 404, 413, 422),
    },
)
async def trigger_batch(
    body: BatchCreate,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(alias='Idempotency-Key')] = None,
    x_idempotency_key: Annotated[str | None, Header(alias='X-Idempotency-Key')] = None,
) -> Response:
    """One run per combination of matrix.depth_level and matrix.target_framework (each 1+ values the project
    allows, at most 50 combinations), each admitted under the single trigger's rules. The answer lists every
    child: admitted (with its run) or refused (with the problem a single trigger of it would get). A resend
    with the same key returns the same batch (200, Idempotent-Replayed) and admits only the missing children.
    mode all_or_nothing creates no run unless every missing child is admitted; best_effort is the default."""
    key = batch_key(idempotency_key, x_idempotency_key)
    answer, replayed = await run_in_threadpool(
        BatchAdmitter(services.admitter).trigger,
        principal,
        project_id=body.project_id,
        branch=body.branch,
        matrix=body.matrix.model_dump(),
        mode=body.mode,
        key=key,
        correlation_id=correlation(request),
        variables=body.variables,
    )
    headers = {'Idempotency-Key': answer.idempotency_key, 'Location': f'/api/runs/batch/{answer.id}'}
    if replayed:
        headers['Idempotent-Replayed'] = 'true'
    wait = batch_rules.retry_after(child.problem.model_dump() for child in answer.children if child.problem)
    if wait:
        headers['Retry-After'] = str(wait)  # when a resend may admit more of it
    with contextlib.suppress(DomainError):  # the limiter is down: no RateLimit figures to give
        headers.update(rate_headers(await run_in_threadpool(services.admitter.quota, principal)))
    return Response(
        answer.model_dump_json(),
        status_code=200 if replayed else 201,
        headers=headers,
        media_type='application/json',
    )


@router.get('/batch/{batch_id}', response_model=BatchPublic, responses=problems(401, 404))
async def get_batch(batch_id: str, services: ServicesDep, principal: PrincipalDep) -> BatchPublic:
    """The batch with one child per combination: its run as it is now, or why it was refused."""
    return await run_in_threadpool(_batch, services, principal, batch_id)


def _batch(services: Services, principal: Principal, batch_id: str) -> BatchPublic:
    """The batch, its commit named by its title; a commit no child's start has learned yet (all queued) is read
    from the repository as a runs list reads one."""
    batch = BatchAdmitter(services.admitter).get(principal, batch_id)
    if batch.commit_title is None and batch.commit_sha:
        runs = [child.run for child in batch.children if child.run is not None]
        services.commits.fill_unknown(runs)
        batch.commit_title = next((run.commit_title for run in runs if run.commit_sha == batch.commit_sha), None)
    return batch
