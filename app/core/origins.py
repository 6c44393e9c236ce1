"""Pure checks on where a browser request comes from (no I/O): shared by the API's form posts and the
UI's plain pages, which may not import each other."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# the browser a loopback peer (this server's own UI) checks a typed token for: services/identity/failed_sign_ins.py
BROWSER_ADDRESS_HEADER = 'x-runboard-browser-address'


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


def is_loopback(host: str | None) -> bool:
    """Pure: whether a peer is this machine (a name that is not an address is not)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def counted_address(peer: str | None, browser_address: str | None) -> str | None:
    """Pure: the address a failure is counted against, None when it is not counted: a loopback peer's own checks
    are not; the browser address it names is (only a loopback peer may name one)."""
    if is_loopback(peer):
        return (browser_address or '').strip()[:64] or None
    return peer or None
