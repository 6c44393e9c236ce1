"""Rules 5-7: repository concurrency (shared by projects on one repository), the PR lock, and the
order of the checks; also under concurrent requests and across two servers."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers.api import QUEUED, assert_problem, post_all, run_body, same_database, serving
from tests.helpers.repos import add_branches
from tests.helpers.runs import create_project
from tests.helpers.servers import api_server


def _active(server) -> list[tuple[str, str]]:  # noqa: ANN001
    with server.services.engine.connect() as conn:
        return conn.execute(text("SELECT id, branch_name FROM run WHERE status IN ('queued', 'running')")).all()


def test_concurrency_limit_is_per_repository_and_names_the_active_runs(api) -> None:  # noqa: ANN001
    create_project(api.client, api.repo, project_id='sibling', max_concurrent_runs=5)  # same repository
    first = api.client.post('/api/runs', json=run_body(branch='main')).json()
    second = api.client.post('/api/runs', json=run_body(project_id='sibling', branch='feature/a')).json()
    for project_id in ('proj', 'sibling'):  # the smaller limit (2) holds for both
        refused = api.client.post('/api/runs', json=run_body(project_id=project_id, branch='feature/b'))
        problem = assert_problem(refused, 409, 'concurrency_limit')
        assert sorted(problem['blocking_runs']) == sorted([first['id'], second['id']])
    api.client.post(f'/api/runs/{first["id"]}/stop')
    assert api.client.post('/api/runs', json=run_body(branch='feature/b')).status_code == 201
    # another repository is not affected
    assert len(_active(api.server)) == 2


def test_pr_lock_names_the_run_holding_the_branch(api) -> None:  # noqa: ANN001
    create_project(api.client, api.repo, project_id='sibling')
    holder = api.client.post('/api/runs', json=run_body(branch='feature/a')).json()
    for project_id in ('proj', 'sibling'):
        refused = api.client.post('/api/runs', json=run_body(project_id=project_id, branch='feature/a', depth='deep'))
        problem = assert_problem(refused, 409, 'pr_lock')
        assert problem['blocking_runs'] == [holder['id']] and holder['id'] in problem['detail']
    assert api.client.post('/api/runs', json=run_body(branch='feature/b')).status_code == 201
    api.client.post(f'/api/runs/{holder["id"]}/stop')
    assert api.client.post('/api/runs', json=run_body(branch='feature/a')).status_code == 201


def test_checks_run_in_the_documented_order(settings_factory, repo) -> None:  # noqa: ANN001
    import httpx

    with serving(settings_factory(**QUEUED, rate_limit_runs=3), repo, max_concurrent_runs=2) as api:
        used = api.client.post('/api/runs', json=run_body(branch='main'), headers={'Idempotency-Key': 'used'})
        api.client.post('/api/runs', json=run_body(branch='feature/a'))
        # at the concurrency limit, on a locked branch: concurrency comes before the PR lock
        assert_problem(api.client.post('/api/runs', json=run_body(branch='main')), 409, 'concurrency_limit')
        api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 10})
        assert_problem(api.client.post('/api/runs', json=run_body(branch='main')), 409, 'pr_lock')
        assert api.client.post('/api/runs', json=run_body(branch='feature/b')).status_code == 201
        # over quota and on a locked branch: the quota comes first
        assert_problem(api.client.post('/api/runs', json=run_body(branch='main')), 429, 'rate_limited')
        # invalid and over quota: validation comes first
        reply = api.client.post('/api/runs', json=run_body(branch='feature/c', framework='cobol'))
        assert assert_problem(reply, 422, 'validation')['field'] == 'target_framework'
        # over quota, but the key was used with another body: the idempotency lookup comes first
        reply = api.client.post('/api/runs', json=run_body(branch='feature/c'), headers={'Idempotency-Key': 'used'})
        assert_problem(reply, 422, 'idempotency_key_mismatch')
        replay = api.client.post('/api/runs', json=run_body(branch='main'), headers={'Idempotency-Key': 'used'})
        assert replay.status_code == 200 and replay.json()['id'] == used.json()['id']
        # unauthenticated and invalid: auth first
        anonymous = httpx.post(api.server.base_url + '/api/runs', json={'bad': 1})
        assert_problem(anonymous, 401, 'unauthorized')


def test_concurrent_requests_never_exceed_the_limit(settings_factory, repo) -> None:  # noqa: ANN001
    branches = add_branches(repo, 40)
    with serving(settings_factory(**QUEUED, rate_limit_runs=1000), repo, max_concurrent_runs=7) as api:
        # 40 distinct branches and 20 requests all on one branch
        requests = [('/api/runs', run_body(branch=b), {}) for b in branches]
        requests += [('/api/runs', run_body(branch='main', depth=d), {}) for d in ('shallow', 'standard', 'deep') * 7]
        answers = post_all([api.server.base_url], api.server.token, requests)
        codes = [a.status_code for a in answers]
        assert codes.count(201) == 7, codes
        assert {a.json()['error'] for a in answers if a.status_code == 409} <= {'concurrency_limit', 'pr_lock'}
        active = _active(api.server)
        assert len(active) == 7 and len({b for _, b in active}) == 7
        assert api.client.get('/api/quota/runs').json()['remaining'] == 1000 - 7


def test_two_servers_share_the_limit_and_the_lock(settings_factory, repo) -> None:  # noqa: ANN001
    branches = add_branches(repo, 30)
    settings = settings_factory(**QUEUED, rate_limit_runs=1000)
    with (
        serving(settings, repo, max_concurrent_runs=5) as api,
        api_server(same_database(settings_factory, settings)) as second,
    ):
        requests = [('/api/runs', run_body(branch=b), {}) for b in branches]
        requests += [('/api/runs', run_body(branch='feature/a', depth=d), {}) for d in ('shallow', 'deep') * 10]
        answers = post_all([api.server.base_url, second.base_url], api.server.token, requests)
        assert [a.status_code for a in answers].count(201) == 5
        active = _active(api.server)
        assert len(active) == 5 and len({b for _, b in active}) == 5
        # the PR lock alone, across servers: many requests for one free branch, one winner
        api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 100})
        second.services.admitter.forget_project('proj')
        answers = post_all(
            [api.server.base_url, second.base_url],
            api.server.token,
            [('/api/runs', run_body(branch='feature/c', depth=d), {}) for d in ('shallow', 'standard', 'deep') * 10],
        )
        codes = sorted(a.status_code for a in answers)
        assert codes.count(201) == 1 and codes.count(409) == 29, codes
        assert {a.json()['error'] for a in answers if a.status_code == 409} == {'pr_lock'}
