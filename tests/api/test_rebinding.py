"""DNS rebinding: the login-free full server (`python main.py`) answers only loopback Host headers and
the names in RUNBOARD_ALLOWED_HOSTS, on pages, API, static files and the websocket."""

from __future__ import annotations

import base64
import json
import os
import socket

import httpx
import pytest

from tests.helpers.servers import app_process


def _get(url: str, path: str, host: str, token: str, accept: str = 'text/html', **kwargs) -> httpx.Response:  # noqa: ANN003
    return httpx.get(
        url + path, headers={'Host': host, 'Accept': accept, 'Authorization': f'Bearer {token}'}, timeout=10, **kwargs
    )


def _websocket_opens(port: int, host: str, cookies: dict[str, str]) -> bool:
    """A raw websocket upgrade of NiceGUI's socket.io with this Host header (and the sign-in cookie of the
    browser that opened the start link): 101 when accepted."""
    cookie = '; '.join(f'{name}={value}' for name, value in cookies.items())
    request = (
        f'GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n'
        'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'
        f'Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nCookie: {cookie}\r\n\r\n'
    )
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(4096).split(b'\r\n', 1)[0].decode()
    return status_line.split()[1] == '101'


@pytest.mark.parametrize('allowed_hosts', ['', 'runboard.lan'])
def test_rebinding_host_is_refused_everywhere(tmp_path, allowed_hosts: str) -> None:  # noqa: ANN001
    env = {'RUNBOARD_DEMO': 'true', 'RUNBOARD_ALLOWED_HOSTS': allowed_hosts}
    with app_process(tmp_path / 'data', env=env) as app:
        token = json.loads((tmp_path / 'data' / 'credentials.json').read_text())['token']
        url = app['url']
        for path, accept in (
            ('/', 'text/html'),
            ('/projects/demo', 'text/html'),
            ('/api/projects', 'application/json'),
            ('/projects/demo', 'application/json'),
            ('/api/health', '*/*'),
            ('/assets/runboard.css', '*/*'),
            ('/plain', 'text/html'),
        ):
            refused = _get(url, path, f'rebind.invalid:{app["port"]}', token, accept, cookies=app['cookies'])
            assert refused.status_code == 421, (path, refused.status_code)
            assert refused.json()['error'] == 'misdirected_request'
            for host in (f'127.0.0.1:{app["port"]}', f'localhost:{app["port"]}'):
                assert _get(url, path, host, token, accept, cookies=app['cookies']).status_code == 200, path
        posted = httpx.post(
            url + '/api/runs',
            headers={'Host': 'rebind.invalid', 'Authorization': f'Bearer {token}'},
            json={'project_id': 'demo', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'},
            timeout=10,
        )
        assert posted.status_code == 421
        assert httpx.get(url + '/api/runs', headers={'Authorization': f'Bearer {token}'}).json()['items'] == []
        assert not _websocket_opens(app['port'], 'rebind.invalid', app['cookies'])
        assert _websocket_opens(app['port'], f'127.0.0.1:{app["port"]}', app['cookies'])
        named = _get(url, '/', f'runboard.lan:{app["port"]}', token, cookies=app['cookies'])
        assert named.status_code == (200 if allowed_hosts else 421)
