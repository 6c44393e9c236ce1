"""executor=celery: runs execute on a `runboard worker` (a real Celery worker over the team Redis), write
their output to the shared database and bus, survive a restart of the server, and stop on request."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, outputs, shell_script, trigger, wait_for_output, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.workers import runboard_worker, wait_for_worker

pytestmark = pytest.mark.parametrize('backend', ['team'])  # workers share the team database, bus and broker


def test_a_run_executes_on_a_worker_and_survives_a_server_restart(settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', dispatch_again_seconds=2.0)
    repo = repo_factory({'main': shell_script('echo started; sleep 4; echo finished')})
    with runboard_worker(settings, tmp_path / 'worker-data'):
        with api_server(settings) as server, server.client() as client:
            create_project(client, repo)
            run = trigger(client).json()
            wait_for_output(client, run['id'], 'started', timeout=60)
            assert server.services.runner.live == {}  # not a child of the server
        # the server is gone (a deploy); the run goes on on the worker, and a new server sees it end
        with api_server(settings_factory(executor='celery')) as again, again.client() as client:
            done = wait_for_status(client, run['id'], timeout=60)
    assert done['status'] == 'succeeded', [(e['type'], e['text']) for e in done['events']]
    assert outputs(done) == ['started', 'finished']


def test_a_stop_reaches_the_worker(settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', kill_grace_seconds=1.0)
    repo = repo_factory({'main': shell_script('echo started; sleep 60; echo never')})
    with runboard_worker(settings, tmp_path / 'worker-data'):
        with api_server(settings) as server, server.client() as client:
            create_project(client, repo)
            run = trigger(client).json()
            wait_for_output(client, run['id'], 'started', timeout=60)
            assert client.post(f'/api/runs/{run["id"]}/stop').status_code == 202
            done = wait_for_status(client, run['id'], timeout=30)
    assert done['status'] == 'stopped', done
    assert 'never' not in outputs(done)


def test_a_worker_that_dies_mid_run_leaves_a_crashed_run_not_a_stuck_one(
    settings_factory, repo_factory, tmp_path, caplog
) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', heartbeat_seconds=1.0, reaper_poll_seconds=1.0)
    doomed_repo = repo_factory({'main': shell_script('echo started; sleep 60')})
    other_repo = repo_factory({'main': shell_script('echo started; sleep 6; echo finished')})
    with caplog.at_level(logging.WARNING), api_server(settings) as server, server.client() as client:
        # labels pin one run to each worker
        create_project(client, doomed_repo, project_id='doomed', runs_on=['a'])
        create_project(client, other_repo, project_id='other', runs_on=['b'])
        with (
            runboard_worker(settings, tmp_path / 'worker-b', labels='b'),
            runboard_worker(settings, tmp_path / 'worker-data', labels='a') as worker,
        ):
            run = trigger(client, 'doomed').json()
            other = trigger(client, 'other').json()
            wait_for_output(client, run['id'], 'started', timeout=60)
            wait_for_output(client, other['id'], 'started', timeout=60)
            worker.kill()  # the machine is gone: no goodbye, no more heartbeats
            worker.wait(timeout=10)
            done = wait_for_status(client, run['id'], timeout=60)
            lost = wait_for_worker(client, 'worker-data', state='lost', timeout=30)  # the registry says so too
            survivor = wait_for_status(client, other['id'], timeout=60)
    assert done['status'] == 'crashed', done
    assert outputs(done) == ['started']  # the output it made before the worker was lost is kept
    final = [e['text'] for e in done['events'] if e['type'] == 'status'][-1]
    assert f'worker {lost["name"]} (pid {worker.pid}' in final and 'is gone' in final  # says which worker was lost
    assert done['error'].startswith(f'worker {lost["name"]} (pid {worker.pid}') and done['error'].endswith('is gone')
    assert survivor['status'] == 'succeeded' and outputs(survivor) == ['started', 'finished']  # untouched
    assert run_processes(run['id']) == []  # its command did not outlive it
    # the server's log says it too, for the operator reading it after the incident
    logged = [r.getMessage() for r in caplog.records if r.name == 'app.services.execution.recovery']
    assert any(run['id'] in line and 'crashed' in line and lost['name'] in line for line in logged), logged


def test_a_run_its_worker_died_under_is_retried_automatically_on_the_next_worker(
    settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    """GitLab retries a job whose runner failed (`retry: when: runner_system_failure`): so does a project that asks."""
    settings = settings_factory(executor='celery', heartbeat_seconds=1.0, reaper_poll_seconds=1.0)
    script = 'if [ "$RUNBOARD_RUN_KIND" = retry ]; then echo "second try"; exit 0; fi\necho started\nsleep 60'
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo_factory({'main': shell_script(script)}), auto_retry=1)  # crashed, timed out
        with runboard_worker(settings, tmp_path / 'worker-one') as one:
            run = trigger(client).json()
            wait_for_output(client, run['id'], 'started', timeout=60)
            one.kill()  # the machine is gone
            one.wait(timeout=10)
            assert wait_for_status(client, run['id'], timeout=60)['status'] == 'crashed'
        with runboard_worker(settings, tmp_path / 'worker-two'):  # a machine comes back
            deadline = time.monotonic() + 30
            while not (retried := client.get(f'/api/runs/{run["id"]}').json()['retried_by']):
                assert time.monotonic() < deadline, 'the crashed run was not retried'
                time.sleep(0.2)
            retry = wait_for_status(client, retried[0], timeout=60)
    assert retry['status'] == 'succeeded' and outputs(retry) == ['second try'], retry
    assert retry['idempotency_key'] == f'auto-retry:{run["id"]}' and retried == [retry['id']]


def run_processes(run_id: str) -> list[int]:
    """Pids whose environment says they belong to the run."""
    found = []
    for entry in Path('/proc').iterdir():
        try:
            if entry.name.isdigit() and f'RUNBOARD_RUN_ID={run_id}'.encode() in (entry / 'environ').read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_publish_lost_on_the_way_is_sent_again_and_the_run_executes_once(
    settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', dispatch_again_seconds=1.0, reaper_poll_seconds=1.0)
    repo = repo_factory({'main': shell_script('echo once')})
    with runboard_worker(settings, tmp_path / 'worker-data'), api_server(settings) as server, server.client() as client:
        dispatcher = server.services.runner.dispatcher
        assert dispatcher is not None
        real_send, sent = dispatcher.send, []

        def drop_the_first(run_id: str, queue: str) -> None:
            sent.append(run_id)
            if len(sent) > 1:
                real_send(run_id, queue)

        dispatcher.send = drop_the_first
        create_project(client, repo)
        run = trigger(client).json()
        done = wait_for_status(client, run['id'], timeout=60)
    assert done['status'] == 'succeeded', done
    assert sent[:2] == [run['id'], run['id']]  # published, lost, published again by the sweep
    assert outputs(done) == ['once']
    assert [e['text'] for e in done['events'] if e['type'] == 'status'].count('running') == 1


@pytest.mark.parametrize('broker', ['redis', 'rabbitmq'])
def test_twenty_runs_spread_over_two_workers_never_past_their_slots(
    settings_factory, repo_factory, tmp_path, broker: str
) -> None:  # noqa: ANN001
    from sqlalchemy import text

    broker_url = None if broker == 'redis' else require_rabbitmq()
    settings = settings_factory(executor='celery', broker_url=broker_url, global_run_cap=4, dispatch_again_seconds=1.0)
    repo = repo_factory({'main': shell_script('sleep 0.5; echo done')})
    with (
        runboard_worker(settings, tmp_path / 'worker-a', slots=2),
        runboard_worker(settings, tmp_path / 'worker-b', slots=2),
        api_server(settings) as server,
        server.client() as client,
    ):
        create_project(client, repo, max_concurrent_runs=20)
        runs = [trigger(client, branch='main').json()]
        branches = [f'b{n}' for n in range(19)]
        for name in branches:
            subprocess.run(['git', 'branch', name, 'main'], cwd=repo, check=True)
        runs += [trigger(client, branch=name).json() for name in branches]
        done = [wait_for_status(client, run['id'], timeout=120) for run in runs]
        with server.services.engine.connect() as conn:
            rows = conn.execute(text('SELECT owner_instance, started_at, finished_at FROM run')).all()
    assert [d['status'] for d in done] == ['succeeded'] * 20
    assert len({owner.rsplit(':', 2)[1] for owner, _, _ in rows}) == 2  # both worker processes ran some
    events = sorted([(start, 1) for _, start, _ in rows] + [(end, -1) for _, _, end in rows])
    running, most = 0, 0
    for _, step in events:
        running += step
        most = max(most, running)
    assert most <= 4  # 2 workers x 2 slots (and the global cap)


def require_rabbitmq() -> str:
    import socket

    try:
        socket.create_connection(('127.0.0.1', 5672), timeout=2).close()
    except OSError:
        if __import__('os').environ.get('CI'):
            pytest.fail('RabbitMQ does not answer on 127.0.0.1:5672 (scripts/services.sh starts it in CI)')
        pytest.skip('RabbitMQ is not running on 127.0.0.1:5672')
    return 'amqp://guest:guest@127.0.0.1:5672//'


@pytest.mark.parametrize('sandbox', ['auto', 'off'])
def test_a_worker_started_again_kills_the_processes_of_its_killed_instance(
    settings_factory, repo_factory, tmp_path, sandbox
) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', heartbeat_seconds=1.0, sandbox=sandbox)
    repo = repo_factory({'main': shell_script('echo started; sleep 60')})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        worker_context = runboard_worker(settings, tmp_path / 'worker-data')
        worker = worker_context.__enter__()
        try:
            run = trigger(client).json()
            wait_for_output(client, run['id'], 'started', timeout=60)
        except BaseException:
            worker_context.__exit__(None, None, None)
            raise
    # the server is gone (nobody to notice); the worker is killed without a goodbye
    worker.kill()
    worker.wait(timeout=10)
    worker_context.__exit__(None, None, None)
    if sandbox == 'auto':  # sandboxed: the run's PID namespace ends with the worker, nothing is left at all
        deadline = time.monotonic() + 10
        while run_processes(run['id']) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run_processes(run['id']) == []
        return
    left = run_processes(run['id'])  # unsandboxed, the run's command goes on: the next instance must end it
    assert left, 'the killed worker left nothing running: nothing to test'
    with runboard_worker(settings, tmp_path / 'worker-data'):  # the same machine, a new instance
        deadline = time.monotonic() + 30
        while run_processes(run['id']) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run_processes(run['id']) == []


def _caches_until(client, ready, timeout: float = 30) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not ready(caches := client.get('/api/projects/proj/caches').json()):
        assert time.monotonic() < deadline, caches
        time.sleep(0.2)
    return caches


def test_each_worker_reports_the_run_caches_on_its_machine(settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    """The project's caches on each live worker, as its heartbeat says: after a run there, after the worker starts
    again (what earlier runs left), and none of the old ones after a clear."""
    settings = settings_factory(executor='celery', heartbeat_seconds=0.5)
    repo = repo_factory({'main': shell_script('head -c 5000 /dev/zero > "$RUNBOARD_CACHE_DIR/packages"')})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        with runboard_worker(settings, tmp_path / 'cachew'):
            wait_for_worker(client, 'cachew')
            assert wait_for_status(client, trigger(client, key='one').json()['id'])['status'] == 'succeeded'
            caches = _caches_until(client, lambda c: c['workers'] and c['workers'][0]['sizes'])
            shown = run_cli(server.base_url, server.token, 'projects', 'caches', 'proj')
        assert caches['executor'] == 'celery' and caches['sizes'] == {}
        [worker] = caches['workers']
        assert worker['worker'].startswith('cachew@') and worker['sizes'] == {'base': 5000}
        assert 'SIZE ON EACH WORKER' in shown.stdout and f'{worker["worker"]} 4.9 KB' in shown.stdout, shown.stdout
        assert _caches_until(client, lambda c: not c['workers'])['workers'] == []  # a stopped worker: out of reach

        with runboard_worker(settings, tmp_path / 'cachew'):  # started again: it measures what runs left there
            caches = _caches_until(client, lambda c: c['workers'] and c['workers'][0]['sizes'])
            assert caches['workers'][0]['sizes'] == {'base': 5000}
            cleared = client.post('/api/projects/proj/caches/clear').json()
            assert cleared['workers'][0]['sizes'] == {}  # the next run there starts empty
