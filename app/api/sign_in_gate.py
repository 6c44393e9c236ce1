"""The local sign-in gate (app/local_sign_in.py decides): in front of every page, the NiceGUI websocket
(socket.io under /_nicegui_ws, polling and websocket alike), /plain, /run-logs/..., static files and the docs of
a login-free server. A request with the sign-in token in its query leaves the cookie and is sent to the same URL
without it; one with neither is refused with 401 and a small page saying to open the link printed at start.
API requests pass: the API asks for its own Bearer token, and its health probes stay open."""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.routing import is_api_request
from app.local_sign_in import cookie_name, decide, set_cookie_header

REFUSAL_HTML = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Open the sign-in link \xc2\xb7 Runboard</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
code{background:#eee;padding:0 .25rem}@media (prefers-color-scheme: dark){body{background:#121212;color:#eee}
code{background:#333}}</style></head>
<body><h1>Open the sign-in link</h1>
<p>This Runboard serves only the person who started it. Open the link it printed when it started
(<code>Runboard is ready at http://&hellip;/?token=&hellip;</code>), or run <code>runboard open</code>
on this machine as that person.</p></body></html>
"""


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope['headers']:
        if key == b'cookie' and (found := cookie_parser(value.decode('latin-1')).get(name)) is not None:
            return found
    return None


class LocalSignInGate:
    def __init__(self, app: ASGIApp, *, token: str, port: int, api_prefix: str | None) -> None:
        """api_prefix: where this process's API lives ('/api'), None for a UI-only process (--server)."""
        self.app, self.token, self.port, self.api_prefix = app, token, port, api_prefix
        self.cookie = cookie_name(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope['type']
        if kind not in ('http', 'websocket'):
            await self.app(scope, receive, send)
            return
        api = kind == 'http' and self.api_prefix is not None and is_api_request(scope, self.api_prefix)
        verdict = decide(
            kind=kind,
            method=scope.get('method', 'GET'),
            path=scope['path'],
            query=scope.get('query_string', b'').decode('latin-1'),
            cookie=_cookie(scope, self.cookie),
            token=self.token,
            api=api,
        )
        if verdict.action == 'pass':
            await self.app(scope, receive, send)
        elif verdict.action == 'sign_in':
            assert verdict.location is not None
            await _send(
                send,
                303,
                [
                    (b'location', verdict.location.encode('latin-1')),
                    (b'set-cookie', set_cookie_header(self.port, self.token).encode()),
                    (b'cache-control', b'no-store'),
                ],
                b'',
            )
        elif kind == 'websocket':
            await self._refuse_websocket(scope, send)
        else:
            await _send(send, 401, [(b'content-type', b'text/html; charset=utf-8')], REFUSAL_HTML)

    async def _refuse_websocket(self, scope: Scope, send: Send) -> None:
        if 'websocket.http.response' in scope.get('extensions', {}):  # the handshake answered 401 with the page
            await send(
                {
                    'type': 'websocket.http.response.start',
                    'status': 401,
                    'headers': [
                        (b'content-type', b'text/html; charset=utf-8'),
                        (b'content-length', str(len(REFUSAL_HTML)).encode()),
                    ],
                }
            )
            await send({'type': 'websocket.http.response.body', 'body': REFUSAL_HTML})
        else:  # a server without the extension answers a close before accept with 403
            await send({'type': 'websocket.close', 'code': 1008})


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b'content-length', str(len(body)).encode())]
    await send({'type': 'http.response.start', 'status': status, 'headers': headers})
    await send({'type': 'http.response.body', 'body': body})
