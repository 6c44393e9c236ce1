"""executor=celery: a worker keeps the run's artifacts itself (it uploads to the store; nothing passes through the
server), with a store the server reads too: a folder both share, or S3 (moto's server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.artifacts import artifact_repo, expected
from tests.helpers.runs import create_project, trigger, wait_for_status
from tests.helpers.s3 import moto_s3
from tests.helpers.servers import api_server
from tests.helpers.workers import runboard_worker

pytestmark = pytest.mark.parametrize('backend', ['team'])  # workers share the team database, bus and broker


@pytest.fixture(params=['shared-folder', 's3-store'])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict]:
    if request.param == 'shared-folder':
        yield {'artifact_store': str(tmp_path / 'shared-artifacts')}
        return
    with moto_s3() as s3:
        yield {'artifact_store': s3.url, 'artifact_store_options': s3.options}


def test_a_worker_keeps_the_runs_artifacts_and_the_server_answers_them(
    settings_factory, tmp_path: Path, store: dict
) -> None:  # noqa: ANN001
    settings = settings_factory(executor='celery', max_artifact_bytes=200_000, **store)
    repo = artifact_repo(tmp_path / 'repo')
    with runboard_worker(settings, tmp_path / 'worker-data'):
        with api_server(settings) as server, server.client() as client:
            create_project(client, repo)
            run = wait_for_status(client, trigger(client, depth='standard').json()['id'], timeout=90)
            assert run['status'] == 'failed', run
            assert server.services.runner.live == {}  # the worker ran it
            items = {i['path']: i for i in client.get(f'/api/runs/{run["id"]}/artifacts').json()['items']}
            for path, body in expected(repo).items():
                assert items[path]['stored'] and items[path]['size'] == len(body)
                assert client.get(items[path]['url']).content == body
            assert not items['big.bin']['stored'] and 'artifact limit' in items['big.bin']['refused']
            tests = client.get(f'/api/runs/{run["id"]}/tests').json()
            assert tests['totals']['total'] == 5 and len(tests['failures']) == 2
    # written by the worker: the server's data dir holds no artifacts
    assert not (settings.data_dir / 'artifacts' / run['id']).exists()
    assert not (tmp_path / 'worker-data' / 'artifact-uploads' / run['id']).exists()  # the staging folder is gone
