"""POST /runs on its shortest path: the admission hot path without FastAPI's routing, dependency and
body machinery, which cost more CPU per request than the admission itself (bench/ceiling.py).

It answers only the plain case: a JSON body that validates as RunCreate, from a caller whose bearer
token is valid. Everything else (no or bad credentials, another content type, a body that does not
validate) goes on to the FastAPI route with the body replayed, so each refusal keeps its one
implementation. What the admission raises is answered by the app's own exception handlers, exactly as
the route's errors are. The route stays declared, so the OpenAPI document still describes it."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.runs import _answer, admit_trigger
from app.models import RunCreate
from app.services.errors import DomainError

log = logging.getLogger(__name__)


class FastTrigger:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app, self.path = app, prefix + '/runs'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http' or scope['method'] != 'POST' or scope['path'] != self.path:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        replay = _replayer(messages, receive)
        headers = _headers(scope)
        principal = await _principal(scope, headers)
        data = _body(headers, body) if principal is not None else None
        if data is None:
            await self.app(scope, replay, send)  # the route answers (and refuses) it
            return
        request = Request(scope, replay)
        services = scope['app'].state.services
        try:
            correlation_id = scope.get('state', {}).get('correlation_id', '')
            admitted = await admit_trigger(services, principal, data, headers, correlation_id=correlation_id)
        except Exception as exc:  # answered as the route's own errors are
            handler = _handler_for(scope['app'], exc)
            if handler is None:
                raise
            if not isinstance(exc, HTTPException | DomainError):
                log.exception('POST /runs failed')  # as Starlette logs what reaches its 500 handler
            response = await handler(request, exc)
        else:
            response = _answer(admitted)
        await response(scope, replay, send)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message['type'] != 'http.request':
            break
        chunks.append(message.get('body', b''))
        if not message.get('more_body', False):
            break
    return messages, b''.join(chunks)


def _replayer(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode('latin-1'): value.decode('latin-1') for name, value in scope['headers']}


async def _principal(scope: Scope, headers: dict[str, str]) -> Any:
    """The caller when the bearer token is valid (cached like the route's dependency), else None."""
    scheme, _, token = headers.get('authorization', '').partition(' ')
    token = token.strip()
    if scheme.lower() != 'bearer' or not token:
        return None
    auth = scope['app'].state.services.auth
    principal = auth.cached(token)
    if principal is False:
        principal = await run_in_threadpool(auth.authenticate, token)
    if principal is not None:
        scope.setdefault('state', {})['principal'] = principal  # the error handlers' quota headers read it
    return principal


def _body(headers: dict[str, str], body: bytes) -> RunCreate | None:
    if headers.get('content-type', '').split(';')[0].strip().lower() != 'application/json':
        return None
    try:
        return RunCreate.model_validate_json(body)
    except ValidationError:
        return None


def _handler_for(app: Any, exc: Exception) -> Any:
    handlers = app.exception_handlers
    return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
