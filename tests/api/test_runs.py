"""Retry, stop, and reading runs: filters, order, cursor pagination, events."""

from __future__ import annotations

import subprocess

from sqlalchemy import text

from tests.helpers.api import add_user, assert_problem, run_body
from tests.helpers.runs import create_project


def _set_status(server, run_id: str, status: str) -> None:  # noqa: ANN001
    """End a queued run as the engine would (the engine itself is tested in tests/engine)."""
    from app.models import RunStatus
    from app.services.execution.reaper import finish_run

    assert finish_run(server.services.engine, run_id=run_id, status=RunStatus(status)) is not None


def test_retry_creates_a_linked_run_with_overrides_and_its_own_key(api) -> None:  # noqa: ANN001
    original = api.client.post('/api/runs', json=run_body(branch='feature/a')).json()
    _set_status(api.server, original['id'], 'failed')
    retry = api.client.post(
        f'/api/runs/{original["id"]}/retry', json={'depth_level': 'deep'}, headers={'Idempotency-Key': 'retry-1'}
    )
    assert retry.status_code == 201, retry.text
    body = retry.json()
    assert body['kind'] == 'retry' and body['retry_of'] == original['id'] and body['status'] == 'queued'
    assert (body['branch_name'], body['depth_level'], body['target_framework']) == ('feature/a', 'deep', 'python')
    assert retry.headers['idempotency-key'] == 'retry-1' and body['idempotency_key'] == 'retry-1'
    replay = api.client.post(
        f'/api/runs/{original["id"]}/retry', json={'depth_level': 'deep'}, headers={'Idempotency-Key': 'retry-1'}
    )
    assert replay.status_code == 200 and replay.headers['idempotent-replayed'] == 'true'
    assert replay.json()['id'] == body['id']
    mismatch = api.client.post(
        f'/api/runs/{original["id"]}/retry', json={'depth_level': 'shallow'}, headers={'Idempotency-Key': 'retry-1'}
    )
    assert_problem(mismatch, 422, 'idempotency_key_mismatch')
    # overrides are validated like a trigger
    _set_status(api.server, body['id'], 'crashed')
    bad = api.client.post(f'/api/runs/{body["id"]}/retry', json={'branch': 'gone'})
    assert assert_problem(bad, 422, 'validation')['field'] == 'branch'
    other = api.client.post(f'/api/runs/{body["id"]}/retry', json={'branch': 'feature/b', 'target_framework': 'go'})
    assert other.status_code == 201 and other.json()['branch_name'] == 'feature/b'
    assert other.json()['target_framework'] == 'go' and other.json()['retry_of'] == body['id']


def test_retry_is_allowed_only_for_ended_unsuccessful_runs(api) -> None:  # noqa: ANN001
    api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 10})
    for status in ('failed', 'timed_out', 'crashed', 'stopped'):
        run = api.client.post('/api/runs', json=run_body(branch='feature/a')).json()
        _set_status(api.server, run['id'], status)
        retried = api.client.post(f'/api/runs/{run["id"]}/retry')  # no body at all is fine
        assert retried.status_code == 201, (status, retried.text)
        _set_status(api.server, retried.json()['id'], 'stopped')
    queued = api.client.post('/api/runs', json=run_body(branch='feature/b')).json()
    assert_problem(api.client.post(f'/api/runs/{queued["id"]}/retry', json={}), 409, 'not_retryable')
    with api.server.services.engine.begin() as conn:  # as the engine marks it
        conn.execute(text("UPDATE run SET status = 'running' WHERE id = :id"), {'id': queued['id']})
    assert_problem(api.client.post(f'/api/runs/{queued["id"]}/retry', json={}), 409, 'not_retryable')
    _set_status(api.server, queued['id'], 'succeeded')
    problem = assert_problem(api.client.post(f'/api/runs/{queued["id"]}/retry', json={}), 409, 'not_retryable')
    assert 'succeeded' in problem['detail']
    assert_problem(api.client.post('/api/runs/run_nope/retry', json={}), 404, 'not_found')


def test_stop_ends_a_queued_run_as_stopped_and_409_once_ended(api) -> None:  # noqa: ANN001
    run = api.client.post('/api/runs', json=run_body()).json()
    stopped = api.client.post(f'/api/runs/{run["id"]}/stop')
    assert stopped.status_code == 202, stopped.text
    detail = api.client.get(f'/api/runs/{run["id"]}').json()
    assert detail['status'] == 'stopped' and detail['finished_at']
    assert any('stop requested by local' in e['text'] for e in detail['events'])
    assert_problem(api.client.post(f'/api/runs/{run["id"]}/stop'), 409, 'run_ended')
    assert_problem(api.client.post('/api/runs/run_nope/stop'), 404, 'not_found')
    # the branch and the slot are free again
    assert api.client.post('/api/runs', json=run_body()).status_code == 201


def test_a_second_stop_of_a_running_run_says_and_audits_nothing_more(api) -> None:  # noqa: ANN001
    """Two presses of Stop (or two people) while the run winds down: both answered 202, one log line, one audit
    entry."""
    run = api.client.post('/api/runs', json=run_body()).json()
    with api.server.services.engine.begin() as conn:  # as the engine marks it
        conn.execute(text("UPDATE run SET status = 'running' WHERE id = :id"), {'id': run['id']})
    assert api.client.post(f'/api/runs/{run["id"]}/stop').status_code == 202
    again = api.client.post(f'/api/runs/{run["id"]}/stop')
    assert again.status_code == 202 and again.json()['status'] == 'running'
    events = api.client.get(f'/api/runs/{run["id"]}').json()['events']
    assert [e['text'] for e in events if 'stop requested' in e['text']] == ['stop requested by local']
    with api.server.services.engine.connect() as conn:
        audited = conn.execute(
            text("SELECT count(*) FROM auditentry WHERE action = 'run.stopped' AND target = :id"), {'id': run['id']}
        ).scalar()
    assert audited == 1


