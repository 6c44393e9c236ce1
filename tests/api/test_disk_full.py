"""A full disk is a 507 problem, and nothing is half-written: SQLite really runs out of pages here
(PRAGMA max_page_count caps the database at its current size)."""

from __future__ import annotations

from sqlalchemy import event

from tests.helpers.api import QUEUED, assert_problem, run_body, serving
from tests.helpers.backends import backend_settings
from tests.helpers.repos import add_branches


def _cap_database_size(engine, pages: int | None) -> None:  # noqa: ANN001
    """Every new connection may not grow the file past `pages` (None: lift the cap)."""

    def on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute(f'PRAGMA max_page_count = {pages if pages is not None else 1_073_741_823}')
        cur.close()

    event.listen(engine, 'connect', on_connect)
    engine.dispose()


def test_disk_full_is_507_and_nothing_half_written(tmp_path, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': {'run.sh': 'echo hi\n'}})
    branches = add_branches(repo, 400, prefix='full/')
    with (
        backend_settings('local', tmp_path / 'data', rate_limit_runs=10_000, **QUEUED) as settings,
        serving(settings, repo, max_concurrent_runs=1000) as api,
    ):
        engine = api.server.services.engine
        with engine.connect() as conn:
            size = conn.exec_driver_sql('PRAGMA page_count').scalar()
        _cap_database_size(engine, size)
        admitted, refused_key = [], None
        for n, branch in enumerate(branches):
            reply = api.client.post('/api/runs', json=run_body(branch=branch), headers={'Idempotency-Key': f'k{n}'})
            if reply.status_code == 201:
                admitted.append(reply.json()['id'])
                continue
            problem = assert_problem(reply, 507, 'insufficient_storage')
            assert problem['correlation_id'] and 'disk is full' in problem['detail']
            refused_key = (f'k{n}', branch)
            break
        assert refused_key is not None, 'the capped database never filled up'
        issue = api.client.post('/api/projects/proj/issues', json={'title': 'big', 'body': 'x' * 30_000})
        assert_problem(issue, 507, 'insufficient_storage')

        _cap_database_size(engine, None)  # space again
        listed = [r['id'] for r in api.client.get('/api/runs', params={'limit': 500}).json()['items']]
        assert sorted(listed) == sorted(admitted)  # the refused trigger left no run behind
        key, branch = refused_key
        again = api.client.post('/api/runs', json=run_body(branch=branch), headers={'Idempotency-Key': key})
        assert again.status_code == 201 and again.headers.get('Idempotent-Replayed') is None  # nor its key
        assert api.client.get('/api/projects/proj/issues').json() == []
        assert api.client.get('/api/quota/runs').json()['remaining'] == 10_000 - len(admitted) - 1
