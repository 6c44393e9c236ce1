"""POST /runs on its shortest path: the admission hot path at the edge of the stack, behind only the host
guard, without the API app's middleware layers and FastAPI's routing, dependency and body machinery, which
together cost more CPU per request than the admission itself (bench/ceiling.py).

It answers only the plain case: a JSON body within the size limit that validates as RunCreate, from a caller
whose bearer token is valid. Everything else (no or bad credentials, another content type, a body that does
not validate or is too large) goes on down the stack with the body replayed, so each refusal keeps its one
implementation. Being outside them, it does what those layers would have done for its own answers: the
correlation id (echoed or minted, on the answer and in the logs) and problem+json for what the admission
raises, through the API app's own exception handlers. The route stays declared, so the OpenAPI document
still describes it."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import HEADER, correlation_for, correlation_id, unexpected_problem
from app.api.runs import _answer, admit_trigger
from app.core.errors import DomainError
from app.models import RunCreate

log = logging.getLogger(__name__)


class FastTrigger:
    """api_app: the application whose exception handlers and services answer (default: the scope's app)."""

    def __init__(self, app: ASGIApp, prefix: str, max_body_bytes: int, api_app: Any = None) -> None:
        self.app, self.api_app, self.max_body_bytes = app, api_app, max_body_bytes
        self.paths = (prefix + '/runs', '/runs')  # the bare path is the API's too (api/routing.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http' or scope['method'] != 'POST' or scope['path'] not in self.paths:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive, self.max_body_bytes)
        replay = _replayer(messages, receive)
        headers = _headers(scope)
        api_app = self.api_app or scope['app']
        principal = await _principal(api_app, scope, headers) if body is not None else None
        data = _body(headers, body) if principal is not None and body is not None else None
        if data is None:
            await self.app(scope, replay, send)  # the stack answers (and refuses) it
            return
        cid = correlation_for(scope)
        token = correlation_id.set(cid)
        scope.setdefault('state', {})['correlation_id'] = cid
        try:
            response = await self._admit(api_app, scope, replay, principal, data, headers, cid)
        finally:
            correlation_id.reset(token)
        response.headers[HEADER] = cid
        await response(scope, replay, send)

    async def _admit(
        self, api_app: Any, scope: Scope, receive: Receive, principal: Any, data: RunCreate, headers: dict, cid: str
    ) -> Response:
        try:
            admitted = await admit_trigger(api_app.state.services, principal, data, headers, correlation_id=cid)
        except Exception as exc:  # answered as the route's own errors are
            handler = _handler_for(api_app, exc)
            if handler is None:
                return unexpected_problem(exc)  # as CorrelationMiddleware answers what nothing handled
            if not isinstance(exc, HTTPException | DomainError):
                log.exception('POST /runs failed')  # as Starlette logs what reaches its 500 handler
            request = Request({**scope, 'app': api_app}, receive)
            return await handler(request, exc)
        return _answer(admitted)


async def _read_body(receive: Receive, max_bytes: int) -> tuple[list[Message], bytes | None]:
    """The messages read and the body; None as the body when it is over max_bytes (the stack refuses it
    after reading on), so an oversized body is never held whole."""
    messages, chunks, size = [], [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message['type'] != 'http.request':
            return messages, None
        chunk = message.get('body', b'')
        size += len(chunk)
        chunks.append(chunk)
        if size > max_bytes:
            return messages, None
        if not message.get('more_body', False):
            return messages, b''.join(chunks)


def _replayer(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode('latin-1'): value.decode('latin-1') for name, value in scope['headers']}


async def _principal(api_app: Any, scope: Scope, headers: dict[str, str]) -> Any:
    """The caller when the bearer token is valid (cached like the route's dependency), else None."""
    scheme, _, token = headers.get('authorization', '').partition(' ')
    token = token.strip()
    if scheme.lower() != 'bearer' or not token:
        return None
    auth = api_app.state.services.auth
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
