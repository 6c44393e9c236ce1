"""A browser that leaves before its answer is not a server error.

Starlette's BaseHTTPMiddleware (NiceGUI uses it) raises RuntimeError('No response returned.') when the
client disconnected before the app below produced a response; uvicorn then logs it as an "Exception in
ASGI application" with a traceback. This outer layer watches the request's receive channel and drops that
one error when the client really disconnected; any other error, or that one without a disconnect, passes.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
NO_RESPONSE = 'No response returned.'


class QuietDisconnects:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        left = False

        async def watched_receive() -> Message:
            nonlocal left
            message = await receive()
            if message['type'] == 'http.disconnect':
                left = True
            return message

        try:
            await self.app(scope, watched_receive, send)
        except RuntimeError as exc:
            if not (left and str(exc) == NO_RESPONSE):
                raise
            log.debug('%s %s: the client left before the answer', scope.get('method'), scope.get('path'))
