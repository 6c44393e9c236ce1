"""RFC 9457 problem+json responses and correlation ids (api/gate.py sets them on each request)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any, TypeVar, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import HTTPExceptionHandler, Scope

from app.api.failures import failure_for
from app.core.errors import DomainError

log = logging.getLogger('runboard.api')
correlation_id: ContextVar[str] = ContextVar('correlation_id', default='')
_VALID_ID = re.compile(r'^[A-Za-z0-9._:\-]{1,128}$')
PROBLEM = 'application/problem+json'
HEADER = 'x-correlation-id'


def problem(
    status: int, error: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    cid = correlation_id.get() or uuid.uuid4().hex
    body = {
        'type': f'https://runboard.dev/problems/{error}',
        'title': HTTPStatus(status).phrase,
        'status': status,
        'detail': detail,
        'error': error,
        'correlation_id': cid,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def correlation_for(scope: Scope) -> str:
    """A valid incoming X-Correlation-ID, else a new one."""
    incoming = next((v.decode('latin-1') for k, v in scope['headers'] if k == b'x-correlation-id'), '')
    return incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of this app answers at the request's path (HEAD with GET, and OPTIONS)."""

    order = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
    methods = [
        m
        for m in order
        if any(route.matches({**request.scope, 'method': m})[0] == Match.FULL for route in request.app.router.routes)
    ]
    if 'GET' in methods:
        methods.insert(1, 'HEAD')
    return methods + ['OPTIONS']


def unexpected_problem(exc: BaseException) -> JSONResponse:
    """An exception nothing handled: an outage (503), a full disk (507), input a lower layer refused (422),
    else a defect (500, logged with its traceback). Every one carries the correlation id."""
    failure = failure_for(exc)
    if failure is not None:
        log.warning('%s %s [%s]: %s', failure.status, failure.error, correlation_id.get(), exc)
        return problem(failure.status, failure.error, failure.detail, headers=failure.headers, **failure.extra)
    log.error('unexpected error [%s]', correlation_id.get(), exc_info=exc)
    return problem(500, 'internal', 'Unexpected server error; the correlation id identifies it in the logs.')


def payload_too_large(max_bytes: int) -> JSONResponse:
    return problem(413, 'payload_too_large', f'Request body is larger than {max_bytes} bytes.')


def _field_of(error: dict) -> str:
    loc = [str(p) for p in error.get('loc', ()) if p not in ('body', 'query', 'path', 'header')]
    return '.'.join(loc) or 'body'


ProblemHook = Callable[[Request, int], Awaitable[dict[str, str]]]
AuthCheck = Callable[[Request], Awaitable[DomainError | None]]


_E = TypeVar('_E', bound=Exception)


def _handler(handler: Callable[[Request, _E], Awaitable[Response]]) -> HTTPExceptionHandler:
    """Starlette types every handler as taking any Exception, but calls each with the class it is
    registered for; a handler typed for that class is what it expects."""
    return cast(HTTPExceptionHandler, handler)


async def _answer(result: Response | Awaitable[Response]) -> Response:
    """What a previously installed handler answered (Starlette allows plain and async handlers)."""
    return result if isinstance(result, Response) else await result


def install_error_handlers(
    app: FastAPI, *, api_prefix: str, auth_check: AuthCheck | None = None, extra_headers: ProblemHook | None = None
) -> None:
    """auth_check(request) -> the 401 to answer instead of a validation problem (auth comes first,
    but FastAPI parses the body before it runs dependencies); extra_headers(request, status) -> headers
    some routes add to every answer (RateLimit on POST /runs)."""

    def is_api(request: Request) -> bool:
        return request.url.path.startswith(api_prefix)

    async def headers_for(request: Request, status: int, headers: dict[str, str] | None) -> dict[str, str]:
        merged = dict(headers or {})
        if extra_headers is not None:
            for name, value in (await extra_headers(request, status)).items():
                merged.setdefault(name, value)
        return merged

    async def on_domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(
            exc.status, exc.error, exc.detail, headers=await headers_for(request, exc.status, exc.headers), **exc.extra
        )

    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        refusal = await auth_check(request) if auth_check is not None else None
        if refusal is not None:
            return await on_domain(request, refusal)
        errors = exc.errors()
        first = errors[0] if errors else {}
        code = 'validation'
        if first.get('type') == 'json_invalid':
            return problem(
                400,
                'malformed_json',
                f'The request body is not valid JSON ({first.get("msg", "")}).'.replace(' ().', '.'),
                headers=await headers_for(request, 400, None),
            )
        if first.get('type') == 'extra_forbidden':
            detail = f'Unknown field: {_field_of(first)}.'
        else:
            detail = f'{_field_of(first)}: {first.get("msg", "invalid")}'
        fields = [{'field': _field_of(e), 'message': e.get('msg', ''), 'type': e.get('type', '')} for e in errors]
        return problem(
            422,
            code,
            detail,
            headers=await headers_for(request, 422, None),
            field=_field_of(first),
            errors=json.loads(json.dumps(fields, default=str)),
        )

    previous_http = app.exception_handlers.get(StarletteHTTPException)
    previous_exc = app.exception_handlers.get(Exception) or app.exception_handlers.get(500)

    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_api(request) and previous_http is not None:
            return await _answer(previous_http(request, exc))
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            allow = ', '.join(allowed_methods(request))
            if request.method == 'OPTIONS':
                return Response(status_code=204, headers={'Allow': allow})
            return problem(
                405,
                'method_not_allowed',
                f'{request.method} is not allowed here; use {allow}.',
                headers={'Allow': allow},
            )
        codes = {
            400: 'bad_request',
            401: 'unauthorized',
            403: 'forbidden',
            404: 'not_found',
            405: 'method_not_allowed',
            413: 'payload_too_large',
            415: 'unsupported_media_type',
        }
        return problem(
            exc.status_code,
            codes.get(exc.status_code, 'http_error'),
            str(exc.detail),
            headers=getattr(exc, 'headers', None),
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if not is_api(request) and previous_exc is not None:
            return await _answer(previous_exc(request, exc))
        return unexpected_problem(exc)

    async def on_data_error(request: Request, exc: DataError) -> Response:
        # e.g. a NUL byte in a path or a field: PostgreSQL cannot store it; it is the client's input
        return problem(
            422,
            'validation',
            'The request contains a value the database cannot store (such as a NUL character).',
            headers=await headers_for(request, 422, None),
        )

    app.add_exception_handler(DataError, _handler(on_data_error))
    app.add_exception_handler(DomainError, _handler(on_domain))
    app.add_exception_handler(RequestValidationError, _handler(on_validation))
    app.add_exception_handler(StarletteHTTPException, _handler(on_http))
    app.add_exception_handler(Exception, on_unexpected)
