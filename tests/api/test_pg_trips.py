"""The team-mode admission's transactions in few round trips (services/pg_trips.py): statements run prepared,
prepared once per connection, and a connection whose prepared state is unknown after a failure is not reused."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from app import db
from app.services import pg_trips
from app.services.pg_trips import prepared_form
from tests.helpers.backends import pg_schema, require_team_services


@pytest.mark.parametrize(
    ('sql', 'names', 'body'),
    [
        ('SELECT 1', (), 'SELECT 1'),
        ('SELECT %(a)s, %(b)s', ('a', 'b'), 'SELECT $1, $2'),
        ('SELECT %(b)s WHERE x = %(a)s OR y = %(b)s', ('b', 'a'), 'SELECT $1 WHERE x = $2 OR y = $1'),  # reused
    ],
)
def test_a_statement_is_numbered_in_order_of_first_use(sql: str, names: tuple[str, ...], body: str) -> None:
    form = prepared_form(sql)
    assert form.names == names
    assert form.statement == f'PREPARE {form.name} AS {body}'
    assert prepared_form(sql).name == form.name and prepared_form(sql + ' ').name != form.name


def _backend_pid(engine) -> int:  # noqa: ANN001
    with pg_trips.transaction(engine) as trips:
        return trips.send([('SELECT pg_backend_pid()', None)])[0].rows[0][0]


def test_statements_are_prepared_once_per_connection_and_a_failure_retires_the_connection() -> None:
    require_team_services()
    with pg_schema() as url:
        engine = db.make_engine(url, pool_size=1)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql('CREATE TABLE t (n int PRIMARY KEY, at timestamp)')
            insert = 'INSERT INTO t (n, at) VALUES (%(n)s, %(at)s) RETURNING n'
            for n in (1, 2):  # the second on the same connection: EXECUTE only (a second PREPARE would fail)
                with pg_trips.transaction(engine) as trips:
                    rows = trips.send([(insert, {'n': n, 'at': datetime.now(UTC)})], commit=True)[0].rows
                    assert rows == [(n,)]
            pid = _backend_pid(engine)
            with engine.connect() as conn:
                names = {row[0] for row in conn.exec_driver_sql('SELECT name FROM pg_prepared_statements')}
            assert prepared_form(insert).name in names

            # a failure in the trip that prepares a statement: that connection is not handed out again
            with pytest.raises(psycopg.errors.UniqueViolation), pg_trips.transaction(engine) as trips:
                trips.send([('INSERT INTO t (n) VALUES (%(n)s) RETURNING n', {'n': 1})], commit=True)
            assert _backend_pid(engine) != pid
            with pg_trips.transaction(engine) as trips:  # and what the failure touched was rolled back
                assert trips.send([('SELECT count(*) FROM t', None)])[0].rows == [(2,)]
        finally:
            engine.dispose()
