"""Pure: which addresses a webhook may be sent to (server-side request forgery). A deployment's
RUNBOARD_WEBHOOK_ALLOWED_HOSTS, in the style of Gitea's `[webhook] ALLOWED_HOST_LIST`, is a comma list of:

- `external`: public (globally routable) addresses; the default in team mode;
- `private`: RFC 1918 (10/8, 172.16/12, 192.168/16), shared 100.64/10 and IPv6 unique-local fc00::/7;
- `loopback`: 127/8 and ::1 (a person's own listener; allowed by default in local mode);
- `*`: every address (link-local, multicast, the unspecified and reserved ones too);
- a CIDR or an address (`10.1.2.0/24`, `fd00::5`): those addresses;
- a host name, with `*` and `?` globs (`hooks.internal`, `*.ci.example.com`): that name, whatever it resolves to.

Link-local (169.254/16, cloud metadata; fe80::/10), multicast, unspecified (0.0.0.0, ::) and reserved
addresses open only through `*` or a CIDR naming them. The decision is made on the address the name resolved to,
the one the sender then connects to (services/notifications/webhook_targets.py)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Category = Literal['loopback', 'private', 'link-local', 'multicast', 'unspecified', 'reserved', 'external']
Keyword = Literal['external', 'private', 'loopback']

SETTING = 'RUNBOARD_WEBHOOK_ALLOWED_HOSTS'
TEAM_DEFAULT = 'external'
LOCAL_DEFAULT = 'external,private,loopback'
KEYWORDS: tuple[Keyword, ...] = ('external', 'private', 'loopback')
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net) for net in ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7')
)
NAT64 = ipaddress.ip_network('64:ff9b::/96')  # an IPv4 address inside IPv6, translated by a NAT64 gateway
_ARTICLE = {'external': 'an', 'unspecified': 'an'}


@dataclass(frozen=True)
class TargetPolicy:
    everything: bool = False
    keywords: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    host_globs: tuple[str, ...] = ()
    # RUNBOARD_OUTBOUND_PROXY: requests go through this HTTP proxy, by name (webhook_targets.py says what changes)
    proxy: str | None = None


def parse_policy(value: str, *, team_mode: bool) -> TargetPolicy:
    """The policy a setting's value names; blank: the mode's default (team: `external`; local: external, private
    and loopback)."""
    if not value.strip():
        value = TEAM_DEFAULT if team_mode else LOCAL_DEFAULT
    keywords: set[str] = set()
    networks: list[IPNetwork] = []
    globs: list[str] = []
    everything = False
    for entry in (part.strip().lower() for part in value.split(',')):
        if not entry:
            continue
        if entry == '*':
            everything = True
        elif entry in KEYWORDS:
            keywords.add(entry)
        else:
            try:
                networks.append(ipaddress.ip_network(entry.strip('[]'), strict=False))
            except ValueError:
                globs.append(entry.rstrip('.'))
    return TargetPolicy(everything, frozenset(keywords), tuple(networks), tuple(globs))


def unwrapped(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (::ffff:a.b.c.d, 6to4, NAT64), which is where it ends up."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def category(address: IPAddress) -> Category:
    address = unwrapped(address)
    if address.is_unspecified:
        return 'unspecified'
    if address.is_loopback:
        return 'loopback'
    if address.is_link_local:
        return 'link-local'
    if address.is_multicast:
        return 'multicast'
    if any(address in net for net in PRIVATE_NETWORKS):
        return 'private'
    if address.is_global and not address.is_reserved:
        return 'external'
    return 'reserved'  # documentation, benchmarking, broadcast, 240/4, ...: not a receiver's address


def host_allowed(host: str, policy: TargetPolicy) -> bool:
    """The host name itself is on the list (a glob matches it): allowed wherever it resolves."""
    name = host.lower().rstrip('.')
    return any(fnmatchcase(name, glob) for glob in policy.host_globs)


def address_refusal(host: str, address: IPAddress, policy: TargetPolicy) -> str | None:
    """None when a webhook to `host` may connect to `address` (what it resolved to); else the reason, in words."""
    if policy.everything or host_allowed(host, policy):
        return None
    if any(address in net or unwrapped(address) in net for net in policy.networks):
        return None
    kind = category(address)
    if kind in policy.keywords:
        return None
    article = _ARTICLE.get(kind, 'a')
    if host.strip('[]').lower() == str(address):
        return f'{address} is {article} {kind} address, which {SETTING} does not allow'
    return f'{host} resolves to {address}, {article} {kind} address, which {SETTING} does not allow'
