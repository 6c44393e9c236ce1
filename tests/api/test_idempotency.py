"""Rule 3: a key names one run; a duplicate never becomes a second run, on one server or two."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.services.runs.writer import lock_id
from tests.helpers.api import QUEUED, assert_problem, post_all, run_body, same_database, serving
from tests.helpers.repos import add_branches
from tests.helpers.servers import api_server


def _run_count(server) -> int:  # noqa: ANN001
    with server.services.engine.connect() as conn:
        return conn.execute(text('SELECT count(*) FROM run')).scalar_one()


def test_same_key_same_body_replays_the_run(api) -> None:  # noqa: ANN001
    first = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'k-1'})
    assert first.status_code == 201, first.text
    assert first.headers['idempotency-key'] == 'k-1' and 'idempotent-replayed' not in first.headers
    again = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'k-1'})
    assert again.status_code == 200, again.text
    assert again.headers['idempotent-replayed'] == 'true'
    assert again.json()['id'] == first.json()['id'] and again.json()['idempotency_key'] == 'k-1'
    # the key may come in X-Idempotency-Key or the body field too: the same key, the same run
    for variant in (
        {'headers': {'X-Idempotency-Key': 'k-1'}, 'json': run_body()},
        {'json': {**run_body(), 'x_idempotency_key': 'k-1'}},
    ):
        reply = api.client.post('/api/runs', **variant)
        assert reply.status_code == 200 and reply.json()['id'] == first.json()['id'], reply.text
    # the body field is not part of the payload: key order and the key field change nothing
    reordered = dict(reversed(list({**run_body(), 'x_idempotency_key': 'k-1'}.items())))
    assert api.client.post('/api/runs', json=reordered).status_code == 200
    assert _run_count(api.server) == 1


def test_each_key_spelling_alone_creates_and_is_echoed(api) -> None:  # noqa: ANN001
    by_x_header = api.client.post('/api/runs', json=run_body(branch='feature/a'), headers={'X-Idempotency-Key': 'xh'})
    by_body = api.client.post('/api/runs', json={**run_body(branch='feature/b'), 'x_idempotency_key': 'bd'})
    assert (by_x_header.status_code, by_body.status_code) == (201, 201)
    assert by_x_header.headers['idempotency-key'] == 'xh' and by_body.headers['idempotency-key'] == 'bd'
    assert by_x_header.json()['idempotency_key'] == 'xh' and by_body.json()['idempotency_key'] == 'bd'


def test_without_a_key_the_server_mints_one_that_replays(api) -> None:  # noqa: ANN001
    first = api.client.post('/api/runs', json=run_body())
    assert first.status_code == 201
    minted = first.headers['idempotency-key']
    uuid.UUID(minted)
    assert first.json()['idempotency_key'] == minted
    again = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': minted})
    assert again.status_code == 200 and again.json()['id'] == first.json()['id']
    # a second request without a key is a new request (and here meets the PR lock)
    assert_problem(api.client.post('/api/runs', json=run_body()), 409, 'pr_lock')


def test_same_key_different_body_is_422_mismatch(api) -> None:  # noqa: ANN001
    assert api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'k'}).status_code == 201
    for change in ({'branch': 'feature/a'}, {'depth_level': 'deep'}, {'target_framework': 'go'}):
        reply = api.client.post('/api/runs', json={**run_body(), **change}, headers={'Idempotency-Key': 'k'})
        assert_problem(reply, 422, 'idempotency_key_mismatch')
    assert _run_count(api.server) == 1
    # keys are scoped per user: another user may use the same key for anything
    from tests.helpers.api import add_user

    with api.server.client(add_user(api.server)) as bob:
        reply = bob.post('/api/runs', json=run_body(branch='feature/a'), headers={'Idempotency-Key': 'k'})
        assert reply.status_code == 201, reply.text


def test_replay_is_never_refused_by_quota_or_locks(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, rate_limit_runs=2), repo, max_concurrent_runs=1) as api:
        first = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'first'})
        assert first.status_code == 201
        # the repository is now at its concurrency limit and main is locked by this very run
        assert_problem(api.client.post('/api/runs', json=run_body(branch='feature/a')), 409, 'concurrency_limit')
        replay = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'first'})
        assert replay.status_code == 200 and replay.json()['id'] == first.json()['id']
        api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 5})
        assert api.client.post('/api/runs', json=run_body(branch='feature/a')).status_code == 201
        assert_problem(api.client.post('/api/runs', json=run_body(branch='feature/b')), 429, 'rate_limited')
        replay = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'first'})
        assert replay.status_code == 200 and replay.json()['id'] == first.json()['id']
        assert replay.headers['ratelimit'].startswith('"runs";r=0;')
        # and after the run ended, whatever happened since
        api.client.post(f'/api/runs/{first.json()["id"]}/stop')
        replay = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'first'})
        assert replay.status_code == 200 and replay.json()['status'] == 'stopped'


@contextmanager
def _repository_held(server, project_id: str) -> Iterator[None]:  # noqa: ANN001
    """What another admission to the project's repository holds while it writes: the repository's advisory
    lock on PostgreSQL, the database's write lock on SQLite."""
    engine = server.services.engine
    with engine.connect() as conn:
        repository = conn.execute(text('SELECT repository_key FROM project WHERE id = :p'), {'p': project_id}).scalar()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == 'sqlite':
            cursor.execute('BEGIN IMMEDIATE')
        else:
            cursor.execute('SELECT pg_advisory_xact_lock(%s)', (lock_id(repository),))
        yield
    finally:
        raw.rollback()
        raw.close()


