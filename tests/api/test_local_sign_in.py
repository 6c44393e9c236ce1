"""Local mode asks who is there (docs/security.md, "Local mode: who is at the keyboard"): the full server
(`python main.py`, login-free) serves its UI only to a browser that opened the link it printed at start, and
another account on the machine can neither read that link nor use the UI, the websocket or the API without it."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from app import local_sign_in
from tests.helpers.servers import ROOT, app_process, signed_in_cookies

UI_ROUTES = [
    ('GET', '/'),
    ('GET', '/projects/demo'),
    ('GET', '/runs'),
    ('GET', '/settings'),
    ('GET', '/plain'),
    ('POST', '/plain/demo/auto-on'),
    ('GET', '/run-logs/run_00000000000000000000000000.log'),
    ('GET', '/_nicegui_ws/socket.io/?EIO=4&transport=polling'),
    ('GET', '/assets/runboard.css'),
    ('GET', '/docs'),
    ('GET', '/no-such-page'),
]


def websocket_status(port: int, cookie: str | None = None, query: str = '') -> int:
    """A raw websocket upgrade of NiceGUI's socket.io (as a browser's page makes it): the status it answers."""
    request = (
        f'GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
        'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'
        f'Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n'
        + (f'Cookie: {cookie}\r\n' if cookie else '')
        + '\r\n'
    )
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(request.encode())
        return int(sock.recv(4096).split(b'\r\n', 1)[0].split()[1])


def started_with(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith('Runboard is ready at ')]


def test_only_the_browser_that_opened_the_start_link_gets_the_ui(tmp_path) -> None:  # noqa: ANN001
    data = tmp_path / 'data'
    with app_process(data, env={'RUNBOARD_DEMO': 'true'}) as app:
        url, port = app['url'], app['port']
        token = local_sign_in.read_token(data)
        assert token and app['sign_in_url'] == f'{url}/?token={token}'
        log = Path(app['log']).read_text()
        assert started_with(log) == [f'Runboard is ready at {app["sign_in_url"]}']  # said once, with the link
        assert log.rstrip().splitlines()[-1] == started_with(log)[0]  # and last
        api_token = (data / 'credentials.json').read_text()

        # without the cookie: every UI route is 401 with a page saying what to open; the websocket too
        for method, path in UI_ROUTES:
            refused = httpx.request(method, url + path, headers={'Accept': 'text/html'}, timeout=10)
            assert refused.status_code == 401, (method, path, refused.status_code)
            assert refused.headers['content-type'].startswith('text/html')
            assert 'runboard open' in refused.text and token not in refused.text
            assert refused.headers['x-frame-options'] == 'DENY'  # the outer headers still hold
        assert websocket_status(port) == 401
        assert websocket_status(port, cookie=f'{local_sign_in.cookie_name(port)}={token}') == 401  # not the token
        assert httpx.get(url + '/?token=' + token[:-1] + 'x', timeout=10).status_code == 401

        # the API keeps its Bearer token; the probes stay open
        assert httpx.get(url + '/api/projects', timeout=10).status_code == 401
        assert httpx.get(url + '/api/projects', cookies=app['cookies'], timeout=10).status_code == 401
        assert httpx.get(url + '/api/health/live', timeout=10).status_code == 200
        assert httpx.get(url + '/api/health/ready', timeout=10).status_code == 200

        # the link: 303 to the same address without the token, leaving an HttpOnly SameSite=Strict cookie that
        # is neither the link's token nor the API token
        with httpx.Client(base_url=url, timeout=10) as browser:
            signed = browser.get(f'/projects/demo?token={token}&tab=runs', headers={'Accept': 'text/html'})
            assert signed.status_code == 303 and signed.headers['location'] == '/projects/demo?tab=runs'
            set_cookie = signed.headers['set-cookie']
            assert 'HttpOnly' in set_cookie and 'SameSite=Strict' in set_cookie and 'Path=/' in set_cookie
            value = browser.cookies[local_sign_in.cookie_name(port)]
            assert value == app['cookies'][local_sign_in.cookie_name(port)]
            assert value != token and value not in api_token and token not in api_token
            for method, path in UI_ROUTES:
                answered = browser.request(method, path, headers={'Accept': 'text/html'})
                assert answered.status_code != 401, (method, path)
            assert browser.get('/projects/demo', headers={'Accept': 'text/html'}).status_code == 200
            assert browser.get('/plain').status_code == 200
            assert browser.get('/_nicegui_ws/socket.io/?EIO=4&transport=polling').status_code == 200
            assert browser.get('/api/projects').status_code == 401  # the cookie is no API credential
        assert websocket_status(port, cookie=f'{local_sign_in.cookie_name(port)}={value}') == 101

        # `runboard open` prints the same link, read from the data dir
        opened = subprocess.run(
            [str(ROOT / '.venv' / 'bin' / 'runboard'), 'open', '--no-browser', '--data-dir', str(data)],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith('RUNBOARD_')},
        )
        assert opened.returncode == 0 and opened.stdout.strip() == app['sign_in_url'], opened.stderr


def test_the_link_and_the_token_survive_a_restart_and_migrations_are_said_once(tmp_path) -> None:  # noqa: ANN001
    data = tmp_path / 'data'
    with app_process(data, env={'RUNBOARD_DEMO': 'false'}) as first:
        pass
    # stopped: `runboard open` has no server to open (exit 5, "could not reach the server"), not a dead link
    stopped = subprocess.run(
        [str(ROOT / '.venv' / 'bin' / 'runboard'), 'open', '--no-browser', '--data-dir', str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith('RUNBOARD_')},
    )
    assert stopped.returncode == 5 and stopped.stdout == '' and 'runboard serve --data-dir' in stopped.stderr
    first_log = Path(first['log']).read_text()
    applied = [line for line in first_log.splitlines() if 'alembic' in line]
    assert applied and all('Running upgrade' in line for line in applied)  # one line per migration applied
    assert not [line for line in first_log.splitlines() if line.startswith((' ', '\t'))]  # no continued lines
    with app_process(data, port=first['port'], env={'RUNBOARD_DEMO': 'false'}) as again:
        assert again['sign_in_url'] == first['sign_in_url']
        assert httpx.get(again['url'] + '/plain', cookies=first['cookies'], timeout=10).status_code == 200
    second_log = Path(again['log']).read_text()[len(first_log) :]
    assert 'alembic' not in second_log  # nothing to apply: nothing said
    assert len(started_with(second_log)) == 1


def test_a_ui_only_process_asks_too(tmp_path) -> None:  # noqa: ANN001
    """`--server URL` with RUNBOARD_TOKEN serves a login-free UI acting with that token: it has a sign-in link of
    its own (its own data dir), and refuses without it."""
    with app_process(tmp_path / 'api', env={'RUNBOARD_DEMO': 'true'}) as api:
        api_token = (tmp_path / 'api' / 'credentials.json').read_text().split('"token": "')[1].split('"')[0]
        ui_data = tmp_path / 'ui'
        with app_process(
            ui_data, args=['--server', api['url']], env={'RUNBOARD_TOKEN': api_token}, ready_path='/'
        ) as ui:
            token = local_sign_in.read_token(ui_data)
            assert token and token != local_sign_in.read_token(tmp_path / 'api')
            assert ui['sign_in_url'] == f'{ui["url"]}/?token={token}'
            assert f'Runboard is ready at {ui["sign_in_url"]}' in Path(ui['log']).read_text()
            for method, path in UI_ROUTES:
                assert httpx.request(method, ui['url'] + path, timeout=10).status_code == 401, path
            assert httpx.get(ui['url'] + '/projects/demo', headers={'Accept': 'application/json'}).status_code == 401
            assert websocket_status(ui['port']) == 401
            assert httpx.get(ui['url'] + '/projects/demo', cookies=ui['cookies'], timeout=10).status_code == 200
            assert httpx.get(ui['url'] + '/plain', cookies=signed_in_cookies(api), timeout=10).status_code == 401


def test_team_mode_and_sign_in_mode_print_the_bare_address(tmp_path) -> None:  # noqa: ANN001
    with app_process(tmp_path / 'data', env={'RUNBOARD_DEMO': 'false', 'RUNBOARD_UI_SIGN_IN': 'true'}) as app:
        assert not (tmp_path / 'data' / local_sign_in.TOKEN_FILE).exists()
        assert started_with(Path(app['log']).read_text()) == [f'Runboard is ready at {app["url"]}/']
        login = httpx.get(app['url'] + '/', headers={'Accept': 'text/html'}, timeout=10)
        assert login.status_code in (200, 303, 307)  # the sign-in page's own flow, unchanged


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which('runuser') is None, reason='switching to uid nobody needs root')
def test_another_account_on_the_machine_gets_nothing(tmp_path) -> None:  # noqa: ANN001
    tmp_path.chmod(0o755)  # the way to the data dir is open: the data dir itself must keep others out
    data = tmp_path / 'data'
    with app_process(data, env={'RUNBOARD_DEMO': 'true'}) as app:

        def as_nobody(*command: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                ['runuser', '-u', 'nobody', '--', *command], capture_output=True, text=True, timeout=30, cwd='/'
            )

        for path in ('sign-in-token', 'credentials.json', 'local-server.json', 'runboard.db'):
            assert as_nobody('cat', str(data / path)).returncode != 0, path
        assert as_nobody('ls', str(data)).returncode != 0
        curl = shutil.which('curl')
        assert curl is not None
        for method, path in [*UI_ROUTES, ('GET', '/api/projects'), ('POST', '/api/runs')]:
            said = as_nobody(curl, '-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', method, app['url'] + path)
            assert said.stdout == '401', (method, path, said.stdout, said.stderr)
        upgrade = as_nobody(
            curl, '-s', '-o', '/dev/null', '-w', '%{http_code}', '--http1.1',
            '-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket', '-H', 'Sec-WebSocket-Version: 13',
            '-H', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
            app['url'] + '/_nicegui_ws/socket.io/?EIO=4&transport=websocket',
        )  # fmt: skip
        assert upgrade.stdout == '401'
        opened = as_nobody(str(ROOT / '.venv' / 'bin' / 'runboard'), 'open', '--no-browser', '--data-dir', str(data))
        assert opened.returncode != 0 and not re.search(r'token=', opened.stdout)
