"""In local mode an admission runs on the server's event loop when nothing on its way waits
(infra/no_wait.py). When something would wait, here SQLite's write lock held by another process, the
admission is handed to the threadpool: it is admitted once the lock is free, exactly once, and the server
answers other requests meanwhile. (On PostgreSQL every admission goes through the threadpool.)"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

from tests.helpers.api import QUEUED, run_body, serving
from tests.helpers.backends import backend_settings
from tests.helpers.repos import add_branches

LIMIT = 50


def test_a_locked_database_delays_an_admission_and_stalls_nothing(tmp_path, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': {'run.sh': 'echo hi\n'}})
    first, held = add_branches(repo, 2, prefix='loop/')
    with (
        backend_settings('local', tmp_path / 'data', rate_limit_runs=LIMIT, **QUEUED) as settings,
        serving(settings, repo, max_concurrent_runs=10) as api,
    ):
        warm = api.client.post('/api/runs', json=run_body(branch=first), headers={'Idempotency-Key': 'warm'})
        assert warm.status_code == 201  # the caches are filled: the next admission is tried on the loop
        other_process = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        other_process.execute('BEGIN IMMEDIATE')  # SQLite's write lock, held elsewhere
        try:
            with api.server.client() as second_client, ThreadPoolExecutor(1) as pool:
                pending = pool.submit(
                    second_client.post, '/api/runs', json=run_body(branch=held), headers={'Idempotency-Key': 'held'}
                )
                time.sleep(0.3)  # let the admission reach the lock
                health = api.client.get('/api/health', timeout=10)  # a blocked loop would not answer this
                assert health.status_code == 200
                assert not pending.done()  # waiting for the lock: neither refused nor admitted
                other_process.rollback()
                reply = pending.result(timeout=30)
        finally:
            other_process.close()
        assert reply.status_code == 201 and reply.headers.get('Idempotent-Replayed') is None
        listed = api.client.get('/api/runs', params={'branch': held}).json()['items']
        assert [run['id'] for run in listed] == [reply.json()['id']]  # one run, not one per attempt
        assert api.client.get('/api/quota/runs').json()['remaining'] == LIMIT - 2  # one quota entry each
        again = api.client.post('/api/runs', json=run_body(branch=held), headers={'Idempotency-Key': 'held'})
        assert again.status_code == 200 and again.json()['id'] == reply.json()['id']
