"""Runs: trigger (idempotent), list, read, events, retry, stop."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from app.api.deps import PrincipalDep, ServicesDep, authenticate, correlation
from app.api.schemas import RunPage, problems
from app.container import Services
from app.core.errors import DomainError
from app.models import RunCreate, RunDetail, RunEventPublic, RunPublic, RunRetry
from app.services.execution import stop as run_stop
from app.services.execution import waiting as run_waiting
from app.services.identity.accounts import Principal
from app.services.runs import admit as runs
from app.services.runs import approvals
from app.services.runs import reads as run_reads
from app.services.runs.output_search import MAX_MATCHES, OutputMatches
from app.services.runs.ratelimit import Quota

router = APIRouter(prefix='/runs', tags=['runs'])


def invalid_key_reason(key: str) -> str | None:
    """Pure: why a client's Idempotency-Key cannot be used (None: it can). An empty key is an error, not
    "no key": replacing it with a minted one would let a client that resends with it make duplicates."""
    if not key.strip():
        return 'Idempotency-Key is empty; send 1-255 printable characters, or leave the header out.'
    if len(key) > 255:
        return f'Idempotency-Key is {len(key)} characters long; at most 255 are allowed.'
    if not key.isprintable():
        return 'Idempotency-Key must hold printable characters only.'
    return None


def _key(header_key: str | None, x_header_key: str | None, body_key: str | None) -> str | None:
    keys = {k for k in (header_key, x_header_key, body_key) if k is not None}
    for key in keys:
        reason = invalid_key_reason(key)
        if reason:
            raise DomainError(400, 'invalid_idempotency_key', reason, field='Idempotency-Key')
    if len(keys) > 1:
        raise DomainError(
            422, 'validation', 'Idempotency keys in the header and the body differ.', field='Idempotency-Key'
        )
    return next(iter(keys), None)


def _answer(admitted: runs.Admitted) -> Response:
    """The run as JSON, serialised once by pydantic-core (the hot path skips FastAPI's re-validation)."""
    headers = {'Idempotency-Key': admitted.idempotency_key}
    if admitted.replayed:
        headers['Idempotent-Replayed'] = 'true'
    if admitted.quota is not None:
        headers.update(rate_headers(admitted.quota))
    return Response(
        admitted.run.model_dump_json(),
        status_code=200 if admitted.replayed else 201,
        headers=headers,
        media_type='application/json',
    )


_ADMITTING = re.compile(r'^/api/runs(/[^/]+/retry)?/?$')


async def quota_headers(request: Request, status: int) -> dict[str, str]:
    """Every answer of POST /runs (and retry) carries RateLimit-Policy and, for a known caller, RateLimit."""
    if request.method != 'POST' or not _ADMITTING.match(request.scope['path']):
        return {}
    services = request.app.state.services
    settings = services.settings
    headers = {'RateLimit-Policy': f'"runs";q={settings.rate_limit_runs};w={settings.rate_limit_window_seconds}'}
    principal = await authenticate(request)
    if isinstance(principal, Principal):
        try:
            quota = await run_in_threadpool(services.admitter.quota, principal)
        except DomainError:  # the limiter is down (the answer is that 503): no RateLimit figures to give
            return headers
        headers.update(rate_headers(quota))
    return headers


_KEY_HEADERS: dict[str, Any] = {
    'openapi_extra': {
        'parameters': [
            {
                'name': name,
                'in': 'header',
                'required': False,
                'schema': {'type': 'string'},
                'description': 'Client idempotency key (scope: the caller); the server mints one when absent.',
            }
            for name in ('Idempotency-Key', 'X-Idempotency-Key')
        ]
    }
}


@router.post(
    '',
    status_code=201,
    response_model=RunPublic,
    **_KEY_HEADERS,
    responses={
        200: {'description': 'Replay of an earlier request with the same key', 'model': RunPublic},
        **problems(400, 401, 404, 409, 413, 422, 429, 507),
    },
)
def trigger_run(body: RunCreate, request: Request, principal: PrincipalDep) -> Response:
    """The admission (services/runs/admit.py) in a thread of FastAPI's pool: it waits on the database and Redis."""
    headers = request.headers  # read here rather than as parameters; the OpenAPI lists them through _KEY_HEADERS
    key = _key(headers.get('idempotency-key'), headers.get('x-idempotency-key'), body.x_idempotency_key)
    admitted = request.app.state.services.admitter.trigger(
        principal,
        key=key,
        correlation_id=correlation(request),
        project_id=body.project_id,
        depth_level=body.depth_level,
        target_framework=body.target_framework,
        branch=body.branch,
        run_at=body.run_at,
        run_in=body.run_in,
        ttl=body.ttl,
        variables=body.variables,
    )
    return _answer(admitted)


SEARCH_DESCRIPTION = 'text in the run id, branch, issue, pull request or commit title; or the start of a commit sha'


@router.get('', response_model=RunPage, responses=problems(401, 422))
async def list_runs(
    services: ServicesDep,
    principal: PrincipalDep,
    project: str | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    kind: str | None = None,
    branch: str | None = None,
    user: str | None = None,
    since: Annotated[str | None, Query(description='created at or after: YYYY-MM-DD or ISO 8601 (UTC)')] = None,
    until: Annotated[str | None, Query(description='created before; a date includes that whole day (UTC)')] = None,
    q: Annotated[str | None, Query(description=SEARCH_DESCRIPTION)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunPage:
    statuses = [s for item in status or [] for s in item.split(',') if s] or None
    items, next_cursor = await run_in_threadpool(
        _runs_page,
        services,
        principal,
        project=project,
        status=statuses,
        kind=kind,
        branch=branch,
        user=user,
        since=since,
        until=until,
        q=q,
        cursor=cursor,
        limit=limit,
    )
    return RunPage(items=items, next_cursor=next_cursor)


@router.get('/{run_id}', response_model=RunDetail, responses=problems(401, 404))
async def get_run(
    run_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    events_limit: Annotated[int, Query(ge=0, le=10_000)] = 2000,
) -> RunDetail:
    return await run_in_threadpool(
        _run_detail,
        services,
        principal,
        run_id,
        events_limit=events_limit,
        with_events=events_limit > 0,
    )


def _runs_page(services: Services, principal: Principal, **filters: Any) -> tuple[list[RunPublic], str | None]:
    items, next_cursor = run_waiting.list_runs_waiting(services.settings, services.engine, principal, **filters)
    services.commits.fill_unknown(items)
    return items, next_cursor


def _run_detail(services: Services, principal: Principal, run_id: str, **options: Any) -> RunDetail:
    detail = run_waiting.get_run_waiting(services.settings, services.engine, principal, run_id, **options)
    services.commits.fill_unknown([detail])
    return detail


@router.get(
    '/{run_id}/log',
    response_class=StreamingResponse,
    responses={
        200: {'content': {'text/plain': {}}, 'description': 'The output, one line each'},
        **problems(401, 404, 410),
    },
)
async def run_log(
    run_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    timestamps: bool = False,
) -> StreamingResponse:
    """The run's output as it was printed (ANSI codes kept), streamed: a download, or `runboard runs logs
    --raw`. With timestamps=true each line starts with the time it was stored. 410 `log_removed` once the log
    retention removed it."""
    # its 404 or 410 comes before the 200 starts; the lines come from the snapshot that checked them
    lines = await run_in_threadpool(run_reads.output_lines, services.engine, principal, run_id, timestamps=timestamps)
    return ClosingStream(
        lines,
        media_type='text/plain; charset=utf-8',
        headers={'Content-Disposition': f'attachment; filename="{run_id}.log"'},
    )


class ClosingStream(StreamingResponse):
    """A streamed answer whose source holds a transaction, closed when the answer ends however it ends: a client gone
    mid-download cancels the stream, which would leave the iterator, and its connection, to the garbage collector."""

    def __init__(self, lines: run_reads.SnapshotLines, **kwargs: Any) -> None:
        super().__init__(lines, **kwargs)
        self.lines = lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await run_in_threadpool(self.lines.close)


@router.get('/{run_id}/events', response_model=list[RunEventPublic], responses=problems(401, 404))
async def run_events(
    run_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[RunEventPublic]:
    return await run_in_threadpool(run_reads.list_events, services.engine, principal, run_id, after=after, limit=limit)


@router.get('/{run_id}/search', response_model=OutputMatches, responses=problems(401, 404, 422))
async def search_output(
    run_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(description='text to find in output lines, in any case (1-200 characters)')] = None,
    after: Annotated[int, Query(ge=0, description='only lines after this seq (the next page of matches)')] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_MATCHES)] = MAX_MATCHES,
) -> OutputMatches:
    """The seqs of the output lines holding q (ANSI codes ignored), in order; `total` counts them all."""
    return await run_in_threadpool(
        run_reads.search_output, services.engine, principal, run_id, q, after=after, limit=limit
    )


@router.post(
    '/{run_id}/retry',
    status_code=201,
    response_model=RunPublic,
    responses={200: {'description': 'Replay', 'model': RunPublic}, **problems(400, 401, 404, 409, 422, 429)},
)
async def retry_run(
    run_id: str,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    body: RunRetry | None = None,
    idempotency_key: Annotated[str | None, Header(alias='Idempotency-Key')] = None,
    x_idempotency_key: Annotated[str | None, Header(alias='X-Idempotency-Key')] = None,
) -> Response:
    body = body or RunRetry()
    key = _key(idempotency_key, x_idempotency_key, body.x_idempotency_key)
    admitted = await run_in_threadpool(
        services.admitter.retry,
        principal,
        run_id=run_id,
        overrides={'branch': body.branch, 'depth_level': body.depth_level, 'target_framework': body.target_framework},
        key=key,
        correlation_id=correlation(request),
    )
    return _answer(admitted)


@router.post('/{run_id}/stop', status_code=202, response_model=RunPublic, responses=problems(401, 404, 409))
async def stop_run(run_id: str, services: ServicesDep, principal: PrincipalDep) -> RunPublic:
    run = await run_in_threadpool(run_stop.stop_run, services.engine, services.bus, principal, run_id)
    services.runner.request_stop(run_id)
    return run


@router.post('/{run_id}/approve', response_model=RunPublic, responses=problems(401, 403, 404, 409))
async def approve_run(run_id: str, services: ServicesDep, principal: PrincipalDep) -> RunPublic:
    """An operator lets a run that waits for approval go (docs/security.md, "Approvals"): it is admitted at once (or
    at its own later time) under the rules a trigger meets then. 409 `not_awaiting_approval` for any other run;
    rejecting is its Stop."""
    return await run_in_threadpool(approvals.approve, services.engine, services.bus, principal, run_id)


def rate_headers(quota: Quota) -> dict[str, str]:
    """RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers) for a quota."""
    reset = max(0, math.ceil(quota.reset_after))
    return {
        'RateLimit-Policy': f'"runs";q={quota.limit};w={quota.window_seconds}',
        'RateLimit': f'"runs";r={quota.remaining};t={reset}',
    }
