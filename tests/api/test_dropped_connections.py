"""PostgreSQL drops a pooled connection (a restart, an idle timeout, an operator's pg_terminate_backend): the
pool pings a connection that sat idle before handing it out (db.needs_ping), so the reads and admissions after
a quiet second get live connections, never an error. A connection in steady use is not pinged: that round trip
cost more client CPU than any statement of an admission."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import Engine, text

from app.infra import db
from tests.helpers.api import run_body
from tests.helpers.backends import pg_schema, require_team_services


def _drop_pooled_connections(engine: Engine) -> int:
    """Terminates the backend of every connection idle in `engine`'s pool (only those: other tests share the
    database), leaving them in the pool; returns how many it ended."""
    held = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    pids = []
    for connection in held:
        cursor = connection.cursor()
        cursor.execute('SELECT pg_backend_pid()')
        pids.append(cursor.fetchone()[0])
        connection.rollback()
    for connection in held:
        connection.close()  # back into the pool, to be found dead there
    with psycopg.connect(engine.url.set(drivername='postgresql').render_as_string(hide_password=False)) as admin:
        return sum(admin.execute('SELECT pg_terminate_backend(%s)', (pid,)).fetchone()[0] for pid in pids)


def _use_connections(engine: Engine, count: int) -> None:
    held = [engine.connect() for _ in range(count)]
    for conn in held:
        assert conn.execute(text('SELECT 1')).scalar_one() == 1
    for conn in held:
        conn.close()


def test_a_pooled_connection_dropped_by_postgresql_is_replaced_once_it_sat_idle() -> None:
    require_team_services()
    with pg_schema() as url:
        engine = db.make_engine(url)
        try:
            _use_connections(engine, 3)
            assert _drop_pooled_connections(engine) == 3
            time.sleep(db.IDLE_PING_SECONDS + 0.1)
            _use_connections(engine, 3)  # three pings, three fresh connections: no error

            # the same drop, used again at once: not pinged (in steady use), so the dead connection shows
            assert _drop_pooled_connections(engine) == 3
            with pytest.raises(Exception, match='terminat|closed|connection'), engine.connect() as conn:
                conn.execute(text('SELECT 1'))
        finally:
            engine.dispose()


@pytest.mark.parametrize('backend', ['team'])  # SQLite has no connections to drop
def test_after_postgresql_drops_the_servers_connections_admissions_and_reads_work(api) -> None:  # noqa: ANN001
    assert api.client.post('/api/runs', json=run_body(branch='feature/a')).status_code == 201
    assert _drop_pooled_connections(api.server.services.engine) >= 1
    time.sleep(db.IDLE_PING_SECONDS + 0.1)
    created = api.client.post('/api/runs', json=run_body(branch='feature/b'), headers={'Idempotency-Key': 'after-drop'})
    assert created.status_code == 201, created.text
    again = api.client.post('/api/runs', json=run_body(branch='feature/b'), headers={'Idempotency-Key': 'after-drop'})
    assert again.status_code == 200 and again.json()['id'] == created.json()['id'], again.text
    listed = api.client.get('/api/runs')
    assert listed.status_code == 200, listed.text
    assert created.json()['id'] in {run['id'] for run in listed.json()['items']}
