"""Pure: which webhook target URLs a notification rule accepts, and how one is shown to people who may not
see all of it."""

from __future__ import annotations

from urllib.parse import urlsplit


def url_refusal(url: str) -> str | None:
    """None when `url` is an http(s) URL Runboard can POST to; else the reason, in words a person can act on."""
    value = url.strip()
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in value):
        return 'must not contain spaces or control characters'
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError as exc:
        return f'is not a URL ({exc})'
    if parts.scheme.lower() not in ('http', 'https'):
        return 'must be an http:// or https:// URL'
    if '@' in parts.netloc:
        return 'must not carry a user name or password (receivers check the X-Runboard-Signature header instead)'
    if not parts.hostname:
        return 'must name a host'
    if port == 0:
        return 'must not use port 0'
    if parts.fragment or value.endswith('#'):
        return 'must not have a #fragment (it is never sent)'
    return None


def url_origin(url: str) -> str:
    """The scheme and host of a URL, with '/…' when it has more: a Slack webhook's path is its credential."""
    parts = urlsplit(url)
    origin = f'{parts.scheme}://{parts.netloc}'
    rest = url[len(origin) :]
    return origin + ('/…' if rest.strip('/') else '')


def url_host(url: str) -> str:
    return urlsplit(url).hostname or url
