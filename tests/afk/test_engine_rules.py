"""AFK rules through the real run engine and scheduler, on every backend: a pull request ends a live run
as success, a launch failure costs nothing and does not spin, a restart is neutral."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from app.infra.db import session_scope
from app.services.execution import execution, procs
from app.services.repositories import forge
from tests.afk.fake_forge import fake_forge
from tests.helpers.runs import create_project, shell_script, wait_for_output, wait_for_status
from tests.helpers.servers import api_server

AGENT_THAT_IDLES = 'echo started; sleep 300 & sleep 300; wait'  # a child in the group too


@pytest.fixture(autouse=True)
def _fresh_forge_cache():  # noqa: ANN202
    forge._ready_cache.clear()
    yield
    forge._ready_cache.clear()


def _wait(predicate, timeout: float = 30):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, 'condition not reached'
        time.sleep(0.1)
    return value


def _set_failures(server, project_id: str, failures: int) -> None:  # noqa: ANN001
    with session_scope(server.services.engine) as session:
        session.connection().execute(
            text('UPDATE project SET consecutive_failures = :f WHERE id = :p'), {'f': failures, 'p': project_id}
        )


def test_a_live_run_whose_pull_request_appears_ends_succeeded(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Rule 3: within one reaper tick the process group is ended, the run succeeds, the counter resets."""
    repo = repo_factory({'main': shell_script(AGENT_THAT_IDLES)})
    source = {'kind': 'gitea', 'api_url': '', 'owner': 'o', 'repo': 'r', 'token': 'tok', 'timeout_seconds': 2}
    with (
        fake_forge('gitea') as (state, root),
        api_server(settings_factory(reaper_poll_seconds=0.5, webhook_allowed_hosts='loopback')) as server,
        server.client() as client,
    ):
        state.add_issue(4, 'four', ['ready-for-agent'])
        create_project(client, repo, project_id='agent', issue_source={**source, 'api_url': root})
        _set_failures(server, 'agent', 2)
        run = client.post('/api/afk/start/agent').json()
        wait_for_output(client, run['id'], 'started')
        pid = server.services.runner.live[run['id']].process.pid
        time.sleep(1.2)  # two reaper ticks without a PR: the run keeps going
        assert client.get(f'/api/runs/{run["id"]}').json()['status'] == 'running'
        state.add_pull('afk/4', state='open')
        finished = wait_for_status(client, run['id'], timeout=15)
        assert finished['status'] == 'succeeded'
        assert any('pull request' in e['text'] for e in finished['events'] if e['type'] == 'status')
        assert procs.processes_of_run(run['id']) == [] and procs.process_group_of(pid) is None
        assert client.get('/api/projects/agent').json()['consecutive_failures'] == 0


def test_a_command_that_cannot_start_costs_nothing_and_does_not_spin(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Rule 4: the run fails with launch_failed, the issue stays ready, the counter is unchanged, the
    project says why nothing launches, and fixing the command lets the loop go on."""
    repo = repo_factory({'main': shell_script('echo working; exit 0')})
    with api_server(settings_factory(afk_sweep_seconds=0.2)) as server, server.client() as client:
        create_project(client, repo, project_id='broken', command=['/nonexistent/agent', '--go'])
        client.post('/api/projects/broken/issues', json={'title': 'one', 'labels': ['ready-for-agent']})
        _set_failures(server, 'broken', 1)
        assert client.post('/api/afk/auto/broken', json={'enabled': True}).status_code == 200
        runs = _wait(
            lambda: [
                r
                for r in client.get('/api/runs', params={'project': 'broken'}).json()['items']
                if r['status'] == 'failed'
            ]
        )
        assert runs[0]['error'].startswith('launch_failed: could not start')
        time.sleep(1.5)  # seven sweep periods: nothing more is launched
        assert len(client.get('/api/runs', params={'project': 'broken'}).json()['items']) == 1
        project = client.get('/api/projects/broken').json()
        assert project['consecutive_failures'] == 1 and project['parked_count'] == 0 and project['ready_count'] == 1
        assert '/nonexistent/agent' in project['launch_error']
        fixed = client.patch('/api/projects/broken', json={'command': ['sh', 'run.sh']})
        assert fixed.status_code == 200 and fixed.json()['launch_error'] is None
        second = _wait(
            lambda: [
                r
                for r in client.get('/api/runs', params={'project': 'broken'}).json()['items']
                if r['status'] == 'succeeded'
            ]
        )
        assert second[0]['issue_number'] == 1
        assert client.get('/api/projects/broken').json()['consecutive_failures'] == 0


def test_an_engine_error_crashes_the_run_once_and_the_loop_waits_for_a_person(
    settings_factory, repo_factory, monkeypatch
) -> None:  # noqa: ANN001
    """A disk full while the checkout is made: the run ends crashed (not the agent's failure: the counter does not
    move, the issue stays ready), and the loop does not launch run after run into the same error."""

    def disk_full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(execution, 'prepare_checkout', disk_full)
    repo = repo_factory({'main': shell_script('echo working; exit 0')})
    with api_server(settings_factory(afk_sweep_seconds=0.2)) as server, server.client() as client:
        create_project(client, repo, project_id='full')
        client.post('/api/projects/full/issues', json={'title': 'one', 'labels': ['ready-for-agent']})
        assert client.post('/api/afk/auto/full', json={'enabled': True}).status_code == 200
        [crashed] = _wait(
            lambda: client.get('/api/runs', params={'project': 'full', 'status': 'crashed'}).json()['items']
        )
        assert crashed['error'] == 'engine error: [Errno 28] No space left on device'
        time.sleep(1.5)  # seven sweep periods: nothing more is launched
        assert len(client.get('/api/runs', params={'project': 'full'}).json()['items']) == 1
        project = client.get('/api/projects/full').json()
        assert project['consecutive_failures'] == 0 and project['ready_count'] == 1
        assert 'No space left on device' in project['launch_error']
        monkeypatch.undo()  # the disk has room again; Reset lets the loop go on
        assert client.post('/api/afk/reset/full').status_code == 200
        assert _wait(lambda: client.get('/api/runs', params={'project': 'full', 'status': 'succeeded'}).json()['items'])


def test_a_restart_with_a_live_afk_run_is_neutral(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Rule 5: the server going away mid-run ends it crashed; the counter is unchanged, the issue ready."""
    repo = repo_factory({'main': shell_script(AGENT_THAT_IDLES)})
    settings = settings_factory()
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo, project_id='agent')
        client.post('/api/projects/agent/issues', json={'title': 'one', 'labels': ['ready-for-agent']})
        _set_failures(server, 'agent', 2)
        run = client.post('/api/afk/start/agent').json()
        wait_for_output(client, run['id'], 'started')
    with api_server(settings) as server, server.client() as client:  # the same server, restarted
        assert client.get(f'/api/runs/{run["id"]}').json()['status'] == 'crashed'
        project = client.get('/api/projects/agent').json()
        assert project['consecutive_failures'] == 2 and project['parked_count'] == 0
        assert project['ready_count'] == 1 and not project['paused']
        again = client.post('/api/afk/start/agent')
        assert again.status_code == 201 and again.json()['issue_number'] == 1
