"""DNS rebinding guard: a login-free server (local mode) answers only requests whose Host header names
this machine (127.0.0.1, localhost, [::1], any port) or a name in RUNBOARD_ALLOWED_HOSTS. Otherwise a
web page on any site could resolve its own name to 127.0.0.1 and drive the local operator's account.

With sign-in (team mode) every request carries its own credential, so any Host is answered unless
RUNBOARD_ALLOWED_HOSTS is set (behind a reverse proxy: the public names it forwards)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings

LOOPBACK_NAMES = frozenset({'127.0.0.1', 'localhost', '::1'})


def host_name(host_header: str) -> str:
    """Pure: the name part of a Host header ('[::1]:8080' -> '::1', 'Example.org:80' -> 'example.org')."""
    host = host_header.strip().lower()
    if host.startswith('['):
        return host[1 : host.find(']')] if ']' in host else host
    return host.rsplit(':', 1)[0] if host.count(':') == 1 else host


def host_allowed(host_header: str | None, *, allowed: tuple[str, ...], enforce: bool) -> bool:
    """Pure: may a request with this Host header be answered?"""
    if not enforce or '*' in allowed:
        return True
    if not host_header:
        return False
    name = host_name(host_header)
    return name in LOOPBACK_NAMES or name in allowed


class HostGuard:
    """Outermost ASGI layer of the UI: refuses other Host headers with 421 (HTTP) or a policy close (websocket).
    The API's gate (api/gate.py) asks host_allowed itself."""

    def __init__(self, app: ASGIApp, *, allowed: tuple[str, ...], enforce: bool) -> None:
        self.app, self.allowed, self.enforce = app, tuple(a.lower() for a in allowed), enforce

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] not in ('http', 'websocket') or not self.enforce:
            await self.app(scope, receive, send)
            return
        host = next((v.decode('latin-1') for k, v in scope['headers'] if k == b'host'), None)
        if host_allowed(host, allowed=self.allowed, enforce=True):
            await self.app(scope, receive, send)
            return
        if scope['type'] == 'websocket':
            await send({'type': 'websocket.close', 'code': 1008})
            return
        await misdirected(host)(scope, receive, send)


def misdirected(host: str | None) -> Response:
    """The 421 problem for a Host this server does not answer."""
    body = {
        'type': 'https://runboard.dev/problems/misdirected_request',
        'title': 'Misdirected Request',
        'status': 421,
        'error': 'misdirected_request',
        'detail': f'This Runboard server does not answer for the host {host!r}. Open it at 127.0.0.1 or '
        'localhost, or add the name to RUNBOARD_ALLOWED_HOSTS.',
    }
    return Response(json.dumps(body), status_code=421, media_type='application/problem+json')


def guard_settings(settings: Settings) -> dict[str, Any]:
    allowed = tuple(name.strip().lower() for name in settings.allowed_hosts.split(',') if name.strip())
    return {'allowed': allowed, 'enforce': bool(allowed) or not settings.ui_requires_sign_in}
