"""Rule 1: a bearer token on every endpoint but /health (and the forges' hooks and the badges, which carry their own
credential); other teams' projects do not exist; builders trigger, retry and stop, operators also change projects."""

from __future__ import annotations

import re

import httpx

from app.models import Role
from tests.helpers.api import add_user, assert_problem, run_body
from tests.helpers.runs import create_project


def _every_operation(server) -> list[tuple[str, str]]:  # noqa: ANN001
    # FastAPI builds the schema of every route on its first ask: seconds of CPU on a loaded machine, over httpx's 5 s
    schema = httpx.get(server.base_url + '/openapi.json', timeout=60).json()
    return [
        (method.upper(), re.sub(r'\{[^}]+\}', 'x', path))
        for path, item in schema['paths'].items()
        for method in item
        if method in ('get', 'post', 'patch', 'put', 'delete')
    ]


def test_every_endpoint_but_health_needs_a_valid_token(api) -> None:  # noqa: ANN001
    operations = _every_operation(api.server)
    assert ('POST', '/api/runs') in operations and ('GET', '/api/quota/runs') in operations
    with httpx.Client(base_url=api.server.base_url, timeout=30) as anonymous:
        assert anonymous.get('/api/health').status_code == 200
        for method, path in operations:
            if path in ('/api/health', '/api/health/live', '/api/health/ready'):  # probes need no token
                continue
            if path.startswith('/api/hooks/'):  # forges sign their deliveries instead (docs/triggers.md)
                assert_problem(anonymous.request(method, path, content=b'{"nope": 1}'), 401, 'bad_signature')
                continue
            if path.startswith('/api/badges/'):  # the key in the address is the credential: a wrong one is a 404
                assert_problem(anonymous.request(method, path), 404, 'not_found')
                continue
            for headers in ({}, {'Authorization': 'Bearer not-a-token'}, {'Authorization': 'Basic abc'}):
                # a body that is valid JSON but wrong: auth must still come first
                reply = anonymous.request(
                    method, path, headers=headers, content=b'{"nope": 1}' if method != 'GET' else None
                )
                body = assert_problem(reply, 401, 'unauthorized')
                assert reply.headers['www-authenticate'] == 'Bearer', (method, path)
                assert 'token' in body['detail'].lower() or 'authorization' in body['detail'].lower()
        malformed = anonymous.post('/api/runs', content=b'{not json', headers={'Content-Type': 'application/json'})
        assert_problem(malformed, 401, 'unauthorized')


def test_another_teams_project_and_runs_answer_404(api) -> None:  # noqa: ANN001
    run = api.client.post('/api/runs', json=run_body()).json()
    stranger = add_user(api.server, team='other-team', role=Role.operator, name='eve')
    with api.server.client(stranger) as eve:
        for method, path, body in (
            ('GET', '/api/projects/proj', None),
            ('GET', '/api/projects/proj/branches', None),
            ('PATCH', '/api/projects/proj', {'name': 'mine'}),
            ('DELETE', '/api/projects/proj', None),
            ('POST', '/api/runs', run_body()),
            ('GET', f'/api/runs/{run["id"]}', None),
            ('GET', f'/api/runs/{run["id"]}/events', None),
            ('POST', f'/api/runs/{run["id"]}/retry', {}),
            ('POST', f'/api/runs/{run["id"]}/stop', None),
        ):
            reply = eve.request(method, path, json=body)
            problem = assert_problem(reply, 404, 'not_found')
            assert 'proj' in problem['detail'] or run['id'] in problem['detail']
        # the answer for a project that does not exist is the same as for one that is hidden
        missing = eve.get('/api/projects/no-such-project').json()
        hidden = eve.get('/api/projects/proj').json()
        assert {k for k in missing if k != 'correlation_id'} == {k for k in hidden if k != 'correlation_id'}
        assert eve.get('/api/projects').json() == []
        assert eve.get('/api/runs').json()['items'] == []
    assert api.client.get(f'/api/runs/{run["id"]}').json()['status'] == 'queued'
    assert api.client.get('/api/projects/proj').json()['name'] == 'Proj'


def test_builders_trigger_retry_and_stop_but_cannot_change_projects(api) -> None:  # noqa: ANN001
    builder = add_user(api.server, role=Role.builder, name='bob')
    with api.server.client(builder) as bob:
        run = bob.post('/api/runs', json=run_body())
        assert run.status_code == 201, run.text
        assert run.json()['user_name'] == 'bob'
        stopped = bob.post(f'/api/runs/{run.json()["id"]}/stop')
        assert stopped.status_code == 202, stopped.text
        retried = bob.post(f'/api/runs/{run.json()["id"]}/retry', json={})
        assert retried.status_code == 201, retried.text
        assert retried.json()['kind'] == 'retry'
        body = {'id': 'bobs', 'name': 'Bobs', 'repository': str(api.repo), 'command': ['sh', 'run.sh']}
        assert_problem(bob.post('/api/projects', json=body), 403, 'forbidden')
        assert_problem(bob.patch('/api/projects/proj', json={'name': 'x'}), 403, 'forbidden')
        assert_problem(bob.delete('/api/projects/proj'), 403, 'forbidden')
        assert [p['id'] for p in bob.get('/api/projects').json()] == ['proj']
    assert api.client.get('/api/projects/proj').json()['name'] == 'Proj'
    create_project(api.client, api.repo, project_id='second')  # the operator can
