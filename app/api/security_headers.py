"""Response headers every answer carries (pages, API, problem+json errors, static files, /plain, /run-logs):
no other origin may frame a page (clickjacking: Runboard's pages hold Run, Stop and Settings controls), no
content-type sniffing, and the Referer leaves only to this origin. docs/security.md, "Response headers".

The native window (pywebview) loads the top-level page, not a frame, so framing protection does not touch it.
The CSP holds frame-ancestors and img-src only: NiceGUI's pages rely on inline scripts and styles a fuller policy
would stop. Images come from this origin alone (and data:/blob: URLs): an issue's or a summary's Markdown, which
anyone may write, cannot make every reader's browser call a tracking pixel elsewhere (GitHub proxies such images
for the same reason); the image shows its alt text.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_ANCESTORS = "frame-ancestors 'none'"
SECURITY_HEADERS = {
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': f"{FRAME_ANCESTORS}; img-src 'self' data: blob:",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
}


def with_security_headers(send: Send) -> Send:
    """`send` that sets the headers on the answer's start, replacing any value an inner layer set."""

    async def send_with_headers(message: Message) -> None:
        if message['type'] == 'http.response.start':
            headers = MutableHeaders(scope=message)
            own_policy = headers.get('content-security-policy', '')
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            if own_policy.startswith('sandbox'):  # an artifact (api/artifacts.py): its sandbox stays, its images too
                headers['content-security-policy'] = f'{own_policy}; {FRAME_ANCESTORS}'
        await send(message)

    return send_with_headers


class SecurityHeaders:
    """Outermost ASGI layer of the UI: sets the headers on every HTTP answer (the API's gate, api/gate.py, sets
    them on its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, with_security_headers(send))
