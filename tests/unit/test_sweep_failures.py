"""A periodic job that fails (services/scheduling/periodic.py) says so in the log and the next tick tries again: a
database restart, which the pool recovers from by itself, is one warning line; any other failure keeps its traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import create_engine, text

from app.services.scheduling.periodic import PeriodicJob
from tests.helpers.backends import PG_ADMIN_URL, require_team_services


def _said(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == 'app.services.scheduling.periodic']


def _job(sweep: Callable[[], None]) -> PeriodicJob:
    return PeriodicJob('delayed-runs', 0.5, sweep)


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

    job = _job(sweep)
    with caplog.at_level(logging.WARNING, logger='app.services.scheduling.periodic'):
        asyncio.run(job.run_passes())
    assert [(r.levelname, r.exc_info) for r in _said(caplog)] == [('WARNING', None)], caplog.text
    assert 'lost its database connection' in caplog.text and 'terminating connection' in caplog.text
    assert not job._busy  # the next tick runs
    caplog.clear()
    asyncio.run(_job(sweep).run_passes())  # a fresh connection: nothing to say
    assert _said(caplog) == []
    engine.dispose()


def test_any_other_failure_keeps_its_traceback(caplog) -> None:  # noqa: ANN001
    require_team_services()
    engine = create_engine(PG_ADMIN_URL)

    def sweep() -> None:
        with engine.connect() as conn:
            conn.execute(text('SELECT * FROM no_such_table_here'))

    with caplog.at_level(logging.WARNING, logger='app.services.scheduling.periodic'):
        asyncio.run(_job(sweep).run_passes())
    assert [r.levelname for r in _said(caplog)] == ['ERROR'] and _said(caplog)[0].exc_info, caplog.text
    engine.dispose()
