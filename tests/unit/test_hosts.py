"""Which Host headers a server answers (DNS rebinding guard)."""

from __future__ import annotations

import pytest

from app.api.hosts import host_allowed, host_name


@pytest.mark.parametrize(
    'header, name',
    [
        ('127.0.0.1:8080', '127.0.0.1'),
        ('localhost', 'localhost'),
        ('LocalHost:1', 'localhost'),
        ('[::1]:8080', '::1'),
        ('[::1]', '::1'),
        ('runboard.example.org', 'runboard.example.org'),
        ('Runboard.Example.org:443', 'runboard.example.org'),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    'header, allowed, enforce, answered',
    [
        ('127.0.0.1:8080', (), True, True),
        ('localhost:8080', (), True, True),
        ('[::1]:8080', (), True, True),
        ('rebind.invalid:8080', (), True, False),  # a rebinding page's own name
        ('127.0.0.1.rebind.invalid', (), True, False),
        ('localhost.evil.example', (), True, False),
        ('', (), True, False),
        (None, (), True, False),
        ('runboard.lan:8080', ('runboard.lan',), True, True),  # RUNBOARD_ALLOWED_HOSTS adds names
        ('other.lan', ('runboard.lan',), True, False),
        ('anything.example', ('*',), True, True),
        ('anything.example', (), False, True),  # sign-in mode without the setting: every request
    ],
)  # carries its own credential
def test_host_allowed(header: str | None, allowed: tuple, enforce: bool, answered: bool) -> None:
    assert host_allowed(header, allowed=allowed, enforce=enforce) is answered
