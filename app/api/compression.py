"""Which of the UI's answers are gzip-compressed: NiceGUI's GZipMiddleware, except for the artifact downloads
(pages/artifact_download.py). An artifact passed through gzip lost its Content-Length (a browser showed a large
download with no size and no progress), could not be answered by byte range (no resume), and cost the server a
compression of files that are mostly compressed already (packages, archives, images)."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

SENT_AS_STORED = ('/run-artifacts/',)


def compresses(path: str) -> bool:
    """Pure: whether the UI's answer at `path` may be gzip-compressed."""
    return not path.startswith(SENT_AS_STORED)


class UiCompression(GZipMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http' and not compresses(scope.get('path', '')):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
