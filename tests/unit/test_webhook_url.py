"""Which webhook URLs a rule accepts (http or https, a host, nothing a person could not mean), and how a URL
is shown to builders (its origin: a Slack webhook's path is its credential)."""

from __future__ import annotations

import pytest

from app.models.webhook_url import url_origin, url_refusal


@pytest.mark.parametrize(
    ('url', 'refused_because'),
    [
        ('https://hooks.slack.com/services/T0/B0/xyz', None),
        ('http://127.0.0.1:9000/hook', None),
        ('https://example.com', None),
        ('https://[::1]:8443/x?y=1', None),
        ('  https://example.com/padded  ', None),  # surrounding spaces are trimmed
        ('ftp://example.com/x', 'http:// or https://'),
        ('example.com/hook', 'http:// or https://'),
        ('javascript:alert(1)', 'http:// or https://'),
        ('https://', 'must name a host'),
        ('https://user:pass@example.com/x', 'user name or password'),
        ('https://example.com/a b', 'spaces or control characters'),
        ('https://example.com/\x00', 'spaces or control characters'),
        ('https://example.com:99999/', 'not a URL'),
        ('https://example.com:0/', 'port 0'),
        ('https://example.com/x#frag', 'fragment'),
    ],
)
def test_url_refusal(url: str, refused_because: str | None) -> None:
    reason = url_refusal(url)
    if refused_because is None:
        assert reason is None
    else:
        assert reason is not None and refused_because in reason


@pytest.mark.parametrize(
    ('url', 'origin'),
    [
        ('https://hooks.slack.com/services/T0/B0/xyz', 'https://hooks.slack.com/…'),
        ('https://example.com', 'https://example.com'),
        ('https://example.com/', 'https://example.com'),
        ('http://127.0.0.1:9000/hook?token=1', 'http://127.0.0.1:9000/…'),
    ],
)
def test_builders_see_only_the_origin(url: str, origin: str) -> None:
    assert url_origin(url) == origin
