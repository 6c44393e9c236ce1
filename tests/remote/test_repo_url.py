from __future__ import annotations

import pytest

from app.services.repositories.repo_url import (
    DEFAULT_ALLOWED,
    RepoLocation,
    UnusableRepository,
    allow_protocol_env,
    classify,
    local_refusal,
    refusal_reason,
)


@pytest.mark.parametrize(
    ('value', 'expected'),
    [
        ('/srv/git/app', RepoLocation('path', None, '/srv/git/app')),
        ('https://github.com/org/app.git', RepoLocation('https', 'github.com', 'https://github.com/org/app.git')),
        ('https://GitHub.com/org/app', RepoLocation('https', 'github.com', 'https://GitHub.com/org/app')),
        ('http://127.0.0.1:8080/app.git', RepoLocation('http', '127.0.0.1', 'http://127.0.0.1:8080/app.git')),
        ('https://user@host.example/a.git', RepoLocation('https', 'host.example', 'https://user@host.example/a.git')),
        ('https://user:tok@host.example/a', RepoLocation('https', 'host.example', 'https://user@host.example/a')),
        ('https://:tok@host.example/a', RepoLocation('https', 'host.example', 'https://host.example/a')),
        ('ssh://git@host.example:2222/org/a', RepoLocation('ssh', 'host.example', 'ssh://git@host.example:2222/org/a')),
        ('git+ssh://host.example/a', RepoLocation('ssh', 'host.example', 'git+ssh://host.example/a')),
        ('git@github.com:org/app.git', RepoLocation('scp', 'github.com', 'git@github.com:org/app.git')),
        ('github.com:org/app.git', RepoLocation('scp', 'github.com', 'github.com:org/app.git')),
        ('git@[::1]:org/app.git', RepoLocation('scp', '::1', 'git@[::1]:org/app.git')),
        ('git://127.0.0.1:9418/app.git', RepoLocation('git', '127.0.0.1', 'git://127.0.0.1:9418/app.git')),
        ('https://[::1]:8443/app.git', RepoLocation('https', '::1', 'https://[::1]:8443/app.git')),
        ('file:///srv/git/app.git', RepoLocation('file', None, 'file:///srv/git/app.git')),
        ('file://localhost/srv/app.git', RepoLocation('file', None, 'file://localhost/srv/app.git')),
        ('./relative/app', RepoLocation('path', None, './relative/app')),
    ],
)
def test_classify(value: str, expected: RepoLocation) -> None:
    assert classify(value) == expected


@pytest.mark.parametrize(
    ('value', 'message'),
    [
        ('', 'empty'),
        ('ext::sh -c touch% /tmp/pwned', 'ext:: remote helpers are not allowed'),
        ('fd::3', 'fd:: remote helpers'),
        ('ftp://host.example/a', 'the ftp:// scheme is not supported'),
        ('https:///no-host', 'no valid host'),
        ('https://host.example:port/a', 'invalid port'),
        ('ssh://-oProxyCommand=x/a', 'no valid host'),
        ('ssh://-oProxyCommand=x@host/a', 'invalid user name'),
        ('file://elsewhere/a', 'not an absolute file:// URL'),
        ('user:secret@host.example:org/a.git', 'looks like a password'),
    ],
)
def test_classify_refuses_what_git_must_not_read(value: str, message: str) -> None:
    with pytest.raises(UnusableRepository, match=message):
        classify(value)


