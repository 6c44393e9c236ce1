"""Correlation ids, bare paths, the quota endpoint and the server-sent event stream."""

from __future__ import annotations

import json
import threading
import time

import httpx

from app.models import Role
from tests.helpers.api import add_user, assert_problem, run_body
from tests.helpers.runs import create_project, serving_held_run, trigger, wait_for_status


def test_correlation_id_is_echoed_when_valid_and_minted_otherwise(api) -> None:  # noqa: ANN001
    client = api.client
    requests = [
        ('GET', '/api/health', {}),
        ('GET', '/api/projects', {}),
        ('POST', '/api/runs', {'json': run_body()}),
        ('GET', '/api/nowhere', {}),
        ('DELETE', '/api/quota/runs', {}),
        ('POST', '/api/runs', {'content': b'x' * (70 * 1024)}),
        ('POST', '/api/runs', {'json': {}}),
        ('GET', '/api/runs/run_nope', {}),
    ]
    for method, path, kwargs in requests:
        echoed = client.request(method, path, headers={'X-Correlation-ID': 'req-42.a:b'}, **kwargs)
        assert echoed.headers['x-correlation-id'] == 'req-42.a:b', (method, path)
        if echoed.status_code >= 400:
            assert echoed.json()['correlation_id'] == 'req-42.a:b', (method, path)
        for bad in ('', 'has space', 'x' * 200, 'semi;colon'):
            minted = client.request(method, path, headers={'X-Correlation-ID': bad}, **kwargs)
            assert minted.headers['x-correlation-id'] not in ('', bad) and len(minted.headers['x-correlation-id']) >= 16
            if minted.status_code >= 400:
                assert minted.json()['correlation_id'] == minted.headers['x-correlation-id']
        plain = client.request(method, path, **kwargs)
        assert plain.headers['x-correlation-id']
    statuses = {
        client.get('/api/nowhere').status_code,
        client.delete('/api/quota/runs').status_code,
        client.post('/api/runs', content=b'x' * (70 * 1024)).status_code,
    }
    assert statuses == {404, 405, 413}
    assert_problem(client.get('/api/nowhere'), 404, 'not_found')
    assert_problem(client.delete('/api/quota/runs'), 405, 'method_not_allowed')


def test_bare_paths_serve_the_api(api) -> None:  # noqa: ANN001
    client = api.client
    created = client.post('/runs', json=run_body(), headers={'Idempotency-Key': 'bare'})
    assert created.status_code == 201, created.text
    run_id = created.json()['id']
    assert client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'bare'}).json()['id'] == run_id
    detail = client.get(f'/runs/{run_id}', headers={'Accept': 'application/json'})
    assert detail.status_code == 200 and detail.json()['id'] == run_id
    assert client.get('/runs', headers={'Accept': 'application/json'}).json()['items'][0]['id'] == run_id
    assert client.get('/projects/proj').json()['id'] == 'proj'
    assert client.get('/quota/runs').json()['remaining'] == 19
    assert client.post(f'/runs/{run_id}/stop').status_code == 202
    assert client.post(f'/runs/{run_id}/retry', json={}).status_code == 201
    assert_problem(client.post('/runs', json={'project_id': 'proj'}), 422, 'validation')
    with httpx.Client(base_url=api.server.base_url) as anonymous:
        assert_problem(anonymous.post('/runs', json=run_body()), 401, 'unauthorized')


def test_quota_fields(api) -> None:  # noqa: ANN001
    fresh = api.client.get('/api/quota/runs').json()
    assert fresh == {
        'limit': 20,
        'remaining': 20,
        'window_seconds': 600,
        'resets_at': fresh['resets_at'],
        'retry_after_seconds': 0,
    }
    api.client.post('/api/runs', json=run_body())
    used = api.client.get('/api/quota/runs').json()
    assert used['remaining'] == 19 and used['resets_at'] > fresh['resets_at']


def _read_events(server, token: str, into: list, ready: threading.Event, stop_at: dict, who: str) -> None:  # noqa: ANN001
    """Read the stream into `into` until the run event named by stop_at[who] (set once it is known)."""
    with httpx.Client(
        base_url=server.base_url, timeout=httpx.Timeout(30, read=20), headers={'Authorization': f'Bearer {token}'}
    ) as client:
        with client.stream('GET', '/api/events') as stream:
            event = None
            for line in stream.iter_lines():
                if line.startswith(':'):
                    ready.set()
                elif line.startswith('event: '):
                    event = line[7:]
                elif line.startswith('data: '):
                    seen = (event, json.loads(line[6:]).get('id'))
                    into.append(seen)
                    deadline = time.monotonic() + 20
                    while who not in stop_at and time.monotonic() < deadline:
                        time.sleep(0.01)
                    if seen == ('run', stop_at.get(who)):
                        return


