"""Every answer of `python main.py` carries the framing and sniffing headers (docs/security.md, "Response
headers"): pages, the login-free /plain page, API answers and their problem+json errors, static files, the
log download, redirects and the host guard's 421; the API-only server too."""

from __future__ import annotations

import json

import httpx
from nicegui import __version__ as nicegui_version

from tests.helpers.backends import server_env
from tests.helpers.runs import create_project, shell_script
from tests.helpers.servers import api_server, app_process

EXPECTED = {
    'x-frame-options': ['DENY'],
    # images from this origin only: Markdown anyone writes (issues, summaries) loads no tracking pixel elsewhere
    'content-security-policy': ["frame-ancestors 'none'; img-src 'self' data: blob:"],
    'x-content-type-options': ['nosniff'],
    'referrer-policy': ['same-origin'],
}


def assert_protected(reply: httpx.Response) -> None:
    seen = {name: reply.headers.get_list(name) for name in EXPECTED}
    assert seen == EXPECTED, (reply.request.method, reply.request.url, reply.status_code, seen)


def test_every_kind_of_answer_of_the_full_server_carries_the_headers(backend, settings_factory, repo_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    repo = repo_factory({'main': shell_script('echo hi')})
    with app_process(settings.data_dir, env=server_env(settings, RUNBOARD_GLOBAL_RUN_CAP='0')) as server:
        token = json.loads((settings.data_dir / 'credentials.json').read_text())['token']
        auth = {'Authorization': f'Bearer {token}'}
        # pages for the browser that opened the start link (local mode); the API with its Bearer token
        with httpx.Client(base_url=server['url'], cookies=server['cookies'], timeout=30) as client:
            create_project(httpx.Client(base_url=server['url'], headers=auth, timeout=30), repo)
            body = {'project_id': 'proj', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'}
            created = client.post('/api/runs', json=body, headers=auth)  # answered at the edge (fast trigger)
            assert created.status_code == 201, created.text
            run_id = created.json()['id']
            answers = {
                'page': client.get('/', headers={'Accept': 'text/html'}),  # the dashboard, or 303 to /login
                'login': client.get('/login', headers={'Accept': 'text/html'}),
                'plain': client.get('/plain', headers={'Accept': 'text/html'}),
                'run page': client.get(f'/runs/{run_id}', headers={'Accept': 'text/html'}),
                'static asset': client.get('/assets/runboard.css'),
                'nicegui asset': client.get(f'/_nicegui/{nicegui_version}/static/fonts.css'),
                'api json': client.get('/api/runs', headers=auth),
                'bare api path': client.get(f'/runs/{run_id}', headers={**auth, 'Accept': 'application/json'}),
                'fast trigger': created,
                'problem 401': client.get('/api/runs'),
                'problem 404': client.get('/api/runs/run_doesnotexist', headers=auth),
                'problem 422': client.post('/api/runs', json={**body, 'branch': 'nope'}, headers=auth),
                'log download': client.get(f'/run-logs/{run_id}.log', headers=auth),
                'health': client.get('/api/health/live'),
                'unknown page': client.get('/no-such-page', headers={'Accept': 'text/html'}),
            }
            if backend != 'team':  # local mode answers loopback Host headers only, pages to its start link only
                answers['host guard 421'] = client.get('/api/runs', headers={'Host': 'evil.example'})
                answers['sign-in gate 401'] = httpx.get(server['url'] + '/plain', timeout=30)
        for what, reply in answers.items():
            assert reply.status_code < 500, (what, reply.status_code, reply.text[:200])
            assert_protected(reply)
        assert answers['problem 401'].headers['content-type'].startswith('application/problem+json')
        assert answers['problem 404'].json()['error'] == 'not_found'
        assert answers['static asset'].status_code == answers['nicegui asset'].status_code == 200
        assert answers['api json'].status_code == 200


def test_the_api_only_server_carries_them_too(settings_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory()) as server, server.client() as client:
        assert_protected(client.get('/api/runs'))
        assert_protected(client.get('/api/runs/run_doesnotexist'))
        assert_protected(httpx.get(server.base_url + '/api/runs', timeout=10))  # 401 problem
