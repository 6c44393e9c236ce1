"""Failed token checks are counted per client address: past the limit, that address's unknown tokens get 429 with a
Retry-After (no database read), while tokens already in use and other addresses carry on. This server's own UI (a
loopback peer) names the browser whose typed token it checks; its own calls, and local scripts, are not counted."""

from __future__ import annotations

import httpx

from app.core.origins import BROWSER_ADDRESS_HEADER
from tests.helpers.api import QUEUED, add_user, assert_problem, serving


def _me(server, token: str, browser: str | None = None) -> httpx.Response:  # noqa: ANN001
    headers = {'Authorization': f'Bearer {token}'}
    if browser:
        headers[BROWSER_ADDRESS_HEADER] = browser
    return httpx.get(server.base_url + '/api/me', headers=headers, timeout=30)


def test_an_address_past_its_failed_sign_ins_is_told_when_to_come_back(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, failed_sign_ins_per_minute=3), repo) as api:
        bob = add_user(api.server, name='bob')
        assert _me(api.server, bob, browser='203.0.113.8').status_code == 200  # bob's token is in use: known valid
        for attempt in range(3):
            assert_problem(_me(api.server, f'guess-{attempt}', browser='203.0.113.7'), 401, 'unauthorized')

        refused = _me(api.server, 'guess-3', browser='203.0.113.7')
        body = assert_problem(refused, 429, 'too_many_failed_sign_ins')
        assert 1 <= int(refused.headers['retry-after']) <= 60
        assert body['retry_after_seconds'] == int(refused.headers['retry-after'])
        assert 'Try again in' in body['detail']
        # even the right token, not yet known to this server, waits: no guess is checked meanwhile
        carol = add_user(api.server, name='carol')
        assert_problem(_me(api.server, carol, browser='203.0.113.7'), 429, 'too_many_failed_sign_ins')

        # a token already in use goes on working from that address, and other addresses are not held up
        assert _me(api.server, bob, browser='203.0.113.7').json()['name'] == 'bob'
        assert_problem(_me(api.server, 'guess-4', browser='203.0.113.9'), 401, 'unauthorized')
        assert _me(api.server, carol, browser='203.0.113.9').json()['name'] == 'carol'


def test_this_machines_own_calls_are_not_counted(settings_factory, repo) -> None:  # noqa: ANN001
    """The server's UI calls its API for every signed-in browser from loopback: one browser's revoked token must not
    lock the others out."""
    with serving(settings_factory(**QUEUED, failed_sign_ins_per_minute=2), repo) as api:
        for attempt in range(6):
            assert_problem(_me(api.server, f'revoked-{attempt}'), 401, 'unauthorized')
        assert api.client.get('/api/me').status_code == 200
        assert_problem(_me(api.server, 'revoked-again'), 401, 'unauthorized')
