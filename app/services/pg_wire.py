"""Simple queries on the event loop through libpq itself (psycopg's pq layer), for the team admission's trips.

psycopg's AsyncCursor drives each query through its generators and waits with a loop reader that it adds and
removes every time (four epoll calls a trip); measured alone, about 120 µs of client CPU a trip against 60 µs
here. This keeps one reader per connection for its whole life, sends the text with PQsendQuery, gathers the
results as they arrive, and turns rows into Python values with psycopg's own Transformer (the loaders and
literal quoting psycopg would use), and errors into psycopg's exception classes.

The connection is opened (and closed) by psycopg's AsyncConnection; between those, only this object uses it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import Transformer

TUPLES_OK = pq.ExecStatus.TUPLES_OK
FAILED = (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.BAD_RESPONSE)


class Wire:
    def __init__(self, connection: psycopg.AsyncConnection) -> None:
        self.connection = connection
        self.pgconn = connection.pgconn
        self.pgconn.nonblocking = 1
        self.encoding = connection.info.encoding
        self.transformer = Transformer(connection)
        self.loop = asyncio.get_running_loop()
        self.fd = self.pgconn.socket
        self._waiting: asyncio.Future | None = None
        self._results: list[pq.abc.PGresult] = []
        self._reading = True
        self.loop.add_reader(self.fd, self._readable)

    def literal(self, value: Any) -> bytes:
        """`value` as an SQL literal, quoted as psycopg's ClientCursor.mogrify would."""
        return b'NULL' if value is None else self.transformer.as_literal(value)

    async def query(self, text: bytes) -> list[pq.abc.PGresult]:
        """Every result of the simple query `text`, in order. Raises psycopg's exception for the first failed
        statement (the ones after it did not run), or OperationalError when the connection is lost."""
        if self._waiting is not None:
            raise psycopg.InterfaceError('another query is still running on this connection')
        pgconn = self.pgconn
        pgconn.send_query(text)
        while pgconn.flush():  # more than the socket took at once: rare for a trip's few kilobytes
            writable = self.loop.create_future()
            self.loop.add_writer(self.fd, writable.set_result, None)
            try:
                await writable
            finally:
                self.loop.remove_writer(self.fd)
        waiting = self._waiting = self.loop.create_future()
        try:
            results = await waiting
        finally:
            self._waiting = None
        for result in results:
            if result.status in FAILED:
                raise errors.error_from_result(result, encoding=self.encoding)
        return results

    def rows(self, result: pq.abc.PGresult) -> list[tuple[Any, ...]]:
        transformer = self.transformer
        transformer.set_pgresult(result)
        return transformer.load_rows(0, result.ntuples, tuple)

    @staticmethod
    def rowcount(result: pq.abc.PGresult) -> int:
        """As psycopg's cursor.rowcount."""
        if result.status == TUPLES_OK:
            return result.ntuples
        count = result.command_tuples
        return count if count is not None else -1

    def _readable(self) -> None:
        pgconn = self.pgconn
        try:
            pgconn.consume_input()
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the query's last result came
                    results, self._results = self._results, []
                    if self._waiting is not None and not self._waiting.done():
                        self._waiting.set_result(results)
                    return
                self._results.append(result)
        except psycopg.OperationalError as exc:  # the server closed the connection, or the network dropped it
            self.detach()
            if self._waiting is not None and not self._waiting.done():
                self._waiting.set_exception(exc)

    def detach(self) -> None:
        """Stop reading the connection's socket (before it is closed: the number may be reused)."""
        if self._reading:
            self._reading = False
            self.loop.remove_reader(self.fd)
