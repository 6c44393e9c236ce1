"""Rule 2 and 8: bad input gets a 422/413 problem naming what is wrong, never a 500, and creates nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.api import assert_problem, run_body


@pytest.mark.parametrize(
    ('change', 'field'),
    [
        ({'depth_level': 'bottomless'}, 'depth_level'),
        ({'target_framework': 'cobol'}, 'target_framework'),
        ({'branch': 'no/such/branch'}, 'branch'),
    ],
)
def test_values_outside_the_project_are_refused_naming_the_field(api, change, field) -> None:  # noqa: ANN001
    reply = api.client.post('/api/runs', json={**run_body(), **change})
    problem = assert_problem(reply, 422, 'validation')
    assert problem['field'] == field
    assert list(change.values())[0] in problem['detail']
    assert api.client.get('/api/runs').json()['items'] == []


def test_malformed_bodies_are_4xx_problems(api) -> None:  # noqa: ANN001
    client = api.client
    missing = {k: v for k, v in run_body().items() if k != 'branch'}
    assert assert_problem(client.post('/api/runs', json=missing), 422, 'validation')['field'] == 'branch'
    unknown = assert_problem(client.post('/api/runs', json={**run_body(), 'priority': 'high'}), 422, 'validation')
    assert unknown['field'] == 'priority' and 'priority' in unknown['detail']
    for raw in (b'{"project_id": "proj",', b'not json at all', b'{"a": 1}}'):  # not JSON: 400, documented
        reply = client.post('/api/runs', content=raw, headers={'Content-Type': 'application/json'})
        assert 'JSON' in assert_problem(reply, 400, 'malformed_json')['detail']
    for raw in (b'[1, 2, 3]', b'"text"', b'null'):  # JSON, but not a run request
        reply = client.post('/api/runs', content=raw, headers={'Content-Type': 'application/json'})
        assert_problem(reply, 422, 'validation')
    wrong_types = {**run_body(), 'branch': 7, 'depth_level': ['deep']}
    problem = assert_problem(client.post('/api/runs', json=wrong_types), 422, 'validation')
    assert {e['field'] for e in problem['errors']} >= {'branch', 'depth_level'}
    assert_problem(client.post('/api/runs/whatever/retry', json={'colour': 'red'}), 422, 'validation')
    assert_problem(client.get('/api/runs', params={'limit': 'lots'}), 422, 'validation')
    for bad_key in ('k' * 300, ''):  # never replaced by a minted key: a client resending it would make duplicates
        reply = client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': bad_key})
        assert assert_problem(reply, 400, 'invalid_idempotency_key')['field'] == 'Idempotency-Key'
    for bad_key in ('   ', 'tab\there'):  # the body field carries what a header cannot
        reply = client.post('/api/runs', json={**run_body(), 'x_idempotency_key': bad_key})
        assert_problem(reply, 400, 'invalid_idempotency_key')
    assert client.get('/api/runs').json()['items'] == []


def test_bodies_over_the_limit_are_413_declared_or_chunked(settings_factory, repo) -> None:  # noqa: ANN001
    from tests.helpers.api import serving

    with serving(settings_factory(global_run_cap=0, max_body_bytes=2048), repo) as api:
        big = {**run_body(), 'branch': 'x' * 5000}
        declared = api.client.post('/api/runs', json=big)
        assert_problem(declared, 413, 'payload_too_large')

        def chunks():  # no Content-Length: Transfer-Encoding: chunked
            for _ in range(10):
                yield b' ' * 1000

        chunked = api.client.post('/api/runs', content=chunks(), headers={'Content-Type': 'application/json'})
        assert 'content-length' not in chunked.request.headers
        assert_problem(chunked, 413, 'payload_too_large')
        assert_problem(api.client.post('/api/projects', content=chunks()), 413, 'payload_too_large')

        def small():  # a chunked body under the limit is handed on whole
            yield b'{"project_id": "proj", "branch": "main", '
            yield b'"depth_level": "shallow", "target_framework": "python"}'

        fits = api.client.post('/api/runs', content=small(), headers={'Content-Type': 'application/json'})
        assert fits.status_code == 201, fits.text
        assert [r['id'] for r in api.client.get('/api/runs').json()['items']] == [fits.json()['id']]


def test_odd_requests_never_yield_500(api) -> None:  # noqa: ANN001
    client = api.client
    odd = [
        ('POST', '/api/runs', {'content': b'\xff\xfe\x00garbage', 'headers': {'Content-Type': 'application/json'}}),
        ('POST', '/api/runs', {'content': b'project_id=proj', 'headers': {'Content-Type': 'text/plain'}}),
        ('POST', '/api/runs', {'json': {**run_body(), 'project_id': 'p' * 64}}),
        ('POST', '/api/runs', {'json': run_body(), 'headers': {'Idempotency-Key': 'a', 'X-Idempotency-Key': 'b'}}),
        ('GET', '/api/runs/%00', {}),
        ('GET', '/api/runs', {'params': {'cursor': '\u2603', 'status': 'queued,,nope'}}),
        ('GET', '/api/runs/x/events', {'params': {'after': '-1'}}),
        ('PATCH', '/api/projects/proj', {'json': {'command': []}}),
        ('PATCH', '/api/projects/proj', {'json': {'max_concurrent_runs': 0}}),
        ('PATCH', '/api/projects/proj', {'json': {'name': None}}),
        ('POST', '/api/projects', {'json': {'id': 'Bad Id!', 'name': 'x', 'repository': '.', 'command': ['x']}}),
        ('DELETE', '/api/runs/x', {}),
        ('PUT', '/api/projects', {}),
    ]
    for method, path, kwargs in odd:
        reply = client.request(method, path, **kwargs)
        assert reply.status_code < 500, (method, path, reply.status_code, reply.text)
        if reply.status_code >= 400:
            assert reply.headers['content-type'].startswith('application/problem+json'), (method, path)
            assert reply.json()['correlation_id'] == reply.headers['x-correlation-id']
    assert client.get('/api/projects/proj').json()['command'] == ['sh', 'run.sh']
    with httpx.Client(base_url=api.server.base_url) as raw:
        assert raw.get('/api/health').status_code == 200


def test_inputs_that_once_made_500s_are_4xx(api) -> None:  # noqa: ANN001
    """Found by fuzzing: a null repository, NUL bytes in a repository, numbers past 64 bits in a path."""
    client = api.client
    problem = assert_problem(client.patch('/api/projects/proj', json={'repository': None}), 422, 'validation')
    assert problem['field'] == 'repository'
    # a control character in a repository is refused by the repository rules, with their machine code
    nul = client.patch('/api/projects/proj', json={'repository': str(api.repo) + '\u0000x'})
    assert assert_problem(nul, 422, 'unsupported_repository')['field'] == 'repository'
    body = {'id': 'nul', 'name': 'nul', 'repository': '/tmp/a\u0000b', 'command': ['sh', 'run.sh']}
    assert_problem(client.post('/api/projects', json=body), 422, 'unsupported_repository')
    for action in ('requeue', 'discard'):
        reply = client.post(f'/api/afk/parked/proj/9223372036854775808/{action}')
        assert 400 <= reply.status_code < 500, reply.text
        assert reply.headers['content-type'].startswith('application/problem+json')
    assert client.get('/api/projects/proj').json()['repository'] == str(api.repo)  # nothing half-written
