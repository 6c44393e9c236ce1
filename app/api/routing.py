"""The API answers under /api and also at the bare paths of DESIGN.md (POST /runs, GET /runs/{id}, ...).
The bare GET paths are shared with UI pages, so a browser asking for HTML gets the page."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

API_ROOTS = (
    '/runs',
    '/projects',
    '/quota',
    '/events',
    '/afk',
    '/health',
    '/issues',
    '/me',
    '/tokens',
    '/users',
    '/teams',
    '/workers',
    '/history',
    '/about',
    '/audit',
    '/deliveries',
    '/schedules',
    '/hooks',
    '/badges',
)


def routes_to_api(path: str, method: str, accept: str) -> bool:
    """Pure: should this bare-path request be served by the API?"""
    if not any(path == root or path.startswith(root + '/') for root in API_ROOTS):
        return False
    if method != 'GET':
        return True
    return 'text/html' not in accept


def is_api_request(scope: Scope, prefix: str) -> bool:
    """Pure: does this HTTP request belong to the API (under the prefix, or a bare API path)?"""
    path = scope['path']
    if path == prefix or path.startswith(prefix + '/'):
        return True
    accept = next((v.decode('latin-1') for k, v in scope['headers'] if k == b'accept'), '')
    return routes_to_api(path, scope['method'], accept)


class ApiDispatcher:
    """Outermost ASGI layer of the full server: API requests go straight to the API application, so
    they skip the UI's middleware stack and its guards (NiceGUI's BaseHTTPMiddleware layers cost more than the
    API itself; the API's gate, api/gate.py, guards it on its own); everything else (pages, static files,
    websockets, lifespan) goes to the UI stack."""

    def __init__(self, ui_stack: ASGIApp, api_app: ASGIApp, prefix: str) -> None:
        self.ui_stack, self.api_app, self.prefix = ui_stack, api_app, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http' and is_api_request(scope, self.prefix):
            await self.api_app(scope, receive, send)
        else:
            await self.ui_stack(scope, receive, send)
