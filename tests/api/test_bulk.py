"""Bulk Stop and Retry on every backend: one key for the whole action, per-run answers, exactly once when the
request is sent twice (in a row or at once, also to two server instances), rules per run."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from app.models import BulkAction
from tests.helpers.api import QUEUED, api_server, assert_problem, post_all, run_body, same_database, serving
from tests.helpers.runs import shell_script, wait_for_status

BRANCHES = 50


@pytest.fixture
def many(settings_factory, repo_factory):  # noqa: ANN001, ANN201
    """A server whose runs stay queued, project 'proj' on a repository with 50 branches (one run each)."""
    repo = repo_factory({'main': shell_script('x')} | {f'b/{n:02d}': shell_script('echo hi') for n in range(BRANCHES)})
    settings = settings_factory(**QUEUED, rate_limit_runs=1000)
    with serving(settings, repo, max_concurrent_runs=100) as api:
        api.settings = settings
        yield api


def queue_runs(api, count: int = BRANCHES) -> list[str]:  # noqa: ANN001
    return [api.client.post('/api/runs', json=run_body(branch=f'b/{n:02d}')).json()['id'] for n in range(count)]


def stops_per_run(api) -> Counter:  # noqa: ANN001
    with api.server.services.engine.connect() as conn:
        rows = conn.execute(text("SELECT target FROM auditentry WHERE action = 'run.stopped'")).all()
    return Counter(row[0] for row in rows)


STOP_QUEUED = {'action': 'stop', 'filter': {'project': 'proj', 'status': ['queued']}}


def test_a_filtered_stop_sent_twice_at_once_stops_each_run_exactly_once(many) -> None:  # noqa: ANN001
    made = queue_runs(many)
    answers = post_all(
        [many.server.base_url],
        many.server.token,
        [('/api/runs/bulk', STOP_QUEUED, {'Idempotency-Key': 'stop-all'})] * 2,
    )
    codes = sorted(a.status_code for a in answers)
    assert codes in ([200, 200], [200, 409]), [a.text for a in answers]  # the second waits or gets the answer
    first = next(a for a in answers if a.status_code == 200).json()
    assert sorted(item['run_id'] for item in first['items']) == sorted(made)
    assert first['summary'] == {'done': BRANCHES, 'skipped': 0, 'refused': 0}
    again = many.client.post('/api/runs/bulk', json=STOP_QUEUED, headers={'Idempotency-Key': 'stop-all'})
    assert again.status_code == 200 and again.headers['idempotent-replayed'] == 'true'
    assert again.json() == first  # the same answer, nothing done again
    assert stops_per_run(many) == Counter({run_id: 1 for run_id in made})
    statuses = {r['id']: r['status'] for r in many.client.get('/api/runs', params={'limit': 100}).json()['items']}
    assert set(statuses.values()) == {'stopped'}


def test_two_instances_share_one_bulk_action(settings_factory, many, backend: str) -> None:  # noqa: ANN001
    made = queue_runs(many, 10)
    with api_server(same_database(settings_factory, many.settings)) as second:
        answers = post_all(
            [many.server.base_url, second.base_url],
            many.server.token,
            [('/api/runs/bulk', STOP_QUEUED, {'Idempotency-Key': 'two-servers'})] * 4,
        )
    assert {a.status_code for a in answers} <= {200, 409}
    assert stops_per_run(many) == Counter({run_id: 1 for run_id in made})


def test_per_run_answers_and_a_resend_of_a_changed_payload(many) -> None:  # noqa: ANN001
    made = queue_runs(many, 3)
    many.client.post(f'/api/runs/{made[0]}/stop')
    body = {'action': 'stop', 'run_ids': [*made, 'run_doesnotexist']}
    answer = many.client.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'k1'}).json()
    outcomes = {item['run_id']: (item['outcome'], item.get('reason')) for item in answer['items']}
    assert outcomes[made[0]] == ('skipped', 'already ended (stopped)')
    assert outcomes[made[1]] == outcomes[made[2]] == ('done', None)
    assert outcomes['run_doesnotexist'][0] == 'skipped'
    changed = {'action': 'stop', 'run_ids': made[:1]}
    assert_problem(
        many.client.post('/api/runs/bulk', json=changed, headers={'Idempotency-Key': 'k1'}),
        422,
        'idempotency_key_mismatch',
    )
    assert_problem(many.client.post('/api/runs/bulk', json=body), 400, 'idempotency_key_required')
    both = {'action': 'stop', 'run_ids': made, 'filter': {'project': 'proj'}}
    assert_problem(many.client.post('/api/runs/bulk', json=both, headers={'Idempotency-Key': 'k2'}), 422, 'validation')


def test_bulk_retry_follows_the_rules_per_run_and_a_resend_replays_each_retry(many) -> None:  # noqa: ANN001
    made = queue_runs(many, 4)
    for run_id in made:
        many.client.post(f'/api/runs/{run_id}/stop')
    holder = many.client.post('/api/runs', json=run_body(branch='b/00')).json()  # holds b/00's PR lock
    body = {'action': 'retry', 'filter': {'project': 'proj', 'status': ['stopped']}}
    answer = many.client.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'retry-1'}).json()
    outcomes = {item['run_id']: item for item in answer['items']}
    assert outcomes[made[0]]['outcome'] == 'refused' and outcomes[made[0]]['error'] == 'pr_lock'
    assert [outcomes[r]['outcome'] for r in made[1:]] == ['done'] * 3
    retries = {outcomes[r]['new_run_id'] for r in made[1:]}
    assert len(retries) == 3 and holder['id'] not in retries

    # the holder ends; a new key retries only what is still stopped and not yet retried by the first key
    many.client.post(f'/api/runs/{holder["id"]}/stop')
    replay = many.client.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'retry-1'}).json()
    assert replay == answer  # one key, one answer: the resend acts on nothing
    listed = many.client.get('/api/runs', params={'kind': 'retry', 'limit': 100}).json()['items']
    assert {r['id'] for r in listed} == retries


def test_a_bulk_stop_of_running_runs_answers_per_run_and_a_resend_replays(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Runs that are really running (their processes live): the Stop reaches each process, the action is
    recorded done, and the same key gets the same answer back."""
    forever = shell_script('echo started\nwhile true; do sleep 0.1; done')
    repo = repo_factory({'main': forever, 'b/00': forever})
    with serving(settings_factory(), repo, max_concurrent_runs=2) as api:
        made = [api.client.post('/api/runs', json=run_body(branch=b)).json()['id'] for b in ('main', 'b/00')]
        for run_id in made:
            wait_for_status(api.client, run_id, statuses=('running',))
        body = {'action': 'stop', 'run_ids': made}
        answer = api.client.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'stop-running'})
        assert answer.status_code == 200, answer.text
        assert {item['run_id']: item['outcome'] for item in answer.json()['items']} == dict.fromkeys(made, 'done')
        assert answer.json()['summary'] == {'done': 2, 'skipped': 0, 'refused': 0}
        assert [wait_for_status(api.client, run_id)['status'] for run_id in made] == ['stopped', 'stopped']
        again = api.client.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'stop-running'})
        assert again.status_code == 200, again.text
        assert again.headers['idempotent-replayed'] == 'true' and again.json() == answer.json()
        assert stops_per_run(api) == Counter(dict.fromkeys(made, 1))


