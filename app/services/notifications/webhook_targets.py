"""Where a webhook goes: its host resolved once, every address it resolves to checked against the deployment's
policy (webhook_policy.py), and the request sent to exactly the checked address, so a DNS answer that changes
after the check (rebinding) changes nothing. The URL keeps its host name in the Host header and, for https, in
TLS (SNI and the certificate's name check). Rules are checked when they are created or changed (a literal
address, or a name that resolves now) and again before every attempt.

The other URLs an operator chooses, a project's forge API (issues, pull requests, branches, commit statuses), go
by the same policy and setting: `GuardedTransport` makes the same check and connection for every request an httpx
client sends through it, redirects included, and `TargetGuard` hands both checks to the forge clients
(services/repositories/forge.py), which may not import this package.

Behind an egress proxy (`RUNBOARD_OUTBOUND_PROXY`, docs/security.md): the host is still checked as above where it
resolves here (a name that does not resolve here passes only when the policy allows it by name, or allows
everything), and the request then goes to the proxy by name (CONNECT host:port for https, so TLS checks the
certificate's name end to end). The proxy resolves the name again, so pinning the checked address is its job then:
an egress proxy is the network's own control of where requests go."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

import httpx

from app.config import Settings
from app.infra.http import tls_context
from app.services.notifications.webhook_policy import (
    IPAddress,
    TargetPolicy,
    address_refusal,
    host_allowed,
    parse_policy,
)


class TargetRefused(Exception):
    """The policy refuses where this URL points; the message is the reason, safe to show and log."""


def policy_of(settings: Settings) -> TargetPolicy:
    policy = parse_policy(settings.webhook_allowed_hosts, team_mode=settings.is_team_mode)
    return dataclasses.replace(policy, proxy=settings.outbound_proxy or None)


def resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolves `host` to, as the HTTP client would (getaddrinfo also reads
    2130706433, 0x7f.1 and 017700000001 as 127.0.0.1). Tests replace this function to control DNS."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _parts(url: str) -> tuple[httpx.URL, str, int]:
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode('ascii')  # IDNA-encoded, IPv6 without brackets
    return parsed, host, parsed.port or (443 if parsed.scheme == 'https' else 80)


def _addresses(host: str, port: int) -> list[IPAddress]:
    return [ipaddress.ip_address(address.split('%', 1)[0]) for address in resolve(host, port)]


def _first_refusal(host: str, addresses: list[IPAddress], policy: TargetPolicy) -> str | None:
    """Every address must be allowed: a name answering with one public and one private address is refused."""
    return next((reason for a in addresses if (reason := address_refusal(host, a, policy))), None)


def refusal_now(url: str, policy: TargetPolicy) -> str | None:
    """At create and update: the reason when the URL's host is an address, or a name that resolves now, that the
    policy refuses. A name that does not resolve now passes (every attempt checks again)."""
    if policy.everything:
        return None
    try:
        _, host, port = _parts(url)
        addresses = _addresses(host, port)
    except (OSError, UnicodeError, ValueError, httpx.InvalidURL):
        return None
    return _first_refusal(host, addresses, policy)


@dataclass(frozen=True)
class Target:
    """One attempt's connections: `urls` name the checked addresses (tried in the resolver's order until one
    connects); the Host header and TLS keep the name."""

    urls: tuple[str, ...]
    host_header: str
    extensions: dict[str, Any]


def checked_target(url: str, policy: TargetPolicy) -> Target:
    """Before an attempt: resolve once and check every address. TargetRefused says why not; OSError when the
    name does not resolve."""
    parsed, host, port = _parts(url)
    addresses = _addresses(host, port)
    if not addresses:
        raise OSError(f'{host} resolves to no address')
    reason = _first_refusal(host, addresses, policy)
    if reason:
        raise TargetRefused(reason)
    shown = f'[{host}]' if ':' in host else host
    host_header = shown if parsed.port is None else f'{shown}:{parsed.port}'
    extensions = {'sni_hostname': host} if parsed.scheme == 'https' else {}
    urls = tuple(str(parsed.copy_with(host=str(address))) for address in addresses)
    return Target(urls, host_header, extensions)


def check_for_proxy(url: str, policy: TargetPolicy) -> None:
    """Before a request through the egress proxy: TargetRefused when the policy refuses where the URL's host resolves
    here, or when it does not resolve here and the policy does not allow it by name (or everything)."""
    if policy.everything:
        return
    _, host, port = _parts(url)
    try:
        addresses = _addresses(host, port)
    except (OSError, UnicodeError, ValueError):
        addresses = []
    if not addresses:
        if host_allowed(host, policy):
            return
        raise TargetRefused(
            f'{host} does not resolve here, so its address cannot be checked: allow it by name in '
            'RUNBOARD_WEBHOOK_ALLOWED_HOSTS to send it through the proxy'
        )
    reason = _first_refusal(host, addresses, policy)
    if reason:
        raise TargetRefused(reason)


class RequestRefused(httpx.TransportError):
    """TargetRefused inside an httpx transport, so that a client's usual handling of httpx errors reports it; the
    message is the reason, safe to show and log."""


class GuardedTransport(httpx.BaseTransport):
    """Sends each request only where the policy allows, as a webhook attempt is sent: the host resolved once,
    every address checked, the request sent to exactly a checked address (the name in the Host header and TLS).
    A redirect is a request of its own through here, so it is checked too. No proxy from the environment (an httpx
    client given a transport takes none); RUNBOARD_OUTBOUND_PROXY's, when set (module docstring)."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self._inner = httpx.HTTPTransport(verify=tls_context(), proxy=policy.proxy)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.policy.proxy:  # checked here, sent by name: the proxy connects (module docstring)
            try:
                check_for_proxy(str(request.url), self.policy)
            except TargetRefused as exc:
                raise RequestRefused(str(exc), request=request) from exc
            return self._inner.handle_request(request)
        try:
            target = checked_target(str(request.url), self.policy)
        except TargetRefused as exc:
            raise RequestRefused(str(exc), request=request) from exc
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpx.ConnectError(f'cannot resolve {request.url.host}: {exc}', request=request) from exc
        headers = request.headers.copy()
        headers['Host'] = target.host_header
        extensions = {**request.extensions, **target.extensions}
        *others, last = target.urls
        for url in others:
            try:
                return self._inner.handle_request(self._pinned(request, url, headers, extensions))
            except httpx.ConnectError:
                continue  # the name's next address (IPv6 first, say, with a listener on IPv4 only)
        return self._inner.handle_request(self._pinned(request, last, headers, extensions))

    @staticmethod
    def _pinned(request: httpx.Request, url: str, headers: httpx.Headers, extensions: dict[str, Any]) -> httpx.Request:
        return httpx.Request(request.method, url, headers=headers, stream=request.stream, extensions=extensions)

    def close(self) -> None:
        self._inner.close()


@dataclass(frozen=True)
class TargetGuard:
    """The deployment's policy as the forge clients take it (services/repositories/forge.py): the check at save
    time, and a transport that checks every request."""

    policy: TargetPolicy

    def refusal_now(self, url: str) -> str | None:
        return refusal_now(url, self.policy)

    def transport(self) -> httpx.BaseTransport:
        return GuardedTransport(self.policy)
