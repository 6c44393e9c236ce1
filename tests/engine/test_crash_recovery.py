"""kill -9 of the server mid-run, then a restart: the run is crashed, its events are kept, no process of
it is left behind, and the run queued behind it resumes. The real `python main.py`, killed for real."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC

import httpx
import pytest

from app.services.execution import procs
from tests.helpers.backends import server_env
from tests.helpers.runs import (
    create_project,
    outputs,
    shell_script,
    statuses,
    trigger,
    wait_for_output,
    wait_for_status,
)
from tests.helpers.servers import api_server, app_process


def _server_env(settings) -> dict[str, str]:  # noqa: ANN001
    return server_env(
        settings, RUNBOARD_HEARTBEAT_SECONDS='1', RUNBOARD_KILL_GRACE_SECONDS='1', RUNBOARD_GLOBAL_RUN_CAP='1'
    )


def _client(server: dict, data_dir) -> httpx.Client:  # noqa: ANN001
    token = json.loads((data_dir / 'credentials.json').read_text())['token']
    return httpx.Client(base_url=server['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)


@pytest.mark.parametrize('sandbox', ['auto', 'off'])
def test_kill_9_mid_run_then_restart_gives_crashed_with_events_kept(settings_factory, repo_factory, sandbox) -> None:  # noqa: ANN001
    repo = repo_factory(
        {'main': shell_script('sleep 1000 &\necho started\nsleep 1000'), 'feature/next': shell_script('echo next')}
    )
    settings = settings_factory(sandbox=sandbox)
    env = _server_env(settings)
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    with app_process(data_dir, env=env) as server, _client(server, data_dir) as client:
        create_project(client, repo)
        victim = trigger(client).json()['id']
        wait_for_output(client, victim, 'started')
        waiting = trigger(client, branch='feature/next').json()['id']  # queued behind the cap of 1
        assert client.get(f'/api/runs/{waiting}').json()['status'] == 'queued'
        os.killpg(server['process'].pid, signal.SIGKILL)
        server['process'].wait(timeout=30)
    if sandbox == 'auto':  # sandboxed: the run's PID namespace ends with its server, nothing is left at all
        deadline = time.monotonic() + 10
        while procs.processes_of_run(victim) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert procs.processes_of_run(victim) == []
    else:  # unsandboxed, the run's process group outlives its server: recovery has something to clean up
        assert procs.processes_of_run(victim)

    with app_process(data_dir, env=env) as server, _client(server, data_dir) as client:
        run = wait_for_status(client, victim)
        assert run['status'] == 'crashed'
        assert outputs(run) == ['started']  # what it printed before the crash is kept
        assert statuses(run)[:2] == ['queued', 'running']
        assert statuses(run)[-1].startswith('crashed') and 'gone' in statuses(run)[-1]
        assert [e['seq'] for e in run['events']] == list(range(1, len(run['events']) + 1))
        assert procs.processes_of_run(victim) == []
        resumed = wait_for_status(client, waiting)
        assert resumed['status'] == 'succeeded' and outputs(resumed) == ['next']


def test_graceful_shutdown_ends_its_runs_as_crashed_and_kills_them(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('sleep 1000 &\necho started\nsleep 1000')})
    settings = settings_factory()
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        run_id = trigger(client).json()['id']
        wait_for_output(client, run_id, 'started')
    assert procs.processes_of_run(run_id) == []
    with api_server(settings) as server, server.client() as client:
        run = client.get(f'/api/runs/{run_id}').json()
        assert run['status'] == 'crashed' and outputs(run) == ['started']
        assert 'server stopped' in statuses(run)[-1]


def test_runs_of_an_instance_on_another_host_are_crashed_once_its_heartbeat_is_stale(
    settings_factory, repo_factory
) -> None:
    # Another host's pid cannot be checked: only its heartbeat (3 intervals) tells whether it lives.
    from datetime import datetime, timedelta

    from sqlalchemy import text

    from app.infra.db import session_scope

    repo = repo_factory({'main': shell_script('echo hi'), 'feature/b': shell_script('echo hi')})
    settings = settings_factory(global_run_cap=0, heartbeat_seconds=1.0)
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        silent, alive = (trigger(client, branch=b).json()['id'] for b in ('main', 'feature/b'))
        now = datetime.now(UTC)
        with session_scope(server.services.engine) as session:
            for run_id, beat in ((silent, now - timedelta(seconds=10)), (alive, now + timedelta(seconds=30))):
                session.connection().execute(
                    text(
                        "UPDATE run SET status = 'running', owner_instance = 'elsewhere.invalid:4242:abcd', "
                        'started_at = :now, heartbeat_at = :beat WHERE id = :id'
                    ),
                    {'now': now, 'beat': beat, 'id': run_id},
                )
        server.services.runner.safety_poll()
        run = client.get(f'/api/runs/{silent}').json()
        assert run['status'] == 'crashed'
        assert 'elsewhere.invalid:4242:abcd is gone' in statuses(run)[-1]
        assert client.get(f'/api/runs/{alive}').json()['status'] == 'running'


def test_a_run_claimed_while_recovery_runs_is_not_crashed(settings_factory, repo_factory, monkeypatch) -> None:  # noqa: ANN001
    """Recovery (the safety poll, on a thread) reads the running runs; a claim on this instance registers the run
    as live and then commits. A claim that lands while recovery runs must not make its run look orphaned."""
    from sqlalchemy import text

    from app.infra.db import session_scope
    from app.services.execution import recovery
    from app.services.execution.live import LiveRun

    repo = repo_factory({'main': shell_script('echo hi')})
    settings = settings_factory(global_run_cap=0)
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        run_id = trigger(client).json()['id']
        runner = server.services.runner
        read_running = recovery.running_runs

        def claim_lands_meanwhile(engine):  # noqa: ANN001, ANN202
            runner.live[run_id] = LiveRun(run_id=run_id, project_id='proj', team_id=None)  # register, then commit
            with session_scope(engine) as session:
                session.connection().execute(
                    text("UPDATE run SET status = 'running', owner_instance = :me WHERE id = :id"),
                    {'me': runner.instance_id, 'id': run_id},
                )
            return read_running(engine)

        monkeypatch.setattr(recovery, 'running_runs', claim_lands_meanwhile)
        try:
            assert runner.recover() == []
            assert client.get(f'/api/runs/{run_id}').json()['status'] == 'running'
        finally:
            runner.live.pop(run_id, None)