def test_a_replay_does_not_wait_for_an_admission_to_the_same_repository(api) -> None:  # noqa: ANN001
    first = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'held'})
    assert first.status_code == 201, first.text
    with _repository_held(api.server, 'proj'):
        replay = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'held'}, timeout=5)
        assert replay.status_code == 200 and replay.json()['id'] == first.json()['id']
        assert replay.headers['idempotent-replayed'] == 'true'
        mismatch = api.client.post(
            '/api/runs', json=run_body(branch='feature/a'), headers={'Idempotency-Key': 'held'}, timeout=5
        )
        assert_problem(mismatch, 422, 'idempotency_key_mismatch')


def test_fifty_concurrent_identical_requests_make_one_run(api) -> None:  # noqa: ANN001
    answers = post_all(
        [api.server.base_url], api.server.token, [('/api/runs', run_body(), {'Idempotency-Key': 'storm'})] * 50
    )
    _assert_one_run(api.server, answers)


def test_concurrent_identical_requests_on_two_servers_make_one_run(settings_factory, repo) -> None:  # noqa: ANN001
    settings = settings_factory(**QUEUED)
    with serving(settings, repo) as api, api_server(same_database(settings_factory, settings)) as second:
        # one database: the second instance reads the first one's credentials and projects
        token = api.server.token
        for round_key in ('two-a', 'two-b'):
            branch = 'feature/a' if round_key == 'two-a' else 'feature/b'
            answers = post_all(
                [api.server.base_url, second.base_url],
                token,
                [('/api/runs', run_body(branch=branch), {'Idempotency-Key': round_key})] * 40,
            )
            _assert_one_run(api.server, answers, key=round_key)


def _assert_one_run(server, answers, key: str = 'storm') -> None:  # noqa: ANN001
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 1, [(a.status_code, a.text) for a in answers if a.status_code != 200][:5]
    run_id = created[0].json()['id']
    for answer in answers:
        if answer.status_code == 409:
            assert_problem(answer, 409, 'idempotency_in_flight')
        else:
            assert answer.status_code in (200, 201), answer.text
            assert answer.json()['id'] == run_id
    with server.services.engine.connect() as conn:
        assert conn.execute(text('SELECT count(*) FROM run WHERE idempotency_key = :k'), {'k': key}).scalar() == 1


