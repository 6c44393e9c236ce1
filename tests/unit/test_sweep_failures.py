"""A timed sweep that fails (services/scheduling/timers.py) says so in the log and the next tick tries again: a database
restart, which the pool recovers from by itself, is one warning line; any other failure keeps its traceback."""

from __future__ import annotations

import asyncio
import logging

import psycopg
import pytest
from sqlalchemy import create_engine, text

from app.services.scheduling.timers import Timers
from tests.helpers.backends import PG_ADMIN_URL, require_team_services


def _said(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == 'app.services.scheduling.timers']


def _sweeps() -> Timers:
    timers = Timers.__new__(Timers)  # only _run is exercised: it needs no services when the sweep returns nothing
    timers._busy = {'delayed-runs'}
    return timers


def test_a_dropped_database_connection_is_one_warning_and_the_next_tick_works(caplog) -> None:  # noqa: ANN001
    require_team_services()
    engine = create_engine(PG_ADMIN_URL, pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        pid = conn.execute(text('SELECT pg_backend_pid()')).scalar()
    with psycopg.connect(PG_ADMIN_URL.replace('+psycopg', ''), autocommit=True) as admin:
        admin.execute('SELECT pg_terminate_backend(%s)', (pid,))

    def sweep() -> None:
        with engine.connect() as conn:  # the pooled connection the server ended
            conn.execute(text('SELECT 1'))

    timers = _sweeps()
    with caplog.at_level(logging.WARNING, logger='app.services.scheduling.timers'):
        asyncio.run(timers._run('delayed-runs', sweep))
    assert [(r.levelname, r.exc_info) for r in _said(caplog)] == [('WARNING', None)], caplog.text
    assert 'lost its database connection' in caplog.text and 'terminating connection' in caplog.text
    assert timers._busy == set()
    caplog.clear()
    asyncio.run(_sweeps()._run('delayed-runs', sweep))  # a fresh connection: nothing to say
    assert _said(caplog) == []
    engine.dispose()


def test_any_other_failure_keeps_its_traceback(caplog) -> None:  # noqa: ANN001
    require_team_services()
    engine = create_engine(PG_ADMIN_URL)

    def sweep() -> None:
        with engine.connect() as conn:
            conn.execute(text('SELECT * FROM no_such_table_here'))

    with caplog.at_level(logging.WARNING, logger='app.services.scheduling.timers'):
        asyncio.run(_sweeps()._run('delayed-runs', sweep))
    assert [r.levelname for r in _said(caplog)] == ['ERROR'] and _said(caplog)[0].exc_info, caplog.text
    engine.dispose()