def test_event_stream_delivers_visible_runs_only(api, repo_factory) -> None:  # noqa: ANN001
    other_repo = repo_factory({'main': {'run.sh': 'echo hi\n'}, 'two': {'run.sh': 'echo two\n'}})
    eve_token = add_user(api.server, team='other-team', role=Role.operator, name='eve')
    mine, theirs, stop_at = [], [], {}
    readers = []
    for token, into, who in ((api.server.token, mine, 'mine'), (eve_token, theirs, 'theirs')):
        ready = threading.Event()
        thread = threading.Thread(target=_read_events, args=(api.server, token, into, ready, stop_at, who), daemon=True)
        thread.start()
        assert ready.wait(10)
        readers.append(thread)
    with api.server.client(eve_token) as eve:
        create_project(eve, other_repo, project_id='eves', team_id='other-team')
        # events arrive in publish order, so each reader stops at a run published after the other team's
        first_eve = eve.post('/api/runs', json=run_body('eves')).json()
        my_run = api.client.post('/api/runs', json=run_body()).json()
        last_eve = eve.post('/api/runs', json=run_body('eves', branch='two')).json()
    stop_at.update(mine=my_run['id'], theirs=last_eve['id'])
    for thread in readers:
        thread.join(30)
        assert not thread.is_alive()
    assert ('run', my_run['id']) in mine
    assert not {first_eve['id'], last_eve['id']} & {i for _, i in mine}
    assert ('run', first_eve['id']) in theirs and ('run', last_eve['id']) in theirs
    assert my_run['id'] not in {i for _, i in theirs}


def test_an_unexpected_error_is_a_500_problem_with_the_correlation_id(api, monkeypatch) -> None:  # noqa: ANN001
    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError('simulated defect')

    monkeypatch.setattr(api.server.services.admitter, 'quota', broken)
    for path in ('/api/quota/runs', '/quota/runs'):
        reply = api.client.get(path, headers={'X-Correlation-ID': 'trace-500'})
        problem = assert_problem(reply, 500, 'internal')
        assert problem['correlation_id'] == 'trace-500' and 'simulated' not in problem['detail']
    assert api.client.get('/api/projects').status_code == 200  # the server carries on


def test_allow_names_every_method_of_a_path(api) -> None:  # noqa: ANN001
    options = api.client.options('/api/projects')
    assert options.status_code == 204
    assert options.headers['Allow'] == 'GET, HEAD, POST, OPTIONS'
    put = api.client.put('/api/projects')
    assert put.status_code == 405 and put.headers['Allow'] == 'GET, HEAD, POST, OPTIONS'
    assert put.headers['content-type'].startswith('application/problem+json')
    assert api.client.options('/api/projects/proj').headers['Allow'] == 'GET, HEAD, PATCH, DELETE, OPTIONS'
    assert api.client.options('/api/runs').headers['Allow'] == 'GET, HEAD, POST, OPTIONS'


def test_live_output_events_say_how_many_lines_the_run_printed(settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    """A run page counts the lines under its log ("17 lines · 13 printed by the run") from the run.output events
    alone while the run prints: each carries the count with the newest line's number."""
    before = 'echo "::stage:: build"\necho one\necho two\necho three'
    with serving_held_run(settings_factory, repo_factory, tmp_path, before) as (client, release):
        with client.stream('GET', '/api/events', timeout=httpx.Timeout(30, read=20)) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(':')  # subscribed
            run_id = trigger(client).json()['id']
            newest: dict = {}
            deadline = time.monotonic() + 30
            event = None
            for line in lines:
                if line.startswith('event: '):
                    event = line[7:]
                elif line.startswith('data: ') and event == 'run.output':
                    payload = json.loads(line[6:])
                    if payload.get('id') == run_id:
                        newest = payload
                        if payload['output_lines'] == 3:
                            break
                assert time.monotonic() < deadline, newest
        run = client.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()
        assert run['status'] == 'running'
        # the status lines, the checkout and the stage marker are numbered lines too, not printed ones
        assert (newest['last_seq'], newest['output_lines']) == (run['last_seq'], run['output_lines']) == (7, 3)
        release.touch()
        assert wait_for_status(client, run_id)['status'] == 'succeeded'


def test_deleting_a_project_is_told_on_the_event_stream(api, repo_factory) -> None:  # noqa: ANN001
    """Every open dashboard drops the card of a project deleted elsewhere: the stream says `project` with its id."""
    create_project(api.client, repo_factory(), project_id='gone')
    with api.client.stream('GET', '/api/events', timeout=httpx.Timeout(30, read=20)) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith(':')  # subscribed
        assert api.client.delete('/api/projects/gone').status_code == 204
        event = None
        for line in lines:
            if line.startswith('event: '):
                event = line[7:]
            elif line.startswith('data: ') and event == 'project':
                assert json.loads(line[6:])['id'] == 'gone'
                break
