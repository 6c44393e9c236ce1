"""executor=celery: runner labels route a project's runs to the workers holding them (the run waits, with
the reason, while none is up); a drained worker takes nothing new and finishes what it holds; the
registry shows each worker's state."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import text

from app.models import Role
from tests.helpers.api import add_user, assert_problem
from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_output, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.workers import runboard_worker, wait_for_worker

pytestmark = pytest.mark.parametrize('backend', ['team'])


def owner_pid(server, run_id: str) -> int:  # noqa: ANN001
    with server.services.engine.connect() as conn:
        owner = conn.execute(text('SELECT owner_instance FROM run WHERE id = :id'), {'id': run_id}).scalar_one()
    return int(owner.rsplit(':', 2)[1])


def wait_for_log(path: Path, line: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while line not in path.read_text(errors='replace'):
        if time.monotonic() > deadline:
            raise AssertionError(f'{line!r} never appeared in {path}')
        time.sleep(0.2)


def test_a_labelled_project_waits_for_a_worker_with_its_labels_and_runs_only_there(
    settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', dispatch_again_seconds=2.0, heartbeat_seconds=1.0)
    gpu_repo = repo_factory({'main': shell_script('echo trained')})
    any_repo = repo_factory({'main': shell_script('echo built')})
    with (
        api_server(settings) as server,
        server.client() as client,
        runboard_worker(settings, tmp_path / 'plain') as plain,
    ):
        wait_for_worker(client, 'plain')
        create_project(client, gpu_repo, project_id='models', runs_on=['GPU'])
        create_project(client, any_repo, project_id='site')
        assert client.get('/api/projects/models').json()['runs_on'] == ['gpu']
        gpu_run = trigger(client, 'models').json()
        any_run = trigger(client, 'site').json()
        assert wait_for_status(client, any_run['id'], timeout=60)['status'] == 'succeeded'
        waiting = client.get(f'/api/runs/{gpu_run["id"]}').json()
        assert waiting['status'] == 'queued'  # the plain worker never took it
        assert waiting['waiting'] == 'waiting for a worker with labels gpu'
        assert waiting['queue_position'] == 1
        listed = client.get('/api/runs', params={'status': 'queued'}).json()['items']
        assert [(r['id'], r['waiting']) for r in listed] == [(gpu_run['id'], 'waiting for a worker with labels gpu')]
        with runboard_worker(settings, tmp_path / 'trainer', labels='gpu,linux') as gpu:
            done = wait_for_status(client, gpu_run['id'], timeout=60)
            workers = {w['name'].split('@')[0]: w for w in client.get('/api/workers').json()['items']}
        assert done['status'] == 'succeeded'
        assert done['waiting'] is None
        assert owner_pid(server, gpu_run['id']) == gpu.pid
        assert owner_pid(server, any_run['id']) == plain.pid
    assert workers['trainer']['labels'] == ['gpu', 'linux'] and workers['plain']['labels'] == []
    assert {w['state'] for w in workers.values()} == {'live'}


def test_bad_labels_are_refused_with_the_reason(settings_factory, repo_factory) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery')
    repo = repo_factory({'main': shell_script('echo hi')})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        answer = client.patch('/api/projects/proj', json={'runs_on': ['gpu', 'no spaces']})
        assert answer.status_code == 422
        assert answer.headers['content-type'].startswith('application/problem+json')
        assert "label 'no spaces' must be" in answer.text
        assert client.get('/api/projects/proj').json()['runs_on'] == []  # nothing changed


def test_a_drained_worker_takes_no_new_runs_and_finishes_its_own(settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    # the worker's run goes on until the gate opens: it is still running when the drain is looked at, however slow
    # the machine (`sleep 3` ended first once, under load)
    gate = tmp_path / 'gates' / 'open'
    gate.parent.mkdir()
    settings = settings_factory(
        executor='celery', dispatch_again_seconds=1.0, heartbeat_seconds=1.0, sandbox_read_only_paths=str(gate.parent)
    )
    script = f'echo started; while [ ! -f {gate} ]; do sleep 0.05; done; echo finished'
    repo = repo_factory({'main': shell_script(script)})
    subprocess.run(['git', 'branch', 'second', 'main'], cwd=repo, check=True)
    with (
        api_server(settings) as server,
        server.client() as client,
        runboard_worker(settings, tmp_path / 'solo') as worker,
    ):
        name = wait_for_worker(client, 'solo')['name']
        create_project(client, repo, max_concurrent_runs=5)
        first = trigger(client).json()
        wait_for_output(client, first['id'], 'started', timeout=60)

        builder = add_user(server, role=Role.builder, name='bea')
        with server.client(token=builder) as as_builder:
            refused = as_builder.post(f'/api/workers/{quote(name, safe="")}/drain')
        assert_problem(refused, 403, 'admin_required')

        drained = run_cli(server.base_url, server.token, 'workers', 'drain', name, '--json').json()
        assert drained['state'] == 'draining' and drained['busy'] == 1
        wait_for_log(tmp_path / 'solo.log', 'is draining: takes no new runs')
        page = client.get('/api/workers').json()  # no slot serves new runs; its own run finishes there
        assert (page['capacity'], page['busy'], page['finishing']) == (0, 0, 1)
        second = trigger(client, branch='second').json()
        gate.touch()
        assert wait_for_status(client, first['id'], timeout=30)['status'] == 'succeeded'  # its own run finishes
        time.sleep(3 * settings.dispatch_again_seconds)  # several dispatch sweeps: none may hand it the run
        still = client.get(f'/api/runs/{second["id"]}').json()
        assert still['status'] == 'queued'
        assert still['waiting'] == 'waiting for a worker: every one that could take it is draining'

        listing = run_cli(server.base_url, server.token, 'workers', 'list')
        assert listing.code == 0 and 'draining' in listing.stdout and name in listing.stdout

        assert run_cli(server.base_url, server.token, 'workers', 'undrain', name).code == 0
        assert wait_for_status(client, second['id'], timeout=60)['status'] == 'succeeded'
        assert owner_pid(server, second['id']) == worker.pid


def test_a_worker_named_without_an_at_sign_stops_taking_runs_when_drained(
    settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    """`--name build-3` makes Celery's node `celery@build-3`: the drain must reach that node, or, while another
    worker serves the queue, it keeps taking each dispatch of a waiting run and handing it back, hundreds a second."""
    settings = settings_factory(executor='celery', dispatch_again_seconds=1.0, heartbeat_seconds=1.0)
    repo = repo_factory({'main': shell_script('echo started; sleep 8')})
    subprocess.run(['git', 'branch', 'second', 'main'], cwd=repo, check=True)
    with (
        api_server(settings) as server,
        server.client() as client,
        runboard_worker(settings, tmp_path / 'drained', name='build-3'),
        runboard_worker(settings, tmp_path / 'busy', slots=1),
    ):
        wait_for_worker(client, 'busy')
        deadline = time.monotonic() + 60
        while not any(w['name'] == 'build-3' for w in client.get('/api/workers').json()['items']):
            assert time.monotonic() < deadline, 'worker build-3 never registered'
            time.sleep(0.2)
        create_project(client, repo, max_concurrent_runs=5)
        assert client.post('/api/workers/build-3/drain').status_code == 200
        wait_for_log(tmp_path / 'drained.log', 'is draining: takes no new runs')
        first = trigger(client).json()
        wait_for_output(client, first['id'], 'started', timeout=60)  # the busy worker's one slot
        waiting = trigger(client, branch='second').json()
        time.sleep(3)
        assert client.get(f'/api/runs/{waiting["id"]}').json()['status'] == 'queued'
        log = (tmp_path / 'drained.log').read_text(errors='replace')
    # the node answered the drain (wait_for_log: a node asked under a wrong name never does; an unanswered ask is
    # asked again each beat, which a slow start of Celery's consumer may need once) and took nothing since
    assert log.split('is draining: takes no new runs', 1)[1].count('runboard.execute_run[') == 0


def test_a_worker_drained_before_its_restart_takes_no_runs_after_it(settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    """A drain outlives the worker's restart: its first beat asks Celery to stop consuming before Celery consumes,
    so an unanswered request is asked again, not taken as done."""
    settings = settings_factory(executor='celery', dispatch_again_seconds=1.0, heartbeat_seconds=1.0)
    repo = repo_factory({'main': shell_script('echo started; sleep 8')})
    subprocess.run(['git', 'branch', 'second', 'main'], cwd=repo, check=True)
    with api_server(settings) as server, server.client() as client:
        with runboard_worker(settings, tmp_path / 'drained'):
            name = wait_for_worker(client, 'drained')['name']
            assert client.post(f'/api/workers/{quote(name, safe="")}/drain').status_code == 200
            wait_for_log(tmp_path / 'drained.log', 'is draining: takes no new runs')
        with (
            runboard_worker(settings, tmp_path / 'drained'),  # the same name again, still drained
            runboard_worker(settings, tmp_path / 'busy', slots=1),
        ):
            wait_for_worker(client, 'drained', state='draining')
            wait_for_worker(client, 'busy')
            wait_for_log(tmp_path / 'drained.log', 'is draining: takes no new runs')
            create_project(client, repo, max_concurrent_runs=5)
            first = trigger(client).json()
            wait_for_output(client, first['id'], 'started', timeout=60)  # the busy worker's one slot
            waiting = trigger(client, branch='second').json()
            time.sleep(3)
            assert client.get(f'/api/runs/{waiting["id"]}').json()['status'] == 'queued'
            log = (tmp_path / 'drained.log').read_text(errors='replace')
    assert log.count('runboard.execute_run[') == 0
