"""A blown budget kills the whole process group (children too, SIGKILL after the grace for those that
ignore SIGTERM) and classifies timed_out; a person's stop gives stopped, running or queued."""

from __future__ import annotations

import time

from app.services.execution import procs
from tests.helpers.runs import (
    create_project,
    outputs,
    shell_script,
    statuses,
    trigger,
    wait_for_output,
    wait_for_status,
)
from tests.helpers.servers import api_server

# Main shell dies on SIGTERM; its background child ignores SIGTERM and must be SIGKILLed.
CHILD_IGNORES_TERM = shell_script("(trap '' TERM; sleep 1000) &\nsleep 1000 &\necho started\nsleep 1000")
# Everything ignores SIGTERM (the disposition is inherited): only SIGKILL after the grace ends it.
ALL_IGNORE_TERM = shell_script("trap '' TERM\nsleep 1000 &\necho started\nsleep 1000")
LONG = shell_script('sleep 1000 &\necho started\nsleep 1000')


def test_budget_timeout_kills_the_whole_process_group(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': CHILD_IGNORES_TERM, 'feature/stubborn': ALL_IGNORE_TERM})
    with api_server(settings_factory(kill_grace_seconds=1.0)) as server, server.client() as client:
        # a budget the test can see both runs' processes within, even on a busy machine (it waits for one, then the
        # other: with 2 s the second could be killed before its processes were looked at, seen once in CI)
        create_project(client, repo, run_budget_seconds=6)
        ids = [trigger(client, branch=b).json()['id'] for b in ('main', 'feature/stubborn')]
        for run_id in ids:
            wait_for_output(client, run_id, 'started')
            assert len(procs.processes_of_run(run_id)) >= 2  # the shell and its background child(ren), at least
        for run_id in ids:
            run = wait_for_status(client, run_id)
            assert run['status'] == 'timed_out', run
            # its page says which budget, and that Runboard ended it (not the command's own failure)
            assert run['error'] == 'the run reached its run budget of 6 s and Runboard ended it'
            assert statuses(run)[-1].startswith('timed_out: the run reached its run budget of 6 s')
            assert outputs(run) == ['started']
            assert procs.processes_of_run(run_id) == []


def test_stop_running_and_queued_runs(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': LONG, 'feature/b': LONG})
    with api_server(settings_factory(global_run_cap=1)) as server, server.client() as client:
        create_project(client, repo)
        running = trigger(client).json()['id']
        wait_for_output(client, running, 'started')
        queued = trigger(client, branch='feature/b').json()['id']
        assert client.get(f'/api/runs/{queued}').json()['status'] == 'queued'  # behind the global cap

        reply = client.post(f'/api/runs/{queued}/stop')
        assert reply.status_code == 202, reply.text
        assert wait_for_status(client, queued)['status'] == 'stopped'

        reply = client.post(f'/api/runs/{running}/stop')
        assert reply.status_code == 202, reply.text
        run = wait_for_status(client, running)
        assert run['status'] == 'stopped' and statuses(run)[-1].startswith('stopped')
        assert run['error'] == 'stopped by local'  # who stopped it, where people look for why (and webhooks)
        assert procs.processes_of_run(running) == []

        again = client.post(f'/api/runs/{running}/stop')
        assert again.status_code == 409
        assert again.headers['content-type'].startswith('application/problem+json')
        body = again.json()
        assert body['error'] == 'run_ended' and body['correlation_id']

        # the stopped queued run never started, even once the slot freed up
        queued_run = client.get(f'/api/runs/{queued}').json()
        assert queued_run['status'] == 'stopped' and 'running' not in statuses(queued_run)
        assert queued_run['started_at'] is None


# Unsandboxed, a daemon that left the run's process group (setsid) and ignores TERM keeps the output pipe open.
DAEMON = shell_script('setsid sh -c \'trap "" TERM HUP; exec sleep 300\' &\necho "left a daemon"\nexit 0')


def test_an_unsandboxed_run_ends_when_its_command_does_and_takes_its_daemon_with_it(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """Without a sandbox's PID namespace, a process that left the run's group and held its output open kept the run
    `running` until its budget, and Stop did nothing. The run ends with its command, and what carries its id goes."""
    repo = repo_factory({'main': DAEMON})
    with api_server(settings_factory(sandbox='off')) as server, server.client() as client:
        create_project(client, repo, run_budget_seconds=600)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    assert run['status'] == 'succeeded', run
    assert outputs(run) == ['left a daemon']
    assert procs.processes_of_run(run['id']) == []


def test_a_stop_on_the_bus_that_nobody_asked_for_stops_nothing(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """The bus carries a stop as a hint; the database says whether one was asked. A run that reaches Redis (the host's
    network) could otherwise stop any team's run by publishing `run.stop`."""
    repo = repo_factory({'main': LONG})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run_id = trigger(client).json()['id']
        wait_for_output(client, run_id, 'started')
        server.services.bus.publish({'type': 'run.stop', 'id': run_id, 'project_id': 'proj', 'team_id': None})
        time.sleep(2)  # a kill on the bus alone took well under this
        assert client.get(f'/api/runs/{run_id}').json()['status'] == 'running'
        assert client.post(f'/api/runs/{run_id}/stop').status_code == 202  # a stop asked: the same hint stops it
        assert wait_for_status(client, run_id)['status'] == 'stopped'
