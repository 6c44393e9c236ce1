"""Pure checks on where a browser request comes from (no I/O): shared by the API's form posts and the
UI's plain pages, which may not import each other."""

from __future__ import annotations

from urllib.parse import urlsplit


def same_origin(*, origin: str | None, referer: str | None, host: str | None) -> bool:
    """Pure: does the request come from a page of this server? Origin first, else Referer; neither: no."""
    if not host:
        return False
    source = origin if origin and origin != 'null' else referer
    if not source:
        return False
    parts = urlsplit(source)
    return parts.scheme in ('http', 'https') and parts.netloc.lower() == host.lower()


def redirect_target(referer: str | None, host: str | None) -> str:
    """Pure: where a form post goes back to: the referring page of this server (path only), else '/'."""
    if referer and same_origin(origin=None, referer=referer, host=host):
        parts = urlsplit(referer)
        return (parts.path or '/') + (f'?{parts.query}' if parts.query else '')
    return '/'
