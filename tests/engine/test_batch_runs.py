"""A matrix batch's children are ordinary runs to the executors: on the local executor (every backend) and on
Celery workers, siblings on one branch run side by side, each with its own parameters, at the batch's commit."""

from __future__ import annotations

import pytest

from tests.helpers.runs import create_project, outputs, shell_script, wait_for_output, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.workers import runboard_worker

SCRIPT = shell_script('echo "$RUNBOARD_DEPTH_LEVEL/$RUNBOARD_TARGET_FRAMEWORK on $RUNBOARD_BRANCH"; sleep 2; echo done')
MATRIX = {
    'project_id': 'proj',
    'branch': 'main',
    'matrix': {'depth_level': ['deep'], 'target_framework': ['python', 'go']},
}


def run_batch(client) -> dict:  # noqa: ANN001
    """Trigger the 1 x 2 matrix, see both children running at once (siblings share the branch), and their ends."""
    answer = client.post('/api/runs/batch', json=MATRIX)
    assert answer.status_code == 201, answer.text
    batch = answer.json()
    assert batch['status'] == 'admitted'
    runs = {c['target_framework']: c['run']['id'] for c in batch['children']}
    for framework, run_id in runs.items():
        wait_for_output(client, run_id, f'deep/{framework} on main', timeout=60)
    both = [client.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()['status'] for run_id in runs.values()]
    assert 'running' in both  # the first still runs while the second has started: no PR lock between them
    ended = {framework: wait_for_status(client, run_id, timeout=60) for framework, run_id in runs.items()}
    for framework, run in ended.items():
        assert run['status'] == 'succeeded' and outputs(run) == [f'deep/{framework} on main', 'done']
        assert run['commit_sha'] == batch['commit_sha'] and run['batch_id'] == batch['id']
    return batch


def test_siblings_run_side_by_side_on_the_local_executor(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': SCRIPT})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run_batch(client)


@pytest.mark.parametrize('backend', ['team'])  # workers share the team database, bus and broker
def test_siblings_run_side_by_side_on_celery_workers(settings_factory, repo_factory, tmp_path, backend) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', dispatch_again_seconds=2.0)
    repo = repo_factory({'main': SCRIPT})
    with runboard_worker(settings, tmp_path / 'worker-data', slots=2):
        with api_server(settings) as server, server.client() as client:
            create_project(client, repo)
            run_batch(client)
            assert server.services.runner.live == {}  # executed on the worker, not by the server
