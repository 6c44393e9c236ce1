"""Matrix (batch) triggers on every backend: one run per combination, one key for the batch (a resend, at once
or on two servers, makes no more), answers per child under the single trigger's rules (quota, concurrency, PR
lock), a resend completing only the missing children, all-or-nothing creating none when one child is refused."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import text

from tests.helpers.api import QUEUED, add_user, api_server, assert_problem, post_all, run_body, same_database, serving
from tests.helpers.runs import shell_script, wait_for_status

MATRIX_2X3 = {'depth_level': ['shallow', 'deep'], 'target_framework': ['python', 'node', 'go']}


def batch_body(branch: str = 'main', matrix: dict | None = None, **fields) -> dict:  # noqa: ANN003
    return {'project_id': 'proj', 'branch': branch, 'matrix': matrix or MATRIX_2X3, **fields}


@pytest.fixture
def roomy(settings_factory, repo):  # noqa: ANN001, ANN201
    """Runs stay queued; room for every child (quota 1000, ten concurrent runs)."""
    settings = settings_factory(**QUEUED, rate_limit_runs=1000)
    with serving(settings, repo, max_concurrent_runs=10) as api:
        api.settings = settings
        yield api


def runs_of(server, batch_id: str) -> Counter:  # noqa: ANN001
    """(depth, framework) -> how many runs the database holds for that cell of the batch."""
    with server.services.engine.connect() as conn:
        rows = conn.execute(
            text('SELECT depth_level, target_framework FROM run WHERE batch_id = :b'), {'b': batch_id}
        ).all()
    return Counter((row[0], row[1]) for row in rows)


def run_ids(answer: dict) -> dict[tuple[str, str], str]:
    return {(c['depth_level'], c['target_framework']): c['run']['id'] for c in answer['children'] if c['run']}


def outcomes(answer: dict) -> dict[tuple[str, str], str]:
    return {
        (c['depth_level'], c['target_framework']): c['outcome'] if c['outcome'] != 'refused' else c['problem']['error']
        for c in answer['children']
    }


def test_a_2x3_matrix_makes_six_runs_and_a_resend_makes_no_more(roomy) -> None:  # noqa: ANN001
    sent = roomy.client.post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'matrix-1'})
    assert sent.status_code == 201, sent.text
    batch = sent.json()
    assert batch['id'].startswith('bat_') and sent.headers['location'] == f'/api/runs/batch/{batch["id"]}'
    assert batch['status'] == 'admitted' and batch['mode'] == 'best_effort'
    assert batch['summary'] == {'total': 6, 'admitted': 6, 'refused': 0, 'pending': 0}
    assert [(c['depth_level'], c['target_framework']) for c in batch['children']] == [
        (d, f) for d in ('shallow', 'deep') for f in ('python', 'node', 'go')
    ]
    for child in batch['children']:
        run = child['run']
        assert child['outcome'] == 'admitted' and not child['replayed']
        assert (run['batch_id'], run['branch_name'], run['status']) == (batch['id'], 'main', 'queued')
        assert (run['depth_level'], run['target_framework']) == (child['depth_level'], child['target_framework'])
        assert run['commit_sha'] == batch['commit_sha']  # every child checks out the batch's commit
    assert batch['runs_by_status'] == {'queued': 6}
    # its page names the commit every child runs, read from the repository though no child has started
    assert batch['commit_title'] is None  # (the answer to the send reads nothing more)
    assert roomy.client.get(f'/api/runs/batch/{batch["id"]}').json()['commit_title'] == 'main commit'

    again = roomy.client.post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'matrix-1'})
    assert again.status_code == 200 and again.headers['idempotent-replayed'] == 'true'
    assert again.json()['id'] == batch['id'] and run_ids(again.json()) == run_ids(batch)
    assert all(child['replayed'] for child in again.json()['children'])
    assert runs_of(roomy.server, batch['id']) == Counter({cell: 1 for cell in run_ids(batch)})

    read = roomy.client.get(f'/api/runs/batch/{batch["id"]}').json()
    assert read['status'] == 'admitted' and run_ids(read) == run_ids(batch)
    single = roomy.client.get(f'/api/runs/{batch["children"][0]["run"]["id"]}').json()
    assert single['batch_id'] == batch['id']


def test_the_same_batch_sent_at_once_makes_each_child_once(roomy) -> None:  # noqa: ANN001
    answers = post_all(
        [roomy.server.base_url],
        roomy.server.token,
        [('/api/runs/batch', batch_body(), {'Idempotency-Key': 'storm'})] * 12,
    )
    assert sorted(a.status_code for a in answers) == [200] * 11 + [201], [a.text for a in answers]
    batches = {a.json()['id'] for a in answers}
    assert len(batches) == 1
    assert len({tuple(sorted(run_ids(a.json()).items())) for a in answers}) == 1  # the same runs in every answer
    assert all(a.json()['summary']['admitted'] == 6 for a in answers)
    assert runs_of(roomy.server, batches.pop()) == Counter({cell: 1 for cell in run_ids(answers[0].json())})


def test_two_instances_share_one_batch(settings_factory, roomy) -> None:  # noqa: ANN001
    with api_server(same_database(settings_factory, roomy.settings, rate_limit_runs=1000)) as second:
        answers = post_all(
            [roomy.server.base_url, second.base_url],
            roomy.server.token,
            [('/api/runs/batch', batch_body(branch='feature/a'), {'Idempotency-Key': 'two-servers'})] * 8,
        )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    (batch_id,) = {a.json()['id'] for a in answers}
    assert runs_of(roomy.server, batch_id) == Counter({cell: 1 for cell in run_ids(answers[0].json())})
    assert len(run_ids(answers[0].json())) == 6


def test_quota_running_out_part_way_answers_per_child_and_a_resend_after_the_window_completes_it(
    settings_factory,
    repo,  # noqa: ANN001
) -> None:
    # a window of seconds, not one or two: on a loaded machine admitting the six children takes a while, and a window
    # that slid part way would admit a fifth
    settings = settings_factory(**QUEUED, rate_limit_runs=4, rate_limit_window_seconds=6)
    with serving(settings, repo, max_concurrent_runs=10) as api:
        sent = api.client.post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'quota'})
        assert sent.status_code == 201, sent.text
        first = sent.json()
        assert first['status'] == 'partial' and first['summary']['admitted'] == 4
        refused = [c for c in first['children'] if c['outcome'] == 'refused']
        assert [(c['depth_level'], c['target_framework']) for c in refused] == [('deep', 'node'), ('deep', 'go')]
        for child in refused:
            assert child['run'] is None
            assert child['problem']['status'] == 429 and child['problem']['error'] == 'rate_limited'
            assert 1 <= child['problem']['retry_after'] <= 6
        assert 1 <= int(sent.headers['retry-after']) <= 6
        assert sent.headers['ratelimit'].startswith('"runs";r=0;')

        time.sleep(int(sent.headers['retry-after']) + 0.2)  # the window the server named has passed
        resent = api.client.post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'quota'})
        assert resent.status_code == 200 and resent.headers['idempotent-replayed'] == 'true'
        second = resent.json()
        assert second['id'] == first['id'] and second['status'] == 'admitted'
        assert {cell: run_ids(second)[cell] for cell in run_ids(first)} == run_ids(first)  # the first four kept
        replayed = {(c['depth_level'], c['target_framework']): c['replayed'] for c in second['children']}
        assert [cell for cell, again in replayed.items() if not again] == [('deep', 'node'), ('deep', 'go')]
        assert runs_of(api.server, first['id']) == Counter({cell: 1 for cell in run_ids(second)})
        assert len(run_ids(second)) == 6


def test_each_child_meets_the_concurrency_limit_and_the_branch_stays_locked_to_others(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, rate_limit_runs=1000), repo, max_concurrent_runs=4) as api:
        answer = api.client.post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'slots'}).json()
        assert answer['status'] == 'partial'
        assert list(outcomes(answer).values()) == ['admitted'] * 4 + ['concurrency_limit'] * 2
        holders = set(run_ids(answer).values())
        assert set(answer['children'][4]['problem']['blocking_runs']) == holders
        # siblings share `main`; any other trigger on it meets the PR lock held by a child
        lock = assert_problem(api.client.post('/api/runs', json=run_body(branch='main')), 409, 'concurrency_limit')
        assert set(lock['blocking_runs']) == holders
        api.client.post(f'/api/runs/{answer["children"][0]["run"]["id"]}/stop')
        lock = assert_problem(api.client.post('/api/runs', json=run_body(branch='main')), 409, 'pr_lock')
        assert lock['holder_run_id'] in holders
        other = api.client.post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'other-batch'})
        assert other.status_code == 201
        assert {c['problem']['error'] for c in other.json()['children']} == {'pr_lock'}


def test_a_branch_held_by_another_run_refuses_every_child(roomy) -> None:  # noqa: ANN001
    holder = roomy.client.post('/api/runs', json=run_body(branch='feature/b')).json()
    answer = roomy.client.post('/api/runs/batch', json=batch_body(branch='feature/b')).json()
    assert answer['status'] == 'refused' and answer['summary']['refused'] == 6
    assert {c['problem']['error'] for c in answer['children']} == {'pr_lock'}
    assert {tuple(c['problem']['blocking_runs']) for c in answer['children']} == {(holder['id'],)}


def test_all_or_nothing_creates_no_run_when_one_child_would_be_refused(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, rate_limit_runs=5), repo, max_concurrent_runs=10) as api:
        body = batch_body(mode='all_or_nothing')
        sent = api.client.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'atomic'})
        assert sent.status_code == 201, sent.text
        answer = sent.json()
        assert answer['status'] == 'refused' and answer['summary'] == {
            'total': 6,
            'admitted': 0,
            'refused': 6,
            'pending': 0,
        }
        assert list(outcomes(answer).values()) == ['sibling_refused'] * 5 + ['rate_limited']
        assert runs_of(api.server, answer['id']) == Counter()
        assert api.client.get('/api/quota/runs').json()['remaining'] == 5  # every quota entry given back

        # a batch that fits the quota is admitted whole
        fits = batch_body(
            mode='all_or_nothing', matrix={'depth_level': ['shallow', 'deep'], 'target_framework': ['go']}
        )
        admitted = api.client.post('/api/runs/batch', json=fits).json()
        assert admitted['status'] == 'admitted' and len(run_ids(admitted)) == 2
        assert api.client.get('/api/quota/runs').json()['remaining'] == 3


def test_all_or_nothing_against_the_concurrency_limit_then_admitted_together(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, rate_limit_runs=1000), repo, max_concurrent_runs=5) as api:
        body = batch_body(mode='all_or_nothing')
        refused = api.client.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'aon'}).json()
        assert list(outcomes(refused).values()) == ['sibling_refused'] * 5 + ['concurrency_limit']
        assert runs_of(api.server, refused['id']) == Counter()
        assert api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 6}).status_code == 200
        resent = api.client.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'aon'})
        assert resent.status_code == 200 and resent.json()['status'] == 'admitted'
        assert runs_of(api.server, refused['id']) == Counter({cell: 1 for cell in run_ids(resent.json())})


def test_bad_matrices_and_keys_are_refused_before_anything_is_made(roomy) -> None:  # noqa: ANN001
    post = roomy.client.post
    bad = batch_body(matrix={'depth_level': ['shallow', 'huge'], 'target_framework': ['python']})
    assert assert_problem(post('/api/runs/batch', json=bad), 422, 'validation')['field'] == 'matrix.depth_level'
    twice = batch_body(matrix={'depth_level': ['deep'], 'target_framework': ['go', 'go']})
    assert assert_problem(post('/api/runs/batch', json=twice), 422, 'validation')['field'] == 'matrix.target_framework'
    empty = batch_body(matrix={'depth_level': [], 'target_framework': ['go']})
    assert_problem(post('/api/runs/batch', json=empty), 422, 'validation')
    assert_problem(post('/api/runs/batch', json=batch_body(mode='some')), 422, 'validation')
    assert_problem(post('/api/runs/batch', json=batch_body(branch='nope')), 422, 'validation')
    assert_problem(post('/api/runs/batch', json={**batch_body(), 'project_id': 'ghost'}), 404, 'not_found')
    for bad_key in ('k' * 300, ''):
        reply = post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': bad_key})
        assert_problem(reply, 400, 'invalid_idempotency_key')
    assert post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'k'}).status_code == 201
    other = batch_body(matrix={'depth_level': ['deep'], 'target_framework': ['go']})
    assert_problem(
        post('/api/runs/batch', json=other, headers={'Idempotency-Key': 'k'}), 422, 'idempotency_key_mismatch'
    )
    aon = batch_body(mode='all_or_nothing')
    assert_problem(post('/api/runs/batch', json=aon, headers={'Idempotency-Key': 'k'}), 422, 'idempotency_key_mismatch')
    assert_problem(roomy.client.get('/api/runs/batch/bat_nothing'), 404, 'not_found')
    with roomy.server.services.engine.connect() as conn:
        assert conn.execute(text('SELECT count(*) FROM batch')).scalar() == 1


def test_more_than_fifty_combinations_is_a_422(settings_factory, repo) -> None:  # noqa: ANN001
    depths = [f'd{n}' for n in range(8)]
    frameworks = [f'f{n}' for n in range(7)]
    with serving(
        settings_factory(**QUEUED), repo, depth_levels=depths, target_frameworks=frameworks, max_concurrent_runs=60
    ) as api:
        body = batch_body(matrix={'depth_level': depths, 'target_framework': frameworks})
        problem = assert_problem(api.client.post('/api/runs/batch', json=body), 422, 'validation')
        assert problem['field'] == 'matrix' and '56' in problem['detail']


def test_another_team_never_sees_a_batch_and_a_deleted_project_takes_its_batches(roomy) -> None:  # noqa: ANN001
    answer = roomy.client.post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'mine'}).json()
    outsider = add_user(roomy.server, team='other', name='eve')
    with roomy.server.client(token=outsider) as eve:
        assert_problem(eve.get(f'/api/runs/batch/{answer["id"]}'), 404, 'not_found')
        assert_problem(eve.post('/api/runs/batch', json=batch_body()), 404, 'not_found')  # nor its project
    teammate = add_user(roomy.server, name='bob')
    with roomy.server.client(token=teammate) as bob:
        seen = bob.get(f'/api/runs/batch/{answer["id"]}').json()
        assert run_ids(seen) == run_ids(answer) and seen['user_name'] == answer['user_name']
        # the key is per person: bob's batch with the same key is his own
        his = bob.post('/api/runs/batch', json=batch_body(branch='feature/c'), headers={'Idempotency-Key': 'mine'})
        assert his.status_code == 201 and his.json()['id'] != answer['id']
    for run_id in run_ids(answer).values():
        roomy.client.post(f'/api/runs/{run_id}/stop')
    for run_id in run_ids(his.json()).values():
        roomy.client.post(f'/api/runs/{run_id}/stop')
    assert roomy.client.delete('/api/projects/proj').status_code == 204
    assert_problem(roomy.client.get(f'/api/runs/batch/{answer["id"]}'), 404, 'not_found')
    with roomy.server.services.engine.connect() as conn:
        assert conn.execute(text('SELECT count(*) FROM batch')).scalar() == 0


def test_rerunning_a_batchs_failed_children_puts_each_retry_in_its_cell(settings_factory, repo_factory) -> None:  # noqa: ANN001
    # GitHub's "re-run failed jobs": the failed cells run again inside the batch, the others keep their runs
    repo = repo_factory({'main': shell_script('[ "$RUNBOARD_DEPTH_LEVEL" = deep ] && { sleep 2; exit 1; }\nexit 0')})
    with serving(settings_factory(rate_limit_runs=1000), repo, max_concurrent_runs=10) as api:
        matrix = {'depth_level': ['shallow', 'deep'], 'target_framework': ['python', 'node']}
        sent = api.client.post('/api/runs/batch', json=batch_body(matrix=matrix), headers={'Idempotency-Key': 'm-1'})
        assert sent.status_code == 201, sent.text
        batch_id = sent.json()['id']
        first = run_ids(sent.json())
        for run_id in first.values():
            wait_for_status(api.client, run_id, ('succeeded', 'failed'))
        failed = sorted(first[('deep', f)] for f in ('python', 'node'))

        rerun = api.client.post(
            '/api/runs/bulk', json={'action': 'retry', 'run_ids': failed}, headers={'Idempotency-Key': 'r-1'}
        )
        assert rerun.status_code == 200, rerun.text
        made = {item['run_id']: item['new_run_id'] for item in rerun.json()['items'] if item['outcome'] == 'done'}
        assert rerun.json()['summary'].get('done') == 2, rerun.json()
        assert sorted(made) == failed
        # a cell runs one attempt at a time: retrying it again while its retry is active is refused, naming the run
        busy = api.client.post(f'/api/runs/{failed[0]}/retry')
        assert assert_problem(busy, 409, 'batch_cell_busy')['blocking_run_id'] == made[failed[0]]
        for run_id in made.values():
            wait_for_status(api.client, run_id, ('failed',))
        batch = api.client.get(f'/api/runs/batch/{batch_id}').json()
        now = run_ids(batch)
        assert {cell: now[cell] for cell in now if cell[0] == 'shallow'} == {
            c: first[c] for c in first if c[0] == 'shallow'
        }
        for framework in ('python', 'node'):
            child = next(
                c for c in batch['children'] if (c['depth_level'], c['target_framework']) == ('deep', framework)
            )
            assert child['run']['id'] == made[first[('deep', framework)]]
            assert (child['run']['kind'], child['run']['retry_of']) == ('retry', first[('deep', framework)])
        assert batch['runs_by_status'] == {'failed': 2, 'succeeded': 2}
        assert runs_of(api.server, batch_id)[('deep', 'python')] == 2  # the first attempt is kept, behind the retry

        # a retry moved to another cell is a run of its own, outside the batch
        moved = api.client.post(f'/api/runs/{failed[0]}/retry', json={'depth_level': 'shallow'})
        assert moved.status_code == 201, moved.text
        assert moved.json()['batch_id'] is None
        assert run_ids(api.client.get(f'/api/runs/batch/{batch_id}').json()) == now


def test_retries_of_one_cell_sent_to_two_servers_at_once_make_one_run(settings_factory, repo) -> None:  # noqa: ANN001
    # both servers can find the cell free before either writes: the loser is told the cell is busy and by which run,
    # not that "the repository changed"
    settings = settings_factory(**QUEUED, rate_limit_runs=1000)
    with (
        serving(settings, repo, max_concurrent_runs=10) as api,
        api_server(same_database(settings_factory, settings)) as second,
    ):
        sent = api.client.post('/api/runs/batch', json=batch_body(), headers={'Idempotency-Key': 'race'})
        assert sent.status_code == 201, sent.text
        child = run_ids(sent.json())[('deep', 'go')]
        assert api.client.post(f'/api/runs/{child}/stop').status_code == 202
        wait_for_status(api.client, child, ('stopped',))

        answers = post_all(
            [api.server.base_url, second.base_url], api.server.token, [(f'/api/runs/{child}/retry', {}, {})] * 16
        )
        created = [a for a in answers if a.status_code == 201]
        assert len(created) == 1, [(a.status_code, a.text) for a in answers]
        winner = created[0].json()['id']
        for answer in answers:
            if answer is not created[0]:
                assert assert_problem(answer, 409, 'batch_cell_busy')['blocking_run_id'] == winner
        assert runs_of(api.server, sent.json()['id'])[('deep', 'go')] == 2