def test_a_resumed_bulk_retry_of_a_batch_child_replays_its_retry(many) -> None:  # noqa: ANN001
    """A bulk retry whose server died after retrying a batch's child: the resend finishes it, and the child it
    already retried is answered with that retry (its key replays), not refused because the retry holds the cell."""
    matrix = {'depth_level': ['shallow', 'deep'], 'target_framework': ['python']}
    sent = many.client.post('/api/runs/batch', json={'project_id': 'proj', 'branch': 'main', 'matrix': matrix})
    assert sent.status_code == 201, sent.text
    child = sent.json()['children'][0]['run']['id']
    assert many.client.post(f'/api/runs/{child}/stop').status_code == 202
    body = {'action': 'retry', 'run_ids': [child]}
    answer = many.client.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'resume-1'})
    assert answer.status_code == 200, answer.text
    retried = answer.json()['items'][0]['new_run_id']
    assert retried
    with Session(many.server.services.engine) as session, session.begin():  # its server died before answering
        record = session.exec(select(BulkAction).where(BulkAction.key == 'resume-1')).one()
        record.status, record.result, record.created_at = 'running', None, datetime(2000, 1, 1, tzinfo=UTC)
    resumed = many.client.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'resume-1'})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()['items'] == answer.json()['items']
    assert resumed.json()['summary'] == {'done': 1, 'skipped': 0, 'refused': 0}


def test_a_bulk_action_refused_before_acting_leaves_its_key_free(many) -> None:  # noqa: ANN001
    """A filter the server refuses acts on nothing: the same request again is refused the same way (not 'in
    progress'), and the corrected filter under the same key is carried out."""
    made = queue_runs(many, 2)
    bad = {'action': 'stop', 'filter': {'project': 'proj', 'since': 'yesterday'}}
    headers = {'Idempotency-Key': 'narrowed'}
    first = many.client.post('/api/runs/bulk', json=bad, headers=headers)
    assert first.status_code == 422, first.text
    error = first.json()['error']
    assert_problem(many.client.post('/api/runs/bulk', json=bad, headers=headers), 422, error)
    fixed = {'action': 'stop', 'filter': {'project': 'proj', 'since': '2000-01-01'}}
    answer = many.client.post('/api/runs/bulk', json=fixed, headers=headers)
    assert answer.status_code == 200, answer.text
    assert sorted(item['run_id'] for item in answer.json()['items']) == sorted(made)
    assert answer.json()['summary'] == {'done': 2, 'skipped': 0, 'refused': 0}
    again = many.client.post('/api/runs/bulk', json=fixed, headers=headers)
    assert again.status_code == 200 and again.headers['idempotent-replayed'] == 'true'
