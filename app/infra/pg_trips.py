"""A PostgreSQL transaction in few round trips: BEGIN goes with the first statements, COMMIT with the last.

Each statement sent on its own costs a round trip, and psycopg spends about as much client CPU on one as
PostgreSQL spends running it. Several statements bound on the client and sent as one simple query run in
order, each with its own snapshot (READ COMMITTED), so a statement after one that takes a lock still sees
what the lock's previous holder committed. Used by the team-mode admission (services/runs/admission_write.py):
BEGIN, the key claim with the repository lock, the repository's facts and the key's row, in one trip; the
run's write and COMMIT in a second.

The connection is in autocommit while it is used this way (psycopg would otherwise send a BEGIN of its own
first) and back to psycopg's default before it returns to the pool.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from sqlalchemy import Engine

Statement = tuple[str, dict[str, Any] | None]
TUPLES_OK = ExecStatus.TUPLES_OK


@dataclass(frozen=True)
class Result:
    rowcount: int
    rows: list[tuple[Any, ...]]  # empty for a statement that returns no rows


class Trips:
    """The open transaction; `cursor` is a psycopg ClientCursor on it, for statements sent one by one."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self._begun = False

    def send(self, statements: Sequence[Statement], *, commit: bool = False) -> list[Result]:
        """The statements in one round trip (after BEGIN, on the first call), with COMMIT after them when
        `commit`. Raises what the first failing statement raises; the transaction is then to be rolled back."""
        cursor = self.cursor
        text, first = self.query(statements, commit)
        cursor.execute(text)  # no parameters: the text is sent as it is, % and all
        if first:
            cursor.nextset()  # BEGIN's result
        results = []
        for _ in statements:
            returned_rows = cursor.pgresult is not None and cursor.pgresult.status == TUPLES_OK
            results.append(Result(cursor.rowcount, cursor.fetchall() if returned_rows else []))  # (not .description:
            cursor.nextset()  # it builds a Column per column, a tenth of an admission's CPU)
        return results

    def query(self, statements: Sequence[Statement], commit: bool) -> tuple[str, bool]:
        """One simple query's text (BEGIN first in the first trip, COMMIT last when `commit`), and whether it
        is the first trip (its first result is BEGIN's)."""
        first = not self._begun
        parts = ['BEGIN'] if first else []
        parts += [self.cursor.mogrify(sql, params) for sql, params in statements]
        if commit:
            parts.append('COMMIT')
        self._begun = True
        return '; '.join(parts), first


@contextmanager
def transaction(engine: Engine) -> Iterator[Trips]:
    """A transaction on a pooled connection: committed by the caller's last send(commit=True), rolled back when
    the block raises or ends without it."""
    raw = engine.raw_connection()
    try:
        connection: Any = raw.driver_connection
        connection.autocommit = True
        trips = Trips(psycopg.ClientCursor(connection))
        try:
            yield trips
        finally:
            try:
                connection.rollback()  # nothing to do after COMMIT; else ends what was begun
                connection.autocommit = False
            except psycopg.Error:  # broken: never back into the pool (nor in autocommit)
                raw.invalidate()
    finally:
        raw.close()
