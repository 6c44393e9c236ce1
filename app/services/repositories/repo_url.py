"""Pure: what kind of git repository reference a project names, and whether this server may use it.

Kinds follow git's own parsing: `<scheme>://...` URLs, scp-like `[user@]host:path` (ssh), local paths.
A local path or file:// URL is the 'file' protocol for GIT_ALLOW_PROTOCOL, an scp-like one is 'ssh'.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, urlsplit

Kind = Literal['path', 'https', 'http', 'ssh', 'scp', 'git', 'file']

DEFAULT_ALLOWED: frozenset[str] = frozenset({'https', 'http', 'ssh', 'git', 'file'})
PROTOCOLS = ('file', 'git', 'http', 'https', 'ssh')

# git+ssh:// and ssh+git:// are git's historical aliases of ssh://
_SCHEMES: dict[str, Kind] = {
    'https': 'https',
    'http': 'http',
    'ssh': 'ssh',
    'git+ssh': 'ssh',
    'ssh+git': 'ssh',
    'git': 'git',
    'file': 'file',
}
# git reads `<transport>::<address>` as "run git-remote-<transport>" (ext:: runs any command)
_HELPER = re.compile(r'^[A-Za-z0-9._~+-]+::')
_SCHEME = re.compile(r'^([A-Za-z][A-Za-z0-9+.-]*)://')
_HOST = re.compile(r'^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)$')
_USER = re.compile(r'^[A-Za-z0-9._~%+][A-Za-z0-9._~%+-]*$')
_PROTOCOL_OF = {'path': 'file', 'scp': 'ssh'}


@dataclass(frozen=True)
class RepoLocation:
    kind: Kind
    host: str | None
    display: str  # safe to show and log: any password in the userinfo is removed


class UnusableRepository(ValueError):
    """The value names no repository git could use here; the message is a sentence for the user."""


def protocol_of(kind: Kind) -> str:
    """The GIT_ALLOW_PROTOCOL name of a kind."""
    return _PROTOCOL_OF.get(kind, kind)


def _bad_character(value: str) -> str | None:
    for char in value:
        if char.isspace() or unicodedata.category(char) in ('Cc', 'Cf'):
            return repr(char)
    return None


def _without_password(parts: SplitResult) -> str:
    if parts.password is None:
        return parts.geturl()
    user, _, hostport = parts.netloc.rpartition('@')
    username = user.split(':', 1)[0]
    return parts._replace(netloc=f'{username}@{hostport}' if username else hostport).geturl()


def _host_of(netloc: str) -> str:
    hostport = netloc.rpartition('@')[2]
    if hostport.startswith('['):
        return hostport.partition(']')[0] + ']'
    return hostport.partition(':')[0]


def _valid_host(host: str) -> bool:
    return bool(host) and _HOST.match(host) is not None and not host.startswith('-')


def _classify_url(value: str, scheme: str) -> RepoLocation:
    kind = _SCHEMES.get(scheme)
    if kind is None:
        raise UnusableRepository(f'the {scheme}:// scheme is not supported; use https://, ssh:// or git@host:path')
    parts = urlsplit(value)
    display = _without_password(parts)
    if kind == 'file':
        if parts.netloc not in ('', 'localhost'):
            raise UnusableRepository(f'{value!r} is not an absolute file:// URL; write it as file:///path/to/repo')
        return RepoLocation('file', None, value)
    try:
        _ = parts.port  # a non-numeric port raises
    except ValueError as exc:
        raise UnusableRepository(f'{display!r} has an invalid port') from exc
    if not _valid_host(_host_of(parts.netloc)) or not parts.hostname:
        raise UnusableRepository(f'{display!r} has no valid host name')
    if parts.username and not _USER.match(parts.username):
        raise UnusableRepository(f'{display!r} has an invalid user name')
    return RepoLocation(kind, parts.hostname, display)


def _classify_scp(value: str) -> RepoLocation:
    bracket = value.find(']:') if '[' in value.split(':', 1)[0] else -1  # [ipv6]:path
    target, path = (value[: bracket + 1], value[bracket + 2 :]) if bracket > 0 else value.split(':', 1)
    user, _, host = target.rpartition('@')
    if '@' in path.split('/', 1)[0]:  # user:secret@host:path, git would take `user` for the host
        raise UnusableRepository(
            f'{user or host}:***@... looks like a password in the address; set project credentials instead'
        )
    if not _valid_host(host):
        raise UnusableRepository(f'{value!r} has no valid host name')
    if user and not _USER.match(user):
        raise UnusableRepository(f'{value!r} has an invalid user name')
    if not path:
        raise UnusableRepository(f'{value!r} names no repository path after the colon')
    return RepoLocation('scp', host.strip('[]').lower(), value)


def classify(value: str) -> RepoLocation:
    """The kind, host and display form of a repository reference; UnusableRepository when git would not
    read it as a URL, an scp-like address or a path we can use."""
    if not value:
        raise UnusableRepository('the repository is empty')
    if _HELPER.match(value):
        transport = value.split('::', 1)[0]
        raise UnusableRepository(f'{transport}:: remote helpers are not allowed; use an https:// or ssh:// URL')
    scheme = _SCHEME.match(value)
    if scheme:
        return _classify_url(value, scheme.group(1))
    colon, slash = value.find(':'), value.find('/')
    if colon > 0 and (slash < 0 or colon < slash):
        return _classify_scp(value)
    return RepoLocation('path', None, value)


def _has_password(location: RepoLocation, value: str) -> bool:
    return location.kind not in ('path', 'file', 'scp') and urlsplit(value).password is not None


def refusal_reason(value: str, allowed: frozenset[str] = DEFAULT_ALLOWED) -> str | None:
    """None when git may fetch `value` on this server; otherwise a sentence saying why not."""
    if not value:
        return 'the repository is empty'
    if value.startswith('-'):  # would reach git as an option (--upload-pack=...)
        return 'a repository must be a URL or a path, not an option'
    if not _HELPER.match(value) and (bad := _bad_character(value)):
        return f'the repository contains whitespace or a control character ({bad}); remove it'
    try:
        location = classify(value)
    except UnusableRepository as exc:
        return str(exc)
    if _has_password(location, value):
        return (
            f'{location.display!r} carries a password or token in the URL; remove it and set the project '
            'credentials instead (they are stored encrypted and never written into git config)'
        )
    if location.kind == 'path' and not value.startswith('/'):
        return f'{value!r} is a relative path; use the absolute path of the git repository'
    protocol = protocol_of(location.kind)
    if protocol not in allowed:
        shown = ', '.join(sorted(allowed)) or 'none'
        return f'the {protocol} protocol is not allowed on this server (allowed: {shown})'
    return None


LOCAL_SETTING = 'RUNBOARD_ALLOW_LOCAL_REPOSITORIES'


def local_refusal(value: str, *, team_mode: bool, allow_local: bool) -> str | None:
    """Team mode: why a server path or file:// URL is not a project's repository (it reads this server's disk:
    other teams' mirrors, any repository the server can see); None for remote URLs, in local mode, or when the
    deployment allows local repositories."""
    if not team_mode or allow_local:
        return None
    try:
        kind = classify(value.strip()).kind
    except UnusableRepository:
        return None  # refusal_reason says what is wrong with it
    if kind not in ('path', 'file'):
        return None
    what = 'a path on the server' if kind == 'path' else 'a file:// URL'
    return (
        f"{what} reads the server's own disk, which team mode does not allow; use an https://, ssh:// or git:// "
        f'URL (a deployment that needs local repositories sets {LOCAL_SETTING}=true)'
    )


def allow_protocol_env(allowed: frozenset[str]) -> str:
    """The GIT_ALLOW_PROTOCOL value for an allowed set (names as in DEFAULT_ALLOWED; 'scp' means ssh)."""
    names = {_PROTOCOL_OF.get(name, name) for name in allowed}
    unknown = names - set(PROTOCOLS)
    if unknown:
        raise ValueError(f'unknown protocols: {", ".join(sorted(unknown))}')
    return ':'.join(sorted(names))
