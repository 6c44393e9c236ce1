"""The loop's PostgreSQL wire (infra/pg_wire.py) against the real PostgreSQL, on asyncio's loop and on uvloop's:
results and errors as psycopg gives them, and a connection the server drops fails its query at once (never a
query left waiting), whether the loop saw the drop while idle or only with the next query, and the descriptor
numbers freed by the drop serve the next connections. The admission's transactions (infra/pg_async.py) do not
hand out an idle connection the server was seen to end."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable

import psycopg
import pytest
import uvloop
from sqlalchemy import create_engine

from app.infra.pg_async import AsyncTransactions
from app.infra.pg_wire import Wire, finish
from tests.helpers.backends import PG_ADMIN_URL, require_team_services

URL = PG_ADMIN_URL.replace('postgresql+psycopg://', 'postgresql://')
ANSWER_SECONDS = 5  # a query not answered by then would never be: the test fails instead of hanging


@pytest.fixture(params=['asyncio', 'uvloop'])
def run(request: pytest.FixtureRequest) -> Callable[[Awaitable[None]], None]:
    require_team_services()
    return asyncio.run if request.param == 'asyncio' else uvloop.run  # type: ignore[return-value]


async def _wire() -> Wire:
    return Wire(await psycopg.AsyncConnection.connect(URL, autocommit=True))


async def _query(wire: Wire, text: bytes) -> list:
    return await asyncio.wait_for(wire.query(text), ANSWER_SECONDS)


def _terminate(wire: Wire) -> None:
    """The backend ended by another session, as an administrator or a restart would (blocking: the loop does not
    run meanwhile)."""
    pid = wire.connection.info.backend_pid
    with psycopg.connect(URL, autocommit=True) as admin:
        assert admin.execute('SELECT pg_terminate_backend(%s)', (pid,)).fetchone() == (True,)
        for _ in range(100):  # gone from the server's sessions: its socket has been closed there
            if not admin.execute('SELECT 1 FROM pg_stat_activity WHERE pid = %s', (pid,)).fetchone():
                return
            os.sched_yield()
    raise AssertionError('the backend did not end')


def test_results_rows_and_errors_are_psycopgs(run) -> None:  # noqa: ANN001
    async def main() -> None:
        wire = await _wire()
        text = b"SELECT 1, 'a''b', NULL::text; CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (1), (2)"
        results = await _query(wire, text)
        assert [wire.rows(r) for r in results[:1]] == [[(1, "a'b", None)]]
        assert [wire.rowcount(r) for r in results] == [1, -1, 2]
        assert wire.literal("it's") == b"'it''s'" and wire.literal(None) == b'NULL'
        with pytest.raises(psycopg.errors.UndefinedTable):
            await _query(wire, b'SELECT * FROM missing')
        assert wire.rows((await _query(wire, b'SELECT count(*) FROM t'))[0]) == [(2,)]  # usable after an error
        finish(wire)

    run(main())


@pytest.mark.parametrize('loop_sees_it', [True, False], ids=['drop-seen-while-idle', 'drop-met-by-the-next-query'])
def test_a_dropped_connection_fails_its_query_and_the_freed_descriptors_serve_the_next(run, loop_sees_it) -> None:  # noqa: ANN001
    async def main() -> None:
        for _ in range(5):  # each round frees descriptor numbers that the next connections take again
            wire = await _wire()
            assert wire.rows((await _query(wire, b'SELECT 1'))[0]) == [(1,)]
            _terminate(wire)
            if loop_sees_it:
                for _ in range(200):
                    if wire.fd is None:
                        break
                    await asyncio.sleep(0.01)
                assert wire.fd is None, 'the loop saw the connection end and stopped watching it'
            with pytest.raises(psycopg.OperationalError):
                await _query(wire, b'SELECT 2')
            assert wire.fd is None
            finish(wire)
            others = [await _wire() for _ in range(3)]
            for number, other in enumerate(others):
                assert wire.rows((await _query(other, f'SELECT {number}'.encode()))[0]) == [(number,)]
            for other in others:
                finish(other)

    run(main())


def test_a_connection_closed_while_its_query_waits_fails_the_query(run) -> None:  # noqa: ANN001
    async def main() -> None:
        wire = await _wire()
        waiting = asyncio.ensure_future(wire.query(b'SELECT pg_sleep(30)'))
        await asyncio.sleep(0.2)
        finish(wire)
        with pytest.raises(psycopg.OperationalError):
            await asyncio.wait_for(waiting, ANSWER_SECONDS)

    run(main())


def test_an_idle_connection_seen_ended_is_not_handed_to_the_next_transaction(run) -> None:  # noqa: ANN001
    """After a PostgreSQL restart the admission's idle connections are all dead: the next admissions open fresh
    ones rather than each failing a trip on a dead one first."""
    transactions = AsyncTransactions(create_engine(PG_ADMIN_URL))

    async def one_trip() -> bool:
        async with transactions.transaction() as trips:
            results = await asyncio.wait_for(trips.send([('SELECT 1', None)], commit=True), ANSWER_SECONDS)
            assert results[0].rows == [(1,)]
            return trips.reused

    async def main() -> None:
        assert await one_trip() is False
        assert await one_trip() is True  # the idle one again
        (wire, _) = transactions._idle[-1]
        _terminate(wire)
        for _ in range(200):
            if wire.fd is None:
                break
            await asyncio.sleep(0.01)
        assert await one_trip() is False, 'a fresh connection, not the one the server ended'
        assert not transactions._idle or transactions._idle[-1][0] is not wire
        await transactions.close()

    run(main())


@pytest.mark.parametrize('loop_kind', ['asyncio', 'uvloop'])
def test_a_wire_finished_from_another_thread_is_closed_by_its_own_loop(loop_kind: str) -> None:
    """A loop's readers belong to its thread (the admission's connections dropped when another loop calls)."""
    require_team_services()
    loop = asyncio.new_event_loop() if loop_kind == 'asyncio' else uvloop.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        wire = asyncio.run_coroutine_threadsafe(_wire(), loop).result(ANSWER_SECONDS)
        detached_in: list[threading.Thread] = []
        detach = wire.detach
        wire.detach = lambda *why: (detached_in.append(threading.current_thread()), detach(*why))[1]  # type: ignore[method-assign]
        finish(wire)  # from this thread
        deadline = time.monotonic() + ANSWER_SECONDS
        while wire.fd is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert wire.fd is None and wire.pgconn.status == psycopg.pq.ConnStatus.BAD
        assert detached_in == [thread], 'its reader was taken off by its own loop'
        assert asyncio.run_coroutine_threadsafe(asyncio.sleep(0, 'still serving'), loop).result(1) == 'still serving'
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