@pytest.mark.parametrize(
    ('value', 'allowed', 'reason'),
    [
        # usable
        ('/srv/git/app', DEFAULT_ALLOWED, None),
        ('https://github.com/org/app.git', DEFAULT_ALLOWED, None),
        ('http://127.0.0.1:8080/app.git', DEFAULT_ALLOWED, None),
        ('https://user@github.com/org/app.git', DEFAULT_ALLOWED, None),
        ('ssh://git@github.com/org/app.git', DEFAULT_ALLOWED, None),
        ('ssh://git@github.com:2222/org/app.git', DEFAULT_ALLOWED, None),
        ('git@github.com:org/app.git', DEFAULT_ALLOWED, None),
        ('git@github.com:org/app.git', frozenset({'ssh'}), None),
        ('git://127.0.0.1/app.git', DEFAULT_ALLOWED, None),
        ('file:///srv/git/app.git', DEFAULT_ALLOWED, None),
        ('https://[::1]:8443/app.git', DEFAULT_ALLOWED, None),
        # option injection and remote helpers
        ('', DEFAULT_ALLOWED, 'the repository is empty'),
        ('--upload-pack=touch /tmp/x', DEFAULT_ALLOWED, 'not an option'),
        ('-oProxyCommand=x', DEFAULT_ALLOWED, 'not an option'),
        ('ext::sh -c touch% /tmp/pwned', DEFAULT_ALLOWED, 'ext:: remote helpers are not allowed'),
        ('fd::17', DEFAULT_ALLOWED, 'fd:: remote helpers are not allowed'),
        ('persistent-https::https://host/a', DEFAULT_ALLOWED, 'persistent-https:: remote helpers'),
        ('ssh://-oProxyCommand=touch/a', DEFAULT_ALLOWED, 'no valid host'),
        ('-host.example:org/a', DEFAULT_ALLOWED, 'not an option'),
        # schemes
        ('ftp://host.example/a.git', DEFAULT_ALLOWED, 'the ftp:// scheme is not supported'),
        ('HTTPS://host.example/a.git', DEFAULT_ALLOWED, 'the HTTPS:// scheme is not supported'),
        ('http://host.example/a.git', frozenset({'https', 'ssh'}), 'the http protocol is not allowed'),
        ('git@host.example:a.git', frozenset({'https'}), 'the ssh protocol is not allowed'),
        ('git://host.example/a.git', frozenset({'https', 'ssh'}), 'the git protocol is not allowed'),
        ('file:///srv/a.git', frozenset({'https'}), 'the file protocol is not allowed'),
        ('/srv/a.git', frozenset({'https'}), 'the file protocol is not allowed'),
        # local paths
        ('relative/app', DEFAULT_ALLOWED, 'relative path'),
        ('./app', DEFAULT_ALLOWED, 'relative path'),
        ('~/src/app', DEFAULT_ALLOWED, 'relative path'),
        ('file://srv/a.git', DEFAULT_ALLOWED, 'not an absolute file:// URL'),
        # secrets in the URL
        ('https://user:tok@github.com/org/a.git', DEFAULT_ALLOWED, 'set the project credentials'),
        ('https://:tok@github.com/org/a.git', DEFAULT_ALLOWED, 'carries a password or token'),
        ('ssh://git:pw@github.com/org/a.git', DEFAULT_ALLOWED, 'carries a password or token'),
        ('user:pw@github.com:org/a.git', DEFAULT_ALLOWED, 'looks like a password'),
        # whitespace and control characters
        ('https://host.example/a b.git', DEFAULT_ALLOWED, 'whitespace or a control character'),
        (' /srv/app', DEFAULT_ALLOWED, 'whitespace'),
        ('/srv/app\n', DEFAULT_ALLOWED, 'whitespace'),
        ('https://host.example/a\x00', DEFAULT_ALLOWED, 'control character'),
        ('https://host.example/a\u202e', DEFAULT_ALLOWED, 'control character'),
        # hosts
        ('https:///org/a.git', DEFAULT_ALLOWED, 'no valid host'),
        ('ssh:///org/a.git', DEFAULT_ALLOWED, 'no valid host'),
        ('https://host.example:99x/a.git', DEFAULT_ALLOWED, 'invalid port'),
        ('host.example:', DEFAULT_ALLOWED, 'names no repository path'),
    ],
)
def test_refusal_reason(value: str, allowed: frozenset[str], reason: str | None) -> None:
    got = refusal_reason(value, allowed)
    if reason is None:
        assert got is None
    else:
        assert got is not None and reason in got, got


def test_refusal_never_echoes_the_secret() -> None:
    reason = refusal_reason('https://user:ghp_secret123@github.com/org/a.git')
    assert reason is not None and 'ghp_secret123' not in reason and 'https://user@github.com/org/a.git' in reason


@pytest.mark.parametrize(
    ('allowed', 'expected'),
    [
        (DEFAULT_ALLOWED, 'file:git:http:https:ssh'),
        (frozenset({'https'}), 'https'),
        (frozenset({'scp'}), 'ssh'),
        (frozenset({'scp', 'ssh', 'https'}), 'https:ssh'),
        (frozenset({'path'}), 'file'),
        (frozenset(), ''),
    ],
)
def test_allow_protocol_env(allowed: frozenset[str], expected: str) -> None:
    assert allow_protocol_env(allowed) == expected


def test_allow_protocol_env_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match='ext'):
        allow_protocol_env(frozenset({'https', 'ext'}))


@pytest.mark.parametrize(
    ('value', 'team_mode', 'allow_local', 'refused_because'),
    [
        # team mode: the server's own disk is not a project's repository
        ('/srv/repos/app', True, False, 'a path on the server'),
        ('/data/runboard/mirrors/0a1b2c.git', True, False, 'a path on the server'),  # another team's mirror
        ('file:///srv/repos/app', True, False, 'a file:// URL'),
        ('file://localhost/srv/repos/app', True, False, 'a file:// URL'),
        # remote URLs are what team mode takes
        ('https://github.com/org/app.git', True, False, None),
        ('ssh://git@github.com/org/app.git', True, False, None),
        ('git@github.com:org/app.git', True, False, None),
        ('git://git.example.com/app.git', True, False, None),
        # the deployment opened it, or one person's machine
        ('/srv/repos/app', True, True, None),
        ('file:///srv/repos/app', True, True, None),
        ('/home/me/app', False, False, None),
        ('file:///home/me/app', False, False, None),
    ],
)
def test_local_refusal(value: str, team_mode: bool, allow_local: bool, refused_because: str | None) -> None:
    reason = local_refusal(value, team_mode=team_mode, allow_local=allow_local)
    if refused_because is None:
        assert reason is None, reason
    else:
        assert reason is not None and refused_because in reason and 'RUNBOARD_ALLOW_LOCAL_REPOSITORIES=true' in reason