def test_list_filters_order_and_cursor(api) -> None:  # noqa: ANN001
    api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 50})
    create_project(api.client, api.repo, project_id='other', max_concurrent_runs=50)
    made = [
        api.client.post('/api/runs', json=run_body(branch='main')).json(),
        api.client.post('/api/runs', json=run_body(branch='feature/a')).json(),
        api.client.post('/api/runs', json=run_body('other', branch='feature/b')).json(),
    ]
    with api.server.client(add_user(api.server, name='bob')) as bob:
        made.append(bob.post('/api/runs', json=run_body('other', branch='feature/c', depth='deep')).json())
    _set_status(api.server, made[0]['id'], 'failed')
    retry = api.client.post(f'/api/runs/{made[0]["id"]}/retry', json={'depth_level': 'deep'}).json()
    made.append(retry)
    newest_first = [r['id'] for r in reversed(made)]

    def ids(**params) -> list[str]:  # noqa: ANN003
        page = api.client.get('/api/runs', params=params)
        assert page.status_code == 200, page.text
        return [r['id'] for r in page.json()['items']]

    assert ids() == newest_first
    assert ids(project='other') == [made[3]['id'], made[2]['id']]
    assert ids(status='failed') == [made[0]['id']]
    assert ids(status='queued') == [r for r in newest_first if r != made[0]['id']]
    assert ids(status='queued,failed') == ids(status=['queued', 'failed']) == newest_first
    assert ids(kind='retry') == [retry['id']]
    assert ids(kind='manual') == newest_first[1:]
    assert ids(branch='main') == [retry['id'], made[0]['id']]
    assert ids(user='bob') == [made[3]['id']]
    assert ids(user=made[3]['user_id']) == [made[3]['id']]
    assert ids(project='other', user='local') == [made[2]['id']]
    # cursor pagination walks every run once, newest first
    seen, cursor = [], None
    while True:
        params = {'limit': 2, **({'cursor': cursor} if cursor else {})}
        page = api.client.get('/api/runs', params=params).json()
        seen += [r['id'] for r in page['items']]
        cursor = page['next_cursor']
        if cursor is None:
            break
    assert seen == newest_first
    assert made[3]['user_name'] == 'bob'
    assert api.client.get('/api/runs', params={'user': 'bob'}).json()['items'][0]['user_name'] == 'bob'


def test_run_detail_and_incremental_events(api) -> None:  # noqa: ANN001
    run = api.client.post('/api/runs', json=run_body(), headers={'X-Correlation-ID': 'trace-123'}).json()
    assert run['correlation_id'] == 'trace-123'
    api.client.post(f'/api/runs/{run["id"]}/stop')
    detail = api.client.get(f'/api/runs/{run["id"]}').json()
    assert detail['id'] == run['id'] and detail['status'] == 'stopped'
    texts = [e['text'] for e in detail['events']]
    assert texts[0] == 'queued' and texts[-1].startswith('stopped')
    seqs = [e['seq'] for e in detail['events']]
    assert seqs == list(range(1, len(seqs) + 1)) and detail['last_seq'] == seqs[-1]
    assert api.client.get(f'/api/runs/{run["id"]}/events').json() == detail['events']
    after = api.client.get(f'/api/runs/{run["id"]}/events', params={'after': 1}).json()
    assert [e['seq'] for e in after] == seqs[1:]
    assert api.client.get(f'/api/runs/{run["id"]}/events', params={'after': seqs[-1]}).json() == []
    assert (
        'events' not in api.client.get(f'/api/runs/{run["id"]}', params={'events_limit': 0}).json()
        or api.client.get(f'/api/runs/{run["id"]}', params={'events_limit': 0}).json()['events'] == []
    )
    assert_problem(api.client.get('/api/runs/run_nope'), 404, 'not_found')
    assert_problem(api.client.get('/api/runs/run_nope/events'), 404, 'not_found')


def test_a_retry_runs_the_commit_its_original_ran(api) -> None:  # noqa: ANN001
    """As GitHub's re-run: the same commit, though its branch has moved on since (its commit status is that
    commit's); moved to another branch, it runs that branch's head."""
    original = api.client.post('/api/runs', json=run_body(branch='main')).json()
    _set_status(api.server, original['id'], 'failed')
    (api.repo / 'later.txt').write_text('pushed after the run\n')
    subprocess.run(['git', 'checkout', '-q', 'main'], cwd=api.repo, check=True)
    subprocess.run(['git', 'add', 'later.txt'], cwd=api.repo, check=True)
    subprocess.run(
        ['git', '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'later'], cwd=api.repo, check=True
    )
    head = subprocess.run(['git', 'rev-parse', 'main'], cwd=api.repo, check=True, capture_output=True, text=True)
    assert head.stdout.strip() != original['commit_sha']
    api.server.services.repositories.branches.forget(str(api.repo))  # the server knows the branch moved (as a fetch)

    retry = api.client.post(f'/api/runs/{original["id"]}/retry', json={})
    assert retry.status_code == 201, retry.text
    assert retry.json()['commit_sha'] == original['commit_sha']
    _set_status(api.server, retry.json()['id'], 'failed')
    fresh = api.client.post('/api/runs', json=run_body(branch='main')).json()
    assert fresh['commit_sha'] == head.stdout.strip()  # a new run takes the branch as it is now
    moved = api.client.post(f'/api/runs/{retry.json()["id"]}/retry', json={'branch': 'feature/a'}).json()
    assert moved['commit_sha'] not in (None, original['commit_sha'])
