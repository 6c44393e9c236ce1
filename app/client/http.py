"""The client's transport vocabulary: the API prefix, an answer (Response), a refusal (ApiError), reading one
from an httpx reply, and idempotency keys. Every part of the client (app/client/*.py) builds on these."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

API = '/api'


@dataclass
class ApiError(Exception):
    """A refusal or failure, as the server (or the network) said it."""

    status: int  # 0 when the server could not be reached
    error: str
    detail: str
    correlation_id: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        cid = f' [correlation id {self.correlation_id}]' if self.correlation_id else ''
        return f'{self.detail}{cid}'

    @property
    def retry_after(self) -> int | None:
        value = self.headers.get('retry-after') or self.body.get('retry_after_seconds')
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def blocking_runs(self) -> list[str]:
        return list(self.body.get('blocking_runs') or [])

    @property
    def is_network(self) -> bool:
        return self.status == 0


@dataclass
class Response:
    status: int
    data: Any
    headers: dict[str, str]

    @property
    def replayed(self) -> bool:
        return self.headers.get('idempotent-replayed') == 'true'

    @property
    def correlation_id(self) -> str | None:
        return self.headers.get('x-correlation-id')


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def answer_of(reply: httpx.Response) -> Response:
    """The server's answer, or the ApiError it describes (problem+json: machine code, detail, correlation id)."""
    lowered = {k.lower(): v for k, v in reply.headers.items()}
    try:
        data = reply.json() if reply.content else None
    except ValueError:
        data = None
    # the API never redirects: a proxy (http -> https) or another service answered; 304 is no redirect
    if 300 <= reply.status_code < 400 and reply.status_code != 304:
        where = lowered.get('location') or 'no address'
        raise ApiError(
            reply.status_code,
            'redirect',
            f'The server redirected the request (HTTP {reply.status_code}) to {where}; the Runboard API does not '
            "redirect: is the server's address right (behind a proxy, its https:// one)?",
            lowered.get('x-correlation-id'),
            {},
            lowered,
        )
    if reply.status_code >= 400:
        body = data if isinstance(data, dict) else {}
        raise ApiError(
            reply.status_code,
            body.get('error', 'http_error'),
            body.get('detail') or f'HTTP {reply.status_code}',
            body.get('correlation_id') or lowered.get('x-correlation-id'),
            body,
            lowered,
        )
    return Response(reply.status_code, data, lowered)
