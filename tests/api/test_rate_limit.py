"""Rule 4 (sliding-window quota per user) and rule 7's promise that a refused request costs no quota."""

from __future__ import annotations

import re

from tests.helpers.api import QUEUED, add_user, assert_problem, post_all, run_body, serving
from tests.helpers.repos import add_branches

RATELIMIT = re.compile(r'^"runs";r=(\d+);t=(\d+)$')


def _remaining(client) -> int:  # noqa: ANN001
    return client.get('/api/quota/runs').json()['remaining']


def test_over_the_quota_is_429_with_retry_after_and_headers(settings_factory, repo) -> None:  # noqa: ANN001
    settings = settings_factory(**QUEUED, rate_limit_runs=3, rate_limit_window_seconds=120)
    with serving(settings, repo, max_concurrent_runs=10) as api:
        for n, branch in enumerate(('main', 'feature/a', 'feature/b')):
            reply = api.client.post('/api/runs', json=run_body(branch=branch))
            assert reply.status_code == 201, reply.text
            assert reply.headers['ratelimit-policy'] == '"runs";q=3;w=120'
            remaining, reset = map(int, RATELIMIT.match(reply.headers['ratelimit']).groups())
            assert remaining == 2 - n and 0 < reset <= 120
        refused = api.client.post('/api/runs', json=run_body(branch='feature/c'))
        problem = assert_problem(refused, 429, 'rate_limited')
        retry_after = refused.headers['retry-after']
        assert retry_after.isdigit() and 1 <= int(retry_after) <= 120
        assert problem['retry_after_seconds'] == int(retry_after)
        assert refused.headers['ratelimit-policy'] == '"runs";q=3;w=120'
        assert RATELIMIT.match(refused.headers['ratelimit']).group(1) == '0'
        quota = api.client.get('/api/quota/runs').json()
        assert quota['limit'] == 3 and quota['remaining'] == 0 and quota['window_seconds'] == 120
        assert 1 <= quota['retry_after_seconds'] <= 120
        assert quota['resets_at'].endswith('+00:00')
        # the quota is per user: another user still has all of theirs
        with api.server.client(add_user(api.server)) as bob:
            assert _remaining(bob) == 3
            assert bob.post('/api/runs', json=run_body(branch='feature/c')).status_code == 201


def test_every_answer_of_post_runs_carries_ratelimit_headers(api) -> None:  # noqa: ANN001
    answers = {
        201: api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'h'}),
        200: api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'h'}),
        409: api.client.post('/api/runs', json=run_body()),
        422: api.client.post('/api/runs', json=run_body(branch='nope')),
        4220: api.client.post('/api/runs', json={'project_id': 'proj'}),
        404: api.client.post('/api/runs', json=run_body(project_id='nope')),
    }
    for name, reply in answers.items():
        assert reply.status_code == (name if name < 1000 else 422), reply.text
        assert reply.headers['ratelimit-policy'] == '"runs";q=20;w=600', name
        assert RATELIMIT.match(reply.headers['ratelimit']).group(1) == '19', name
    retry = api.client.post('/api/runs/nope/retry', json={})
    assert retry.status_code == 404 and 'ratelimit' in retry.headers


def test_refused_requests_consume_no_quota(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, rate_limit_runs=5), repo, max_concurrent_runs=1) as api:
        assert _remaining(api.client) == 5
        run = api.client.post('/api/runs', json=run_body()).json()
        assert _remaining(api.client) == 4
        refusals = [
            (api.client.post('/api/runs', json=run_body(branch='feature/a')), 409, 'concurrency_limit'),
            (api.client.post('/api/runs', json=run_body(depth='bottomless')), 422, 'validation'),
            (api.client.post('/api/runs', json={**run_body(), 'extra': 1}), 422, 'validation'),
            (api.client.post(f'/api/runs/{run["id"]}/retry', json={}), 409, 'not_retryable'),
        ]
        for reply, status, error in refusals:
            assert_problem(reply, status, error)
        api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 5})
        assert_problem(api.client.post('/api/runs', json=run_body()), 409, 'pr_lock')
        api.client.post('/api/runs', json=run_body(branch='feature/a'), headers={'Idempotency-Key': 'm'})
        assert _remaining(api.client) == 3
        assert_problem(
            api.client.post('/api/runs', json=run_body(branch='feature/b'), headers={'Idempotency-Key': 'm'}),
            422,
            'idempotency_key_mismatch',
        )
        api.client.post('/api/runs', json=run_body(branch='feature/a'), headers={'Idempotency-Key': 'm'})  # replay
        assert _remaining(api.client) == 3


def test_of_100_concurrent_requests_exactly_the_limit_is_admitted(settings_factory, repo) -> None:  # noqa: ANN001
    branches = add_branches(repo, 100)
    with serving(settings_factory(**QUEUED, rate_limit_runs=20), repo, max_concurrent_runs=1000) as api:
        answers = post_all(
            [api.server.base_url],
            api.server.token,
            [('/api/runs', run_body(branch=b), {'Idempotency-Key': f'k{b}'}) for b in branches],
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(201) == 20 and statuses.count(429) == 80, statuses
        for answer in answers:
            if answer.status_code == 429:
                assert int(answer.headers['retry-after']) >= 1
        assert len(api.client.get('/api/runs', params={'limit': 500}).json()['items']) == 20
        assert _remaining(api.client) == 0
        if api.server.settings.redis_url:  # team mode: the window lives in Redis under the documented key
            import redis

            principal = api.server.services.auth.authenticate(api.server.token)
            key = f'{api.server.settings.redis_prefix}:rl:user:{principal.user_id}:runs'
            client = redis.Redis.from_url(api.server.settings.redis_url)
            try:
                assert client.zcard(key) == 20
            finally:
                client.close()


def test_the_window_slides(settings_factory, repo) -> None:  # noqa: ANN001
    import time

    with serving(
        settings_factory(**QUEUED, rate_limit_runs=1, rate_limit_window_seconds=1), repo, max_concurrent_runs=5
    ) as api:
        assert api.client.post('/api/runs', json=run_body()).status_code == 201
        refused = api.client.post('/api/runs', json=run_body(branch='feature/a'))
        assert_problem(refused, 429, 'rate_limited')
        assert refused.headers['retry-after'] == '1'
        time.sleep(1.1)
        assert api.client.post('/api/runs', json=run_body(branch='feature/a')).status_code == 201
