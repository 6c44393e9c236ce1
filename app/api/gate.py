"""The API's one ASGI layer: everything an API request meets before FastAPI routes it, in one pass.

In order: the DNS-rebinding guard (api/hosts.py decides; 421), a bare path moved under /api (api/routing.py
decides), the correlation id (echoed or minted; in the problem bodies and the X-Correlation-ID header), the body
limit (413 before any handler parses a body), and on the way out the security headers (api/security_headers.py)
and the correlation id on the answer; an exception nothing handled becomes a problem that carries both.

One layer instead of six (HostGuard, SecurityHeaders, Correlation, ApiPath, BodyLimit, and the dispatcher's
route through the UI's layers): each was a coroutine frame and a `send` wrapper per message, and together they
cost an API request more than its routing (docs/performance.md, issue 35). The UI keeps its own layers
(server.guard_hosts): the dispatcher (api/routing.py) hands it everything that is not the API.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.hosts import host_allowed, misdirected
from app.api.problems import correlation_for, correlation_id, payload_too_large, unexpected_problem
from app.api.routing import is_api_request
from app.api.security_headers import with_security_headers

NO_BODY_METHODS = ('GET', 'HEAD', 'OPTIONS')


class ApiGate:
    """enforce_hosts / allowed_hosts: hosts.guard_settings; max_body_bytes: the largest API request body."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        max_body_bytes: int,
        allowed_hosts: tuple[str, ...] = (),
        enforce_hosts: bool = False,
    ) -> None:
        self.app, self.prefix, self.max_body_bytes = app, prefix, max_body_bytes
        self.allowed_hosts, self.enforce_hosts = tuple(a.lower() for a in allowed_hosts), enforce_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope['type']
        if kind not in ('http', 'websocket'):
            await self.app(scope, receive, send)
            return
        if self.enforce_hosts:
            host = next((v.decode('latin-1') for k, v in scope['headers'] if k == b'host'), None)
            if not host_allowed(host, allowed=self.allowed_hosts, enforce=True):
                if kind == 'websocket':
                    await send({'type': 'websocket.close', 'code': 1008})
                else:
                    await misdirected(host)(scope, receive, with_security_headers(send))
                return
        if kind == 'websocket':
            await self.app(scope, receive, send)
            return
        path = scope['path']
        api = path == self.prefix or path.startswith(self.prefix + '/')
        if not api and is_api_request(scope, self.prefix):  # a bare API path (POST /runs): served under the prefix
            path = self.prefix + path
            scope = {**scope, 'path': path, 'raw_path': path.encode()}
            api = True
        cid = correlation_for(scope)
        token = correlation_id.set(cid)
        scope.setdefault('state', {})['correlation_id'] = cid
        started = False
        cid_header = (b'x-correlation-id', cid.encode())

        async def answer(message: Message) -> None:
            nonlocal started
            if message['type'] == 'http.response.start':
                started = True
                headers = [(k, v) for k, v in message.get('headers', ()) if k.lower() != b'x-correlation-id']
                headers.append(cid_header)
                message['headers'] = headers
            await send(message)

        answer_with_headers = with_security_headers(answer)
        try:
            if api and scope['method'] not in NO_BODY_METHODS:
                body = await self.read_body(scope, receive, answer_with_headers)
                if body is None:  # refused (413) or the client left
                    return
                receive = body
            await self.app(scope, receive, answer_with_headers)
        except Exception as exc:
            if started or not api:
                raise
            await unexpected_problem(exc)(scope, receive, answer_with_headers)
        finally:
            correlation_id.reset(token)

    async def read_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The whole body, when it fits: at once refused when Content-Length says it does not, else (chunked)
        read up to the limit. Returns the receive that hands it on; None when the request was answered."""
        declared = next((v for k, v in scope['headers'] if k == b'content-length'), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await payload_too_large(self.max_body_bytes)(scope, receive, send)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message['type'] != 'http.request':  # the client went away
                return None
            chunk = message.get('body', b'')
            size += len(chunk)
            if size > self.max_body_bytes:
                await payload_too_large(self.max_body_bytes)(scope, receive, send)
                return None
            chunks.append(chunk)
            if not message.get('more_body', False):
                break
        body = b''.join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {'type': 'http.request', 'body': body, 'more_body': False}
            return await receive()

        return replay
