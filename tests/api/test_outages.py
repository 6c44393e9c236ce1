"""Dependency outages are 503 problems with Retry-After and nothing half-done, and heal by themselves;
a database that does not answer at start ends the process at once with one clear line."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.helpers.api import assert_problem, run_body
from tests.helpers.backends import backend_settings
from tests.helpers.own_redis import own_redis
from tests.helpers.runs import create_project
from tests.helpers.servers import ROOT, api_server, clean_env, free_port
from tests.helpers.tcp_proxy import proxy_to


def _runs(client: httpx.Client) -> list[dict]:
    return client.get('/api/runs', params={'limit': 200}).json()['items']


def test_redis_killed_mid_traffic_answers_503_and_heals(tmp_path: Path, repo_factory) -> None:  # noqa: ANN001
    port = free_port()
    repo = repo_factory({name: {'run.sh': 'echo hi\n'} for name in ('main', 'a', 'b', 'c', 'd')})
    with backend_settings('team', tmp_path / 'data', global_run_cap=0, rate_limit_runs=10) as base:
        settings = base.model_copy(update={'redis_url': f'redis://127.0.0.1:{port}/0'})
        with own_redis(port) as redis_server, api_server(settings) as server, server.client() as client:
            create_project(client, repo, max_concurrent_runs=10)
            assert client.post('/api/runs', json=run_body(branch='a')).status_code == 201
            assert httpx.get(server.base_url + '/api/health/ready').json()['redis'] == 'ok'
            following = threading.Thread(target=_follow_until_it_ends, args=(client,), daemon=True)
            following.start()
            time.sleep(0.5)  # the stream is open

            killed_at = datetime.now(UTC)
            redis_server.terminate()
            redis_server.wait(10)
            # a page following live changes is told: its stream ends (it would miss what workers and other servers
            # publish), and connecting again says live updates are paused, not an open stream that stays silent
            following.join(10)
            assert not following.is_alive(), 'the live stream stayed open without Redis'
            paused = client.get('/api/events')
            paused_body = assert_problem(paused, 503, 'live_updates_paused')
            assert paused_body['retry_after_seconds'] >= 1
            # since when: the moment the listener lost Redis, which a page shows ("paused since 14:03:12 UTC")
            since = datetime.fromisoformat(paused_body['paused_since'])
            assert killed_at - timedelta(seconds=1) <= since <= datetime.now(UTC)
            for request in (
                lambda: client.post('/api/runs', json=run_body(branch='b')),
                lambda: client.get('/api/quota/runs'),
            ):
                reply = request()
                body = assert_problem(reply, 503, 'dependency_unavailable')
                assert body['dependency'] == 'redis' and int(reply.headers['Retry-After']) >= 1
                assert body['correlation_id'] == reply.headers['X-Correlation-ID']
            assert [r['branch_name'] for r in _runs(client)] == ['a']  # nothing admitted without quota
            assert client.get('/api/projects/proj').status_code == 200  # what needs no Redis still works
            not_ready = httpx.get(server.base_url + '/api/health/ready')
            assert assert_problem(not_ready, 503, 'dependency_unavailable')['dependencies']['redis'].startswith('down')
            assert httpx.get(server.base_url + '/api/health/live').status_code == 200  # alive: no restart needed

            with own_redis(port):  # Redis back (empty: it keeps nothing), no restart of the server
                again = client.post('/api/runs', json=run_body(branch='c'))
                assert again.status_code == 201, again.text
                assert client.get('/api/quota/runs').json()['remaining'] == 9
                assert sorted(r['branch_name'] for r in _runs(client)) == ['a', 'c']
                # ready again once the event listener has subscribed again (it tries every RESUBSCRIBE_SECONDS)
                deadline = time.monotonic() + 15
                while (ready := httpx.get(server.base_url + '/api/health/ready')).status_code != 200:
                    assert time.monotonic() < deadline, ready.text
                    time.sleep(0.2)
                # live updates again, once the listener has subscribed again (a client connects again as told)
                assert _eventually(lambda: _events_status(client) == 200, seconds=15)


def _events_status(client: httpx.Client) -> int:
    with client.stream('GET', '/api/events') as live:
        return live.status_code


def _follow_until_it_ends(client: httpx.Client) -> None:
    with client.stream('GET', '/api/events', timeout=httpx.Timeout(10, read=60)) as live:
        assert live.status_code == 200
        for _ in live.iter_lines():
            pass


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit('@', 1)
    netloc = (credentials[0] + '@' if len(credentials) == 2 else '') + f'127.0.0.1:{port}'
    return urlunsplit(parts._replace(netloc=netloc))


def _eventually(check, seconds: float = 20):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + seconds
    while not (outcome := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return outcome


def test_database_gone_mid_traffic_answers_503_and_heals(tmp_path: Path, repo_factory) -> None:  # noqa: ANN001
    """PostgreSQL reached through a relay that the test closes: 503 naming the database, no quota taken
    by the refused requests, and the server recovers by itself when the database answers again."""
    repo = repo_factory({name: {'run.sh': 'echo hi\n'} for name in ('main', 'a', 'b')})
    with backend_settings('team', tmp_path / 'data', global_run_cap=0, rate_limit_runs=10) as base:
        with proxy_to(urlsplit(base.effective_database_url).port or 5432) as relay:
            settings = base.model_copy(update={'database_url': _with_port(base.effective_database_url, relay.port)})
            with api_server(settings) as server, server.client() as client:
                create_project(client, repo, max_concurrent_runs=10)
                assert client.post('/api/runs', json=run_body(branch='main')).status_code == 201
                relay.close()
                for reply in (client.post('/api/runs', json=run_body(branch='a')), client.get('/api/projects')):
                    problem = assert_problem(reply, 503, 'dependency_unavailable')
                    assert problem['dependency'] == 'database' and int(reply.headers['Retry-After']) >= 1
                assert client.get('/api/quota/runs').json()['remaining'] == 9  # the refused trigger took none
                ready = httpx.get(server.base_url + '/api/health/ready')
                assert assert_problem(ready, 503, 'dependency_unavailable')['dependency'] == 'database'
                relay.open()
                assert _eventually(lambda: client.get('/api/projects').status_code == 200)
                assert client.post('/api/runs', json=run_body(branch='a')).status_code == 201
                assert sorted(r['branch_name'] for r in _runs(client)) == ['a', 'main']


def test_unreachable_database_at_start_exits_at_once(tmp_path: Path) -> None:
    closed = free_port()
    # it exits instead of waiting for the database: a process that waited or retried would not end (the timeout
    # only catches that; how long a start takes on a busy machine is the benches' business, not this test's)
    done = subprocess.run(
        [sys.executable, 'main.py', '--port', str(free_port()), '--data-dir', str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=clean_env(RUNBOARD_DATABASE_URL=f'postgresql+psycopg://postgres:s3cret@127.0.0.1:{closed}/x'),
    )
    assert done.returncode == 2, done.stderr  # STARTUP_FAILED_EXIT: said in one line, nothing served
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith('runboard: cannot start: the database does not answer'), done.stderr
    assert f'postgresql+psycopg://postgres:***@127.0.0.1:{closed}/x' in lines[-1]
    assert 's3cret' not in done.stderr + done.stdout
    assert 'Traceback' not in done.stderr
