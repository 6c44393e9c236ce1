"""Delayed runs and queued TTLs with the real engine: a delayed run starts within 1 s of its time, a cancelled
one never starts, and a queued run with a 2 s TTL behind a full cap ends `expired` while the run ahead of it
goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.runs import create_project, shell_script, wait_for_output, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.workers import runboard_worker, wait_for_worker

QUICK = shell_script('echo started')
BODY = {'project_id': 'proj', 'depth_level': 'shallow', 'target_framework': 'python'}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace('Z', '+00:00'))


def test_a_delayed_run_starts_within_a_second_of_its_time(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': QUICK})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        due = datetime.now(UTC) + timedelta(seconds=2)
        run = client.post('/api/runs', json={**BODY, 'branch': 'main', 'run_at': due.isoformat()}).json()
        assert run['status'] == 'delayed'
        done = wait_for_status(client, run['id'], ('succeeded', 'failed', 'crashed', 'skipped'), timeout=30)
        assert done['status'] == 'succeeded', done
        started = _at(done['started_at'])
        assert due <= started < due + timedelta(seconds=1), (due, started)  # the requirement: within 1 s


def test_a_cancelled_delayed_run_never_starts(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': QUICK, 'feature/a': QUICK})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = client.post('/api/runs', json={**BODY, 'branch': 'main', 'run_in': '2s'}).json()
        assert client.post(f'/api/runs/{run["id"]}/stop').status_code == 202
        # a run triggered to start after it has finished shows the engine went past the cancelled one's time
        after = client.post(
            '/api/runs',
            json={**BODY, 'branch': 'feature/a', 'run_at': (datetime.now(UTC) + timedelta(seconds=3)).isoformat()},
        ).json()
        assert wait_for_status(client, after['id'], ('succeeded',), timeout=30)['status'] == 'succeeded'
        cancelled = client.get(f'/api/runs/{run["id"]}').json()
        assert cancelled['status'] == 'stopped' and cancelled['started_at'] is None
        assert [e for e in cancelled['events'] if e['type'] == 'output'] == []


def test_a_queued_run_with_a_ttl_behind_a_full_cap_expires(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo holding\nsleep 30'), 'feature/a': QUICK})
    with api_server(settings_factory(global_run_cap=1)) as server, server.client() as client:
        create_project(client, repo, max_concurrent_runs=2)
        holder = client.post('/api/runs', json={**BODY, 'branch': 'main'}).json()
        wait_for_output(client, holder['id'], 'holding')  # the only run slot is taken
        waiting = client.post('/api/runs', json={**BODY, 'branch': 'feature/a', 'ttl': '2s'}).json()
        assert waiting['status'] == 'queued'
        expired = wait_for_status(client, waiting['id'], ('expired', 'running', 'succeeded'), timeout=30)
        assert expired['status'] == 'expired' and expired['started_at'] is None
        waited = _at(expired['finished_at']) - _at(expired['created_at'])
        assert timedelta(seconds=2) <= waited < timedelta(seconds=10)
        last = [e['text'] for e in expired['events'] if e['type'] == 'status'][-1]
        assert last.startswith('expired: waited ') and 'waiting for a free run slot (1 of 1 running)' in last
        assert client.get(f'/api/runs/{holder["id"]}').json()['status'] == 'running'  # the run ahead goes on
        client.post(f'/api/runs/{holder["id"]}/stop')
        wait_for_status(client, holder['id'])


@pytest.mark.parametrize('backend', ['team'])  # workers share the team database, bus and broker
def test_with_celery_workers_a_delayed_run_runs_on_a_worker_and_an_unserved_one_expires(
    settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', dispatch_again_seconds=2.0)
    repo = repo_factory({'main': QUICK, 'feature/a': QUICK})
    with runboard_worker(settings, tmp_path / 'worker-data'):
        with api_server(settings) as server, server.client() as client:
            create_project(client, repo)
            create_project(client, repo, project_id='gpu', runs_on=['gpu'])  # no worker holds that label
            wait_for_worker(client, 'worker-data')
            due = datetime.now(UTC) + timedelta(seconds=2)
            run = client.post('/api/runs', json={**BODY, 'branch': 'main', 'run_at': due.isoformat()}).json()
            unserved = client.post(
                '/api/runs', json={**BODY, 'project_id': 'gpu', 'branch': 'feature/a', 'ttl': '3s'}
            ).json()
            done = wait_for_status(client, run['id'], ('succeeded', 'failed', 'crashed', 'skipped'), timeout=60)
            assert done['status'] == 'succeeded' and _at(done['started_at']) >= due, done
            expired = wait_for_status(client, unserved['id'], ('expired', 'running', 'succeeded'), timeout=60)
            assert expired['status'] == 'expired'
            last = [e['text'] for e in expired['events'] if e['type'] == 'status'][-1]
            assert 'waiting for a worker with labels gpu' in last, last
