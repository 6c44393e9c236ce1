"""Simple queries on the event loop through libpq itself (psycopg's pq layer), for the team admission's trips.

psycopg's AsyncCursor drives each query through its generators and waits with a loop reader that it adds and
removes every time (four epoll calls a trip); measured alone, about 120 µs of client CPU a trip against 60 µs
here. This keeps one reader per connection for its whole life, sends the text with PQsendQuery, gathers the
results as they arrive, and turns rows into Python values with psycopg's own Transformer (the loaders and
literal quoting psycopg would use), and errors into psycopg's exception classes.

The reader watches a duplicate of libpq's socket descriptor, owned here. libpq closes its own descriptor when it
finds the connection lost, from inside a read or a send; a loop still watching that number would watch whatever socket
opens next under it (libuv forbids closing a polled descriptor for this reason). The duplicate keeps the socket
open until this object stops watching it and closes it.

The connection is opened (and closed) by psycopg's AsyncConnection; between those, only this object uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import Transformer

from app.infra.pg_trips import TUPLES_OK

FAILED = (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.BAD_RESPONSE)


class Wire:
    def __init__(self, connection: psycopg.AsyncConnection) -> None:
        self.connection = connection
        self.pgconn = connection.pgconn
        self.pgconn.nonblocking = 1
        self.encoding = connection.info.encoding
        self.transformer = Transformer(connection)
        self.loop = asyncio.get_running_loop()
        self.fd: int | None = os.dup(self.pgconn.socket)
        self._waiting: asyncio.Future | None = None
        self._results: list[pq.abc.PGresult] = []
        self._lost: BaseException | None = None  # why the reader stopped, for the queries after
        self.loop.add_reader(self.fd, self._readable)

    def literal(self, value: Any) -> bytes:
        """`value` as an SQL literal, quoted as psycopg's ClientCursor.mogrify would."""
        return b'NULL' if value is None else self.transformer.as_literal(value)

    async def query(self, text: bytes) -> list[pq.abc.PGresult]:
        """Every result of the simple query `text`, in order. Raises psycopg's exception for the first failed
        statement (the ones after it did not run), or OperationalError when the connection is lost."""
        if self._waiting is not None:
            raise psycopg.InterfaceError('another query is still running on this connection')
        if self.fd is None:
            raise self._lost_error()
        pgconn = self.pgconn
        waiting = self._waiting = self.loop.create_future()
        try:
            pgconn.send_query(text)
            while pgconn.flush():  # more than the socket took at once: rare for a trip's few kilobytes
                await self._writable()
            results = await waiting
        except psycopg.Error as exc:
            if pgconn.status != pq.ConnStatus.OK:  # libpq closed its socket (a send can find the server gone)
                self.detach(exc)
            raise
        finally:
            self._waiting = None
        for result in results:
            if result.status in FAILED:
                raise errors.error_from_result(result, encoding=self.encoding)
        return results

    async def _writable(self) -> None:
        if self.fd is None:
            raise self._lost_error()
        writable = self.loop.create_future()
        self.loop.add_writer(self.fd, _complete, writable)
        try:
            await writable
        finally:
            if self.fd is not None:
                self.loop.remove_writer(self.fd)

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
                if result is None:  # the query's last result came (or, between queries, nothing did)
                    results, self._results = self._results, []
                    self._settle(result=results)
                    return
                self._results.append(result)
        except Exception as exc:  # the server closed the connection, the network dropped it, or worse
            self._settle(error=exc if isinstance(exc, psycopg.Error) else psycopg.OperationalError(str(exc)))
            self.detach(exc)

    def _settle(self, *, result: Any = None, error: BaseException | None = None) -> None:
        waiting = self._waiting
        if waiting is None or waiting.done():
            return
        if error is not None:
            waiting.set_exception(error)
        else:
            waiting.set_result(result)

    def detach(self, why: BaseException | None = None) -> None:
        """Stop watching the socket and close this object's descriptor of it (libpq's stays libpq's)."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        self._lost = why or psycopg.OperationalError('closed')
        try:
            self.loop.remove_reader(fd)
            self.loop.remove_writer(fd)
        except RuntimeError:  # its loop is closed: nothing watches the descriptor any more
            pass
        finally:
            os.close(fd)
        self._settle(error=self._lost_error())

    def _lost_error(self) -> psycopg.OperationalError:
        return psycopg.OperationalError(f'the connection was lost: {self._lost}')


def finish(wire: Wire) -> None:
    """Closed without a goodbye (another loop's connection, or one whose state is unknown). A loop's readers are
    its own: when the wire's loop runs in another thread, that loop is asked to close it."""
    loop = wire.loop
    if loop.is_running() and loop is not _running_loop():
        with contextlib.suppress(RuntimeError):  # closed meanwhile: then nothing watches it, and it is closed here
            loop.call_soon_threadsafe(_finish_here, wire)
            return
    _finish_here(wire)


def _finish_here(wire: Wire) -> None:
    with contextlib.suppress(Exception):
        wire.detach()
    wire.pgconn.finish()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _complete(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