def test_after_the_ttl_the_key_is_free_again(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, idempotency_ttl_seconds=1), repo) as api:
        first = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'short'})
        assert first.status_code == 201
        time.sleep(1.2)
        # the key no longer binds: a different body is accepted, as a new run
        other = api.client.post('/api/runs', json=run_body(branch='feature/a'), headers={'Idempotency-Key': 'short'})
        assert other.status_code == 201, other.text
        assert other.json()['id'] != first.json()['id']
        # and it now names the new run
        again = api.client.post('/api/runs', json=run_body(branch='feature/a'), headers={'Idempotency-Key': 'short'})
        assert again.status_code == 200 and again.json()['id'] == other.json()['id']


def test_many_keys_from_two_servers_each_make_exactly_one_run(settings_factory, repo) -> None:  # noqa: ANN001
    branches = add_branches(repo, 30)
    settings = settings_factory(**QUEUED, rate_limit_runs=1000)
    with (
        serving(settings, repo, max_concurrent_runs=100) as api,
        api_server(same_database(settings_factory, settings)) as second,
    ):
        requests = [('/api/runs', run_body(branch=b), {'Idempotency-Key': f'key-{b}'}) for b in branches] * 2
        answers = post_all([api.server.base_url, second.base_url], api.server.token, requests)
        assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers if a.status_code > 201]
        by_key: dict[str, set] = {}
        for (_, _, headers), answer in zip(requests, answers, strict=True):
            by_key.setdefault(headers['Idempotency-Key'], set()).add(answer.json()['id'])
        assert all(len(ids) == 1 for ids in by_key.values())
        assert sorted(a.status_code for a in answers).count(201) == len(branches)
        assert _run_count(api.server) == len(branches)


def test_keys_with_control_characters_are_refused(api) -> None:  # noqa: ANN001
    for key in ('nul\x00key', 'tab\tkey', 'bell\x07'):
        reply = api.client.post('/api/runs', json={**run_body(), 'x_idempotency_key': key})
        assert assert_problem(reply, 400, 'invalid_idempotency_key')['field'] == 'Idempotency-Key'
    assert _run_count(api.server) == 0


def test_a_resent_retry_of_a_batch_child_replays_instead_of_finding_its_cell_busy(settings_factory, repo) -> None:  # noqa: ANN001
    """The retry took the cell; the same request again (after a timeout, say) is its answer, not a refusal."""
    matrix = {'depth_level': ['shallow', 'deep'], 'target_framework': ['python']}
    with serving(settings_factory(**QUEUED, rate_limit_runs=1000), repo, max_concurrent_runs=10) as api:
        batch = {'project_id': 'proj', 'branch': 'main', 'matrix': matrix}
        sent = api.client.post('/api/runs/batch', json=batch, headers={'Idempotency-Key': 'm-1'})
        assert sent.status_code == 201, sent.text
        child = sent.json()['children'][0]['run']['id']
        assert api.client.post(f'/api/runs/{child}/stop').status_code == 202
        first = api.client.post(f'/api/runs/{child}/retry', headers={'Idempotency-Key': 'r-same'})
        assert first.status_code == 201, first.text
        again = api.client.post(f'/api/runs/{child}/retry', headers={'Idempotency-Key': 'r-same'})
        assert again.status_code == 200, again.text
        assert again.headers['idempotent-replayed'] == 'true' and again.json()['id'] == first.json()['id']
        # another key still finds the cell busy, naming the retry; the same key with another body is a mismatch
        busy = api.client.post(f'/api/runs/{child}/retry', headers={'Idempotency-Key': 'r-other'})
        assert assert_problem(busy, 409, 'batch_cell_busy')['blocking_run_id'] == first.json()['id']
        moved = api.client.post(
            f'/api/runs/{child}/retry', json={'depth_level': 'deep'}, headers={'Idempotency-Key': 'r-same'}
        )
        assert_problem(moved, 422, 'idempotency_key_mismatch')
        assert _run_count(api.server) == 3  # two children and one retry
