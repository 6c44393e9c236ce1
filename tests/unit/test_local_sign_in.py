"""Local mode asks who is there (app/local_sign_in.py): the gate's verdict per request, the cookie, the token file."""

from __future__ import annotations

import json
import stat

import pytest

from app import local_sign_in
from app.local_sign_in import Verdict, cookie_value, decide

TOKEN = 'tok-123_abc'
COOKIE = cookie_value(TOKEN)


@pytest.mark.parametrize(
    ('kind', 'method', 'path', 'query', 'cookie', 'api', 'expected'),
    [
        # the API asks for its own Bearer token (health probes open): the gate lets it through untouched
        ('http', 'GET', '/api/projects', '', None, True, Verdict('pass')),
        ('http', 'GET', '/api/health/ready', '', None, True, Verdict('pass')),
        # nothing, a wrong token, a wrong cookie, the token itself as the cookie: refused
        ('http', 'GET', '/', '', None, False, Verdict('refuse')),
        ('http', 'GET', '/plain', 'token=wrong', None, False, Verdict('refuse')),
        ('http', 'GET', '/', '', 'wrong', False, Verdict('refuse')),
        ('http', 'GET', '/', '', TOKEN, False, Verdict('refuse')),
        ('http', 'POST', '/plain/demo/auto-on', '', None, False, Verdict('refuse')),
        ('http', 'GET', '/run-logs/run_1.log', '', '', False, Verdict('refuse')),
        ('websocket', 'GET', '/_nicegui_ws/socket.io/', 'EIO=4&transport=websocket', None, False, Verdict('refuse')),
        # the link: cookie set, and the same URL without the token (other parameters kept, in order)
        ('http', 'GET', '/', f'token={TOKEN}', None, False, Verdict('sign_in', '/')),
        ('http', 'HEAD', '/', f'token={TOKEN}', None, False, Verdict('sign_in', '/')),
        (
            'http',
            'GET',
            '/runs/run_1',
            f'a=1&token={TOKEN}&b=x+y',
            None,
            False,
            Verdict('sign_in', '/runs/run_1?a=1&b=x+y'),
        ),
        ('http', 'GET', '/', f'token={TOKEN}', COOKIE, False, Verdict('sign_in', '/')),
        # the token elsewhere than a GET is a credential, but leaves no cookie
        ('http', 'POST', '/plain/demo/auto-on', f'token={TOKEN}', None, False, Verdict('pass')),
        ('websocket', 'GET', '/_nicegui_ws/socket.io/', f'token={TOKEN}', None, False, Verdict('pass')),
        # the cookie: everything, the websocket and the socket.io polling included
        ('http', 'GET', '/', '', COOKIE, False, Verdict('pass')),
        ('http', 'POST', '/plain/demo/auto-on', '', COOKIE, False, Verdict('pass')),
        ('http', 'GET', '/_nicegui_ws/socket.io/', 'EIO=4&transport=polling', COOKIE, False, Verdict('pass')),
        ('websocket', 'GET', '/_nicegui_ws/socket.io/', 'EIO=4&transport=websocket', COOKIE, False, Verdict('pass')),
    ],
)
def test_the_gate_decides_each_request(kind, method, path, query, cookie, api, expected) -> None:  # noqa: ANN001
    assert decide(kind=kind, method=method, path=path, query=query, cookie=cookie, token=TOKEN, api=api) == expected


def test_the_cookie_is_derived_not_the_token_and_differs_per_token() -> None:
    assert cookie_value(TOKEN) != TOKEN and TOKEN not in cookie_value(TOKEN)
    assert cookie_value(TOKEN) == cookie_value(TOKEN) != cookie_value(TOKEN + 'x')
    assert local_sign_in.cookie_name(8080) != local_sign_in.cookie_name(8081)  # two local servers, two cookies
    header = local_sign_in.set_cookie_header(8080, TOKEN)
    assert header.startswith(f'runboard_local_8080={COOKIE};')
    assert '; HttpOnly' in header and '; SameSite=Strict' in header and '; Path=/' in header


def test_the_token_is_made_once_per_data_dir_private_to_its_owner(tmp_path) -> None:  # noqa: ANN001
    data_dir = tmp_path / 'data'
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    token = local_sign_in.load_or_create(data_dir)
    assert len(token) >= 40 and local_sign_in.load_or_create(data_dir) == token == local_sign_in.read_token(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / local_sign_in.TOKEN_FILE).stat().st_mode) == 0o600
    assert local_sign_in.load_or_create(tmp_path / 'other') != token
    assert local_sign_in.sign_in_url('http://127.0.0.1:8080/', token) == f'http://127.0.0.1:8080/?token={token}'
    local_sign_in.write_server_file(data_dir, 'http://127.0.0.1:8080')
    assert local_sign_in.read_server_url(data_dir) == 'http://127.0.0.1:8080'
    assert json.loads((data_dir / local_sign_in.SERVER_FILE).read_text())['url'] == 'http://127.0.0.1:8080'
    assert local_sign_in.read_token(tmp_path / 'none') is None and local_sign_in.read_server_url(tmp_path) is None
