"""What a `runboard worker`, and a server whose runs execute on workers, must share (deployment_checks.py): a worker
without the server's secret key refuses to start in team mode; one with a key of its own says so when a run's secrets
cannot be read; a worker, and such a server, with no RUNBOARD_ARTIFACT_STORE say in their log that the artifacts of
runs on workers stay where the servers do not read them (the server also on /api/about)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.helpers.backends import server_env
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import ROOT, api_server, clean_env
from tests.helpers.workers import runboard_worker, wait_for_worker

pytestmark = pytest.mark.parametrize('backend', ['team'])  # workers share the team database, bus and broker


def test_a_worker_without_the_servers_key_refuses_to_start(settings_factory, tmp_path: Path) -> None:  # noqa: ANN001
    """Before: it made a secret.key of its own and took runs, and every run of a project with secrets failed at
    launch with "…set it again", which does not help."""
    settings = settings_factory(executor='celery')
    data_dir = tmp_path / 'worker-data'
    env = clean_env(**server_env(settings, RUNBOARD_EXECUTOR='celery', RUNBOARD_DATA_DIR=str(data_dir)))
    assert 'RUNBOARD_SECRET_KEY' not in env
    try:
        started = subprocess.run(
            [sys.executable, '-m', 'app.cli', 'worker', '--name', 'keyless@%h'],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail('the worker started without a secret key')
    assert started.returncode == 2, started.stderr
    assert 'runboard worker: cannot start: no secret key' in started.stderr
    assert 'RUNBOARD_SECRET_KEY' in started.stderr and 'docs/team.md' in started.stderr
    assert 'Traceback' not in started.stderr
    assert not (data_dir / 'secret.key').exists()  # it made no key of its own


def test_a_worker_with_a_key_of_its_own_says_so_and_warns_of_its_own_artifact_store(
    settings_factory, repo_factory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # noqa: ANN001
    """A worker given another key than the server's: the launch failure names the worker's key and
    RUNBOARD_SECRET_KEY, not "set it again". Neither it nor the server has RUNBOARD_ARTIFACT_STORE: both say so."""
    settings = settings_factory(executor='celery', secret_key=Fernet.generate_key().decode())
    repo = repo_factory({'main': shell_script('echo "$DEPLOY_TOKEN"')})
    worker_settings = settings.model_copy(update={'secret_key': Fernet.generate_key().decode()})
    data_dir = tmp_path / 'worker-data'
    with caplog.at_level(logging.WARNING), runboard_worker(worker_settings, data_dir):
        with api_server(settings) as server, server.client() as client:
            about = client.get('/api/about').json()
            create_project(client, repo)
            client.put('/api/projects/proj/secrets/DEPLOY_TOKEN', json={'value': 's3cr3t'}).raise_for_status()
            wait_for_worker(client, 'worker-data')
            done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    assert done['status'] == 'failed', done
    assert "this worker's secret key is not the one the server encrypted it with" in done['error']
    assert 'RUNBOARD_SECRET_KEY' in done['error'] and 'set it again' not in done['error']

    worker_log = (tmp_path / 'worker-data.log').read_text()
    said = [line for line in worker_log.splitlines() if 'RUNBOARD_ARTIFACT_STORE is unset' in line]
    assert len(said) == 1 and 'WARNING' in said[0] and 'docs/artifacts.md' in said[0], worker_log
    assert str(data_dir.resolve() / 'artifacts') in said[0]

    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == 'app.container']
    assert any('RUNBOARD_ARTIFACT_STORE is unset' in m and 'docs/artifacts.md' in m for m in warned), warned
    assert not any('RUNBOARD_SECRET_KEY' in m for m in warned)  # the server has a key set
    assert 'RUNBOARD_ARTIFACT_STORE' in about['artifact_store_warning']


def test_a_server_on_workers_warns_of_a_key_and_a_store_only_it_has(
    settings_factory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # noqa: ANN001
    """executor=celery with neither RUNBOARD_SECRET_KEY nor RUNBOARD_ARTIFACT_STORE: two warnings at start; with
    both, none, and /api/about has no artifact_store warning."""
    with caplog.at_level(logging.WARNING), api_server(settings_factory(executor='celery')) as server:
        about = server.client().get('/api/about').json()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == 'app.container']
    assert len(warned) == 2, warned
    assert 'RUNBOARD_ARTIFACT_STORE' in warned[0] and 'RUNBOARD_SECRET_KEY' in warned[1]
    assert 'docs/artifacts.md' in about['artifact_store_warning']

    caplog.clear()
    shared = settings_factory(
        executor='celery', artifact_store=str(tmp_path / 'shared'), secret_key=Fernet.generate_key().decode()
    )
    with caplog.at_level(logging.WARNING), api_server(shared) as server:
        about = server.client().get('/api/about').json()
    assert [r for r in caplog.records if r.name == 'app.container'] == []
    assert about['artifact_store_warning'] is None
