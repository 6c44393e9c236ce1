"""The sliding window: pure quota arithmetic (table), and the in-process limiter's behaviour.
The Redis limiter runs the same behaviour through the API tests on the team backend."""

from __future__ import annotations

import threading
import uuid

import pytest

from app.api.routing import routes_to_api
from app.services.runs import ratelimit
from app.services.runs.ratelimit import MemoryLimiter, Quota, quota_from


@pytest.mark.parametrize(
    ('count', 'oldest', 'now', 'allowed', 'remaining', 'retry_after'),
    [
        (0, None, 100.0, True, 5, 0),
        (3, 90.0, 100.0, True, 2, 0),
        (5, 90.0, 100.0, False, 0, 50),  # oldest leaves at 150
        (5, 139.2, 199.0, False, 0, 1),  # 0.2 s left: never 0 while refused
        (5, 140.0, 200.0, False, 0, 1),  # leaving right now still says 1
        (7, 90.0, 100.0, False, 0, 50),  # over (a lowered limit): remaining is never negative
        (5, 100.0001, 100.0, False, 0, 60),  # a clock a hair behind never says more than the window
    ],
)
def test_quota_from(count, oldest, now, allowed, remaining, retry_after) -> None:  # noqa: ANN001
    quota = quota_from(count, oldest, now, limit=5, window=60, allowed=allowed)
    assert (quota.remaining, quota.retry_after_seconds) == (remaining, retry_after)


def test_retry_after_is_whole_seconds_and_positive_when_exhausted() -> None:
    quota = Quota(allowed=True, limit=1, remaining=0, window_seconds=10, reset_after=3.01)
    assert quota.retry_after_seconds == 4


def test_memory_limiter_admits_exactly_the_limit_under_threads() -> None:
    limiter = MemoryLimiter(limit=20, window_seconds=60)
    results = []
    lock = threading.Lock()

    def take(i: int) -> None:
        allowed = limiter.acquire('k', f'm{i}').allowed
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 20
    assert limiter.peek('k').remaining == 0 and limiter.peek('other').remaining == 20


def test_release_gives_back_exactly_that_entry() -> None:
    limiter = MemoryLimiter(limit=2, window_seconds=60)
    assert limiter.acquire('k', 'a').allowed and limiter.acquire('k', 'b').allowed
    assert not limiter.acquire('k', 'c').allowed
    limiter.release('k', 'a')
    limiter.release('k', 'never-there')
    assert limiter.peek('k').remaining == 1
    assert limiter.acquire('k', 'd').allowed and not limiter.acquire('k', 'e').allowed


def test_user_key_format() -> None:
    assert ratelimit.user_runs_key('runboard', 'usr_1') == 'runboard:rl:user:usr_1:runs'


@pytest.mark.parametrize(
    ('path', 'method', 'accept', 'api'),
    [
        ('/runs', 'POST', '', True),
        ('/runs/run_1', 'GET', 'application/json', True),
        ('/runs/run_1', 'GET', 'text/html,application/xhtml+xml', False),  # a browser gets the page
        ('/runs/run_1', 'GET', '*/*', True),
        ('/projects/p/branches', 'GET', '', True),
        ('/runsx', 'POST', '', False),
        ('/', 'GET', 'application/json', False),
    ],
)
def test_bare_paths_route_to_the_api(path, method, accept, api) -> None:  # noqa: ANN001
    assert routes_to_api(path, method, accept) is api


def test_the_redis_limiter_carries_on_over_connections_redis_dropped() -> None:
    """Redis drops the limiter's idle connections (a restart, a timeout): the next calls work, no 503."""
    import redis

    from app.services.runs.ratelimit import RedisLimiter
    from tests.helpers.backends import REDIS_URL, require_team_services

    require_team_services()
    limiter = RedisLimiter(REDIS_URL, limit=5, window_seconds=60)
    key = f'rbtest:dropped:{uuid.uuid4().hex}'
    try:
        assert limiter.acquire(key, 'a').allowed
        own = limiter._redis.client_id()  # the one idle connection of the limiter's pool
        admin = redis.Redis.from_url(REDIS_URL)
        assert admin.client_kill_filter(_id=own) == 1
        admin.close()
        assert limiter.acquire(key, 'b').remaining == 3
        limiter.release(key, 'b')
        assert limiter.peek(key).remaining == 4
    finally:
        limiter.close()
