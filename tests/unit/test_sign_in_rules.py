"""Pure sign-in rules: where a login may send the browser, when the UI asks for a token, the session secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app import ui_secret
from app.client import ApiError
from app.config import Settings
from app.core.origins import counted_address
from app.pages.signin import explain
from app.services.identity.failed_sign_ins import FailedSignIns
from app.state.session import login_url, safe_next


@pytest.mark.parametrize(
    'target, expected',
    [
        (None, '/'),
        ('', '/'),
        ('/', '/'),
        ('/runs/run_1', '/runs/run_1'),
        ('/projects/p?status=failed&kind=auto', '/projects/p?status=failed&kind=auto'),
        ('//evil.example/x', '/'),  # protocol-relative: another host
        ('/\\evil.example', '/'),  # browsers read a backslash as a slash
        ('https://evil.example/', '/'),
        ('javascript:alert(1)', '/'),
        ('runs/run_1', '/'),  # relative to nothing
        ('/login', '/'),  # never back to the login page itself
        ('/login?next=/x', '/'),
        ('/runs/x\r\nSet-Cookie: a=b', '/'),
    ],
)
def test_safe_next_keeps_only_paths_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize(
    'here, expected',
    [
        ('/', '/login'),
        ('/runs/run_1', '/login?next=%2Fruns%2Frun_1'),
        ('/projects/p?status=failed', '/login?next=%2Fprojects%2Fp%3Fstatus%3Dfailed'),
        ('//evil.example', '/login'),
    ],
)
def test_login_url_comes_back_to_the_page(here: str, expected: str) -> None:
    assert login_url(here) == expected


def test_a_login_url_after_a_refused_token_says_the_sign_in_ended() -> None:
    assert login_url('/', ended=True) == '/login?ended=1'
    assert login_url('/runs/run_1', ended=True) == '/login?next=%2Fruns%2Frun_1&ended=1'


@pytest.mark.parametrize(
    'fields, required',
    [
        ({}, False),  # local mode: login-free with the local token
        ({'ui_sign_in': True}, True),
        ({'redis_url': 'redis://127.0.0.1:6379/0'}, True),  # team mode
        ({'database_url': 'postgresql+psycopg://db/x'}, True),
        ({'database_url': 'sqlite:////tmp/x.db'}, False),
        ({'server': 'http://team:8080'}, True),  # UI-only without a token: each person signs in
        ({'server': 'http://team:8080', 'token': 'rb_x'}, False),  # a fixed token, as before
        ({'server': 'http://team:8080', 'token': 'rb_x', 'ui_sign_in': True}, True),
    ],
)
def test_when_the_ui_asks_for_a_token(fields: dict, required: bool, tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, **fields).ui_requires_sign_in is required


@pytest.mark.parametrize(
    'error, says',
    [
        (ApiError(401, 'unauthorized', 'bad'), 'not valid'),
        (ApiError(0, 'network', 'Could not reach the server at http://x: ConnectError.'), 'Could not reach'),
        (ApiError(500, 'internal', 'boom'), 'refused'),
        (ApiError(429, 'too_many_failed_sign_ins', 'x', headers={'retry-after': '17'}), 'Try again in 17 seconds'),
    ],
)
def test_login_errors_say_what_went_wrong(error: ApiError, says: str) -> None:
    assert says in explain(error)


def test_the_session_secret_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / 'data' / 'ui-secret'
    first = ui_secret.load_or_create(path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ui_secret.load_or_create(path) == first  # a restart keeps everyone signed in


@pytest.mark.parametrize(
    'peer, browser, counted',
    [
        ('203.0.113.7', None, '203.0.113.7'),  # a client elsewhere: its own address
        ('203.0.113.7', '198.51.100.1', '203.0.113.7'),  # only a loopback peer may name a browser
        ('127.0.0.1', None, None),  # this machine's own calls (its UI, local scripts)
        ('::1', '', None),
        ('127.0.0.1', '198.51.100.1', '198.51.100.1'),  # its UI checking a token typed in that browser
        ('127.0.0.1', ' 2001:db8::1 ', '2001:db8::1'),
        ('testclient', None, 'testclient'),  # a name, not an address: not loopback
        (None, None, None),
    ],
)
def test_whose_failed_sign_in_a_request_is(peer: str | None, browser: str | None, counted: str | None) -> None:
    assert counted_address(peer, browser) == counted


def test_failed_sign_ins_hold_an_address_until_its_oldest_failure_leaves_the_window() -> None:
    now = [1000.0]
    failures = FailedSignIns(limit=3, window_seconds=60, clock=lambda: now[0])
    for moment in (1000.0, 1010.0, 1020.0):
        now[0] = moment
        assert failures.retry_after('a') == 0
        failures.record('a')
    assert failures.retry_after('a') == 40  # the first failure, at 1000, leaves at 1060
    assert failures.retry_after('b') == 0
    now[0] = 1060.5
    assert failures.retry_after('a') == 0
    failures.record('a')
    assert failures.retry_after('a') == 10  # now the one at 1010 is the oldest of three


def test_no_limit_counts_nothing_and_an_uncounted_caller_is_never_held() -> None:
    unlimited = FailedSignIns(limit=0)
    for _ in range(100):
        unlimited.record('a')
    assert unlimited.retry_after('a') == 0
    limited = FailedSignIns(limit=1)
    limited.record(None)
    assert limited.retry_after(None) == 0
