"""The team-mode admission's PostgreSQL transactions on the event loop: pg_trips.py's trips sent through libpq
(pg_wire.py) on a few connections of the admission's own, opened by psycopg's AsyncConnection, their statements
prepared (pg_prepared.py).

Own connections, not SQLAlchemy's pool: its connections are synchronous, and it rolls back every connection it
takes back. These stay in autocommit (pg_trips.py sends BEGIN and COMMIT inside its trips) and psycopg never
prepares statements on them. A connection that sat idle may have been dropped (a PostgreSQL restart, an idle
timeout): a first trip that fails on one is sent again on a fresh connection, which is safe because nothing
commits before the last trip. A connection serves one event loop; a call from another loop starts afresh.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import psycopg
from psycopg import pq
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine

from app.infra.pg_prepared import prepared_form
from app.infra.pg_trips import TUPLES_OK, Result, Statement
from app.infra.pg_wire import Wire, finish

CONNECTIONS = 4  # per instance: admissions to one repository wait for its lock anyway, and the loop is one thread
IDLE = TransactionStatus.IDLE


class AsyncTrips:
    """prepared: the statements this connection has prepared (infra/pg_prepared.py)."""

    def __init__(self, wire: Wire, prepared: set[str], reused: bool) -> None:
        self.wire = wire
        self.prepared = prepared
        self.reused = reused  # the connection sat idle before this transaction
        self.unsure = False  # a trip that prepared statements failed: which of them exist is not known
        self.trips_sent = 0

    async def send(self, statements: Sequence[Statement], *, commit: bool = False) -> list[Result]:
        """pg_trips.Trips.send, each statement EXECUTEd, PREPAREd first in the same trip on its first use here
        (ahead of BEGIN: PREPARE is not transactional)."""
        wire = self.wire
        forms = [prepared_form(sql) for sql, _ in statements]
        new = [form for form in forms if form.name not in self.prepared]
        parts = [form.statement.encode(wire.encoding) for form in new]
        first = self.trips_sent == 0
        if first:
            parts.append(b'BEGIN')
        parts += [form.execute_text(wire.literal, params) for form, (_, params) in zip(forms, statements, strict=True)]
        if commit:
            parts.append(b'COMMIT')
        self.trips_sent += 1
        try:
            results = await wire.query(b'; '.join(parts))
        except BaseException:
            self.unsure = bool(new)
            raise
        self.prepared.update(form.name for form in new)
        answers = results[len(new) + first : len(new) + first + len(statements)]  # PREPARE and BEGIN answer no rows
        return [
            Result(wire.rowcount(answer), wire.rows(answer) if answer.status == TUPLES_OK else []) for answer in answers
        ]

    @property
    def retryable(self) -> bool:
        """Failed on its first trip, on a connection that had been idle: likely dropped meanwhile, and nothing
        was committed, so the transaction may be tried again on a fresh connection."""
        return self.reused and self.trips_sent <= 1


class AsyncTransactions:
    def __init__(self, engine: Engine, *, size: int = CONNECTIONS, connect_timeout: int = 5) -> None:
        _, params = engine.dialect.create_connect_args(engine.url)
        self._connect = {**params, 'connect_timeout': connect_timeout, 'autocommit': True, 'prepare_threshold': None}
        self._size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: deque[tuple[Wire, set[str]]] = deque()  # and what each has prepared
        self._free: asyncio.Semaphore | None = None

    def _for_this_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._free is None:
            self._drop_idle()  # another loop's connections cannot be awaited on this one
            self._loop, self._free = loop, asyncio.Semaphore(self._size)
        return self._free

    @asynccontextmanager
    async def transaction(self, *, fresh: bool = False) -> AsyncIterator[AsyncTrips]:
        """Trips on a connection of this loop: committed by the caller's last send(commit=True), rolled back when
        the block raises or ends without it. fresh: on a new connection."""
        async with self._for_this_loop():
            idle = None if fresh else self._take_idle()
            reused = idle is not None
            if idle is None:
                idle = (Wire(await psycopg.AsyncConnection.connect(**self._connect)), set())
            wire, prepared = idle
            trips = AsyncTrips(wire, prepared, reused)
            try:
                yield trips
            except Exception:
                await self._put_back(trips)
                raise
            except BaseException:  # cancelled mid-trip: the connection's state is unknown
                finish(wire)
                raise
            await self._put_back(trips)

    def _take_idle(self) -> tuple[Wire, set[str]] | None:
        """The most recently used idle connection still open; those the server was seen to end are closed."""
        while self._idle:
            idle = self._idle.pop()
            if idle[0].fd is not None:
                return idle
            finish(idle[0])
        return None

    async def _put_back(self, trips: AsyncTrips) -> None:
        """Idle again when out of its transaction (committed, or rolled back now); closed when broken, or when a
        failed trip leaves what it prepared unknown."""
        wire = trips.wire
        if not trips.unsure and (wire.pgconn.transaction_status == IDLE or await _rolled_back(wire)):
            self._idle.append((wire, trips.prepared))
        else:
            await _close_quietly(wire)

    def _drop_idle(self) -> None:
        while self._idle:
            finish(self._idle.pop()[0])

    async def close(self) -> None:
        while self._idle:
            await _close_quietly(self._idle.pop()[0])


async def _rolled_back(wire: Wire) -> bool:
    """The connection back out of its transaction, or False when it is broken."""
    if wire.pgconn.status != pq.ConnStatus.OK:
        return False
    try:
        await wire.query(b'ROLLBACK')
    except psycopg.Error:
        return False
    return wire.pgconn.transaction_status == IDLE


async def _close_quietly(wire: Wire) -> None:
    wire.detach()
    try:
        await wire.connection.close()
    except psycopg.Error:
        wire.pgconn.finish()
