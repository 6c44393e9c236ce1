"""A PostgreSQL transaction in few round trips: BEGIN goes with the first statements, COMMIT with the last.

Each statement sent on its own costs a round trip, and psycopg spends about as much client CPU on one as
PostgreSQL spends running it. Several statements bound on the client and sent as one simple query run in
order, each with its own snapshot (READ COMMITTED), so a statement after one that takes a lock still sees
what the lock's previous holder committed. Used by the team-mode admission (services/admission_write.py):
BEGIN, the key claim with the repository lock, the repository's facts and the key's row, in one trip; the
run's write and COMMIT in a second.

Each statement is sent as EXECUTE of a statement prepared on that connection (PREPARE goes in the same trip
on its first use): sent as text, PostgreSQL would plan it every time, about 1 ms of its CPU for the repository
facts alone. PREPARE is not transactional, so after a trip that prepared something fails, the connection is
retired rather than guessed about.

The connection is in autocommit while it is used this way (psycopg would otherwise send a BEGIN of its own
first) and back to psycopg's default before it returns to the pool.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from sqlalchemy import Engine

Statement = tuple[str, dict[str, Any] | None]
TUPLES_OK = ExecStatus.TUPLES_OK
_PLACEHOLDER = re.compile(r'%\((\w+)\)s')


@dataclass(frozen=True)
class Result:
    rowcount: int
    rows: list[tuple[Any, ...]]  # empty for a statement that returns no rows


class Trips:
    """The open transaction; `cursor` is a psycopg ClientCursor on it, for statements sent one by one.
    `prepared`: the names of the statements this connection has prepared (PostgreSQL keeps them per session)."""

    def __init__(self, cursor: Any, prepared: set[str]) -> None:
        self.cursor = cursor
        self.prepared = prepared
        self.unsure = False  # a send that prepared statements failed: which of them exist is not known
        self._begun = False

    def send(self, statements: Sequence[Statement], *, commit: bool = False) -> list[Result]:
        """The statements in one round trip (after BEGIN, on the first call), with COMMIT after them when
        `commit`. Raises what the first failing statement raises; the transaction is then to be rolled back.

        Each statement runs as a prepared one (EXECUTE), prepared on its first use on this connection in the
        same trip, ahead of everything else: PostgreSQL plans a statement sent as text every time, and the
        repository facts alone took about 1 ms of its CPU to plan."""
        cursor = self.cursor
        forms = [prepared_form(sql) for sql, _ in statements]
        new = [form for form in forms if form.name not in self.prepared]
        parts = [form.statement for form in new]  # not transactional: a PREPARE stays, whatever comes after
        if not self._begun:
            parts.append('BEGIN')
        parts += [form.execute(cursor, params) for form, (_, params) in zip(forms, statements, strict=True)]
        if commit:
            parts.append('COMMIT')
        try:
            cursor.execute('; '.join(parts))  # no parameters: the text is sent as it is, % and all
        except BaseException:
            self.unsure = bool(new)
            raise
        self.prepared.update(form.name for form in new)
        for _ in range(len(new) + (0 if self._begun else 1)):
            cursor.nextset()  # PREPARE and BEGIN answer no rows
        self._begun = True
        results = []
        for _ in statements:
            returned_rows = cursor.pgresult is not None and cursor.pgresult.status == TUPLES_OK
            results.append(Result(cursor.rowcount, cursor.fetchall() if returned_rows else []))  # (not .description:
            cursor.nextset()  # it builds a Column per column, a tenth of an admission's CPU)
        return results

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """One statement on its own (a slow path), inside the transaction."""
        if not self._begun:
            self.send([])
        self.cursor.execute(sql, params)
        return self.cursor


@contextmanager
def transaction(engine: Engine) -> Iterator[Trips]:
    """A transaction on a pooled connection: committed by the caller's last send(commit=True), rolled back when
    the block raises or ends without it."""
    raw = engine.raw_connection()
    try:
        connection: Any = raw.driver_connection
        connection.autocommit = True
        trips = Trips(psycopg.ClientCursor(connection), raw.info.setdefault('runboard_prepared', set()))
        try:
            yield trips
        finally:
            try:
                connection.rollback()  # nothing to do after COMMIT; else ends what was begun
                connection.autocommit = False
                if trips.unsure:
                    raw.invalidate()  # rare (a failure on a connection's first use): a new one knows its state
            except psycopg.Error:  # broken: never back into the pool (nor in autocommit)
                raw.invalidate()
    finally:
        raw.close()


@dataclass(frozen=True)
class PreparedForm:
    name: str
    names: tuple[str, ...]  # the parameters, in the order of $1, $2, ...
    statement: str  # PREPARE name AS ...

    def execute(self, cursor: Any, params: dict[str, Any] | None) -> str:
        """EXECUTE with the parameters bound on the client."""
        if not self.names:
            return f'EXECUTE {self.name}'
        values = [(params or {})[name] for name in self.names]
        return str(cursor.mogrify(f'EXECUTE {self.name}({", ".join(["%s"] * len(values))})', values))


@functools.lru_cache(maxsize=128)
def prepared_form(sql: str) -> PreparedForm:
    """The statement with its %(name)s parameters numbered in order of first use, under a name derived from
    its text (so every connection and every server gives it the same one)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f'${names.index(match.group(1)) + 1}'

    body = _PLACEHOLDER.sub(number, sql)
    name = 'rb_' + hashlib.sha256(sql.encode()).hexdigest()[:20]
    return PreparedForm(name, tuple(names), f'PREPARE {name} AS {body}')
