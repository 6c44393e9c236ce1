"""`python main.py` hosts the UI and the API in one process; API requests are answered by the API app in
front of NiceGUI's middlewares. What a client depends on must hold there exactly as on the API-only server:
the contract of POST /runs, bare paths, problems, correlation ids, the OpenAPI document, and the UI pages."""

from __future__ import annotations

import http.client
import json
import re
import time
from unittest.mock import ANY

import httpx

from tests.helpers.api import BRANCHES
from tests.helpers.backends import server_env
from tests.helpers.runs import create_project, shell_script
from tests.helpers.servers import app_process

SCHEME = {'type': 'http', 'scheme': 'bearer'}


def _server_env(settings) -> dict[str, str]:  # noqa: ANN001
    return server_env(settings, RUNBOARD_GLOBAL_RUN_CAP='0')


def test_full_server_answers_the_api_contract_and_still_serves_pages(backend, settings_factory, repo_factory) -> None:
    repo = repo_factory({name: shell_script(f'echo {name}') for name in BRANCHES})
    settings = settings_factory()
    with app_process(settings.data_dir, env=_server_env(settings)) as server:
        token = json.loads((settings.data_dir / 'credentials.json').read_text())['token']
        auth = {'Authorization': f'Bearer {token}'}  # the API's; pages are for the browser that opened the start link
        with httpx.Client(base_url=server['url'], headers=auth, cookies=server['cookies'], timeout=30) as client:
            create_project(client, repo)
            body = {'project_id': 'proj', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'}
            created = client.post(
                '/api/runs', json=body, headers={'Idempotency-Key': 'k1', 'X-Correlation-ID': 'trace-1'}
            )
            assert created.status_code == 201, created.text
            assert created.headers['x-correlation-id'] == 'trace-1'
            assert created.headers['ratelimit-policy'].startswith('"runs";q=')
            assert created.headers['ratelimit'].startswith('"runs";r=')
            replayed = client.post('/api/runs', json=body, headers={'Idempotency-Key': 'k1'})
            assert replayed.status_code == 200 and replayed.headers['idempotent-replayed'] == 'true'
            assert replayed.json()['id'] == created.json()['id']

            locked = client.post('/runs', json={**body, 'depth_level': 'deep'})  # a bare path reaches the API
            assert locked.status_code == 409 and locked.json()['error'] == 'pr_lock'
            assert locked.headers['content-type'].startswith('application/problem+json')
            assert locked.json()['correlation_id'] == locked.headers['x-correlation-id']

            # POST /runs is answered at the edge of the stack (api/fast_trigger.py): the host guard still comes
            # first (it guards local mode, whose token a rebinding page could use), and a body over the limit is
            # still refused before anything parses it
            if backend != 'team':
                foreign = client.post('/api/runs', json=body, headers={'Host': 'evil.example'})
                assert foreign.status_code == 421
            huge = client.post('/api/runs', json={**body, 'branch': 'x' * 70_000})
            assert huge.status_code == 413 and huge.json()['error'] == 'payload_too_large'
            assert huge.json()['correlation_id'] == huge.headers['x-correlation-id']
            unknown = client.post(
                '/api/runs', json={**body, 'branch': 'no-such-branch'}, headers={'X-Correlation-ID': 't2'}
            )
            assert unknown.status_code == 422 and unknown.headers['x-correlation-id'] == 't2'
            assert unknown.json()['correlation_id'] == 't2'

            listed = client.get('/runs', headers={'Accept': 'application/json'})
            assert [r['id'] for r in listed.json()['items']] == [created.json()['id']]
            missing = client.get('/api/no-such-thing')
            assert missing.status_code == 404 and missing.json()['error'] == 'not_found'
            anonymous = httpx.get(server['url'] + '/api/runs')
            assert anonymous.status_code == 401 and anonymous.json()['error'] == 'unauthorized'

            document = client.get('/openapi.json').json()
            paths = document['paths']
            assert 'post' in paths['/api/runs'] and 'get' in paths['/api/quota/runs']
            assert document['components']['securitySchemes']['bearer'] == {**SCHEME, 'description': ANY}
            # the API reference works without internet: its pages load Swagger UI and ReDoc from this server
            for reference in ('/docs', '/redoc'):
                html = client.get(reference, headers={'Accept': 'text/html'})
                assert html.status_code == 200, reference
                assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html.text)
                assert assets and all(url.startswith('/docs-assets/') for url in assets), assets
                for url in assets:
                    served = client.get(url)
                    assert served.status_code == 200 and len(served.content) > 10_000, url
            run_path = f'/runs/{created.json()["id"]}'
            page = client.get(run_path, headers={'Accept': 'text/html'})  # a browser gets the page, not JSON
            if backend == 'team':  # team mode: a browser that has not signed in is sent to the sign-in page
                assert page.status_code == 303 and page.headers['location'].startswith('/login?next=')
                page = client.get(page.headers['location'], headers={'Accept': 'text/html'})
            assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
            assert 'x-correlation-id' in page.headers

            # a browser at /runs gets the runs list (the dashboard's, with the same filters); at an address with no
            # page, Runboard's own page saying so, with a way back
            runs_page = client.get('/runs?status=failed&on=main', headers={'Accept': 'text/html'})
            assert runs_page.status_code == 307 and runs_page.headers['location'] == '/?status=failed&on=main'
            nowhere = client.get('/no-such-page', headers={'Accept': 'text/html'})
            assert nowhere.status_code == 404 and nowhere.headers['content-type'].startswith('text/html')
            assert 'Runboard has no page at /no-such-page.' in nowhere.text
            assert '"text":"Dashboard: projects and the latest runs"' in nowhere.text
            if backend != 'team':  # (team mode: the browser has not signed in, so it is sent to sign in first)
                for missing_page, says in (
                    ('/runs/run_00000000000000000000000000', 'There is no run run_00000000000000000000000000'),
                    ('/projects/no-such-project', 'There is no project no-such-project'),
                ):
                    answer = client.get(missing_page, headers={'Accept': 'text/html'})
                    assert answer.status_code == 404 and says in answer.text, missing_page


