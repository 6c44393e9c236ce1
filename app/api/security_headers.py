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


def content_security_policy(own_policy: str) -> str:
    """Pure: the CSP an answer goes out with, given the one an inner layer set. An artifact's (api/artifacts.py,
    `sandbox …`) stays, its images too, with `frame-ancestors 'none'` once: an artifact passes this layer more than
    once (the API's gate, then the UI's /run-artifacts, which passes the API's policy on), and a directive repeated
    is one a browser ignores and a reader of the headers wonders about. Anything else: the pages' policy."""
    if not own_policy.startswith('sandbox'):
        return SECURITY_HEADERS['Content-Security-Policy']
    directives = [directive.strip() for directive in own_policy.split(';') if directive.strip()]
    kept = [directive for directive in directives if directive.split()[0].lower() != 'frame-ancestors']
    return '; '.join([*kept, FRAME_ANCESTORS])


def with_security_headers(send: Send) -> Send:
    """`send` that sets the headers on the answer's start, replacing any value an inner layer set."""

    async def send_with_headers(message: Message) -> None:
        if message['type'] == 'http.response.start':
            headers = MutableHeaders(scope=message)
            own_policy = headers.get('content-security-policy', '')
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            headers['content-security-policy'] = content_security_policy(own_policy)
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
