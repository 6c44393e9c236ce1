"""What a failing upload leaves: nothing a download would take for the whole file (on a local store and on S3,
moto's server), and a store that keeps failing is not tried for each of a run's remaining files."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.artifacts.store import ArtifactStore
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.s3 import moto_s3
from tests.helpers.servers import api_server


@pytest.fixture(params=['local-store', 's3-store'])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == 'local-store':
        yield ArtifactStore(str(tmp_path / 'store'))
        return
    with moto_s3() as s3:
        yield ArtifactStore(s3.url, json.loads(s3.options))


class BreaksAfter:
    """A file whose read fails after `good` bytes (a disk error, a file truncated under the reader)."""

    def __init__(self, good: int) -> None:
        self.left = good

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError(5, 'Input/output error')
        block = b'x' * (self.left if n < 0 else min(n, self.left))
        self.left -= len(block)
        return block


def test_an_upload_that_fails_midway_leaves_no_file(store: ArtifactStore) -> None:
    store.upload(io.BytesIO(b'whole'), 'run_1', 'kept.txt')
    with pytest.raises(OSError, match='Input/output error'):
        store.upload(BreaksAfter(3 * 1024 * 1024), 'run_1', 'report.html')  # BreaksAfter: three chunks went
    assert not store.exists('run_1', 'report.html')
    assert b''.join(store.chunks('run_1', 'kept.txt')) == b'whole'


def test_a_store_failing_three_times_in_a_row_is_not_tried_for_the_rest(
    settings_factory, repo_factory, monkeypatch
) -> None:  # noqa: ANN001, E501
    """A full disk or an S3 outage: the first three files say why, the rest say they were not tried, and the run
    ends without waiting on the store's retries for each of its files."""
    tried: list[str] = []

    def full_disk(self, source, run_id: str, path: str) -> None:  # noqa: ANN001
        tried.append(path)
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(ArtifactStore, 'upload', full_disk)
    writes = 'for f in a b c d e; do echo $f > "$RUNBOARD_ARTIFACTS_DIR/$f.txt"; done'
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo_factory({'main': shell_script(writes)}))
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['status'] == 'succeeded', run
        items = {i['path']: i for i in client.get(f'/api/runs/{run["id"]}/artifacts').json()['items']}
    assert tried == ['a.txt', 'b.txt', 'c.txt']
    full = 'OSError: [Errno 28] No space left on device'
    assert items['a.txt']['refused'].endswith(f': {full}') and not items['a.txt']['stored']
    said = f'not tried: 3 files in a row could not be stored ({full})'
    assert items['d.txt']['refused'] == items['e.txt']['refused'] == said