def test_sigterm_stops_the_server_while_a_page_holds_a_live_stream(tmp_path) -> None:  # noqa: ANN001
    """A project page follows the API's event stream; a deploy's SIGTERM must not wait for it for ever."""
    with app_process(tmp_path / 'data', env={'RUNBOARD_DEMO': 'true'}) as server:
        token = json.loads((tmp_path / 'data' / 'credentials.json').read_text())['token']
        page = httpx.get(
            server['url'] + '/projects/demo',
            headers={'Authorization': f'Bearer {token}', 'Accept': 'text/html'},
            cookies=server['cookies'],  # the browser that opened the start link
        )
        assert page.status_code == 200
        process = server['process']
        process.terminate()
        # the helper itself would wait 20 s, then SIGKILL: a clean exit well before that is the behaviour
        assert process.wait(15) is not None


def test_a_connection_the_client_keeps_idle_past_its_pool_expiry_is_still_answered(tmp_path) -> None:  # noqa: ANN001
    """httpx (the CLI's client) drops an idle pooled connection after 5 s. Were the server to close its side at 5 s
    too, a request sent just then would meet a reset ("connection reset by peer", seen in CI): the server must be
    the one that waits longer."""
    with app_process(tmp_path / 'data', env={'RUNBOARD_DEMO': 'true'}) as server:
        url = httpx.URL(server['url'])
        conn = http.client.HTTPConnection(url.host, url.port, timeout=10)  # one socket, reused while it is open
        try:
            conn.request('GET', '/api/health')
            first = conn.getresponse()
            assert first.status == 200 and first.read()
            time.sleep(6)
            conn.request('GET', '/api/health')  # on the same socket: a closed one raises RemoteDisconnected
            assert conn.getresponse().status == 200
        finally:
            conn.close()
