"""DBAPI-level transactions for the run-admission hot path.

SQLAlchemy's execution machinery costs more CPU per statement than SQLite spends running it; the
trigger path runs a handful of fixed statements per request, so it talks to the pooled DBAPI
connection directly. Statements are written once with :name parameters and adapted per driver;
times are stored exactly as SQLAlchemy's DateTime stores them, so every other reader sees the same rows.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event

from app.infra import no_wait
from app.infra.db import is_sqlite

_PARAM = re.compile(r'(?<![:\w]):(\w+)')


class RawDB:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(str(engine.url))
        dbapi = engine.dialect.dbapi
        if dbapi is None:
            raise RuntimeError(f'no DBAPI module for {engine.url.drivername}')
        self.integrity_errors: tuple[type[BaseException], ...] = (dbapi.IntegrityError,)
        self.data_errors: tuple[type[BaseException], ...] = (dbapi.DataError,)
        self._busy_errors: tuple[type[BaseException], ...] = (dbapi.OperationalError,)
        # PostgreSQL gave up a transaction to break a deadlock (or a serialization failure): run it again
        self.retry_errors: tuple[type[BaseException], ...] = tuple(
            error for error in (getattr(getattr(dbapi, 'errors', None), 'TransactionRollback', None),) if error
        )
        self._own: Any = None  # the connection no-wait calls use (SQLite only): never waits for the pool or a lock
        self._own_lock = threading.Lock()
        event.listen(engine, 'engine_disposed', lambda _engine: self.close())  # renewed like the pool's

    def sql(self, statement: str) -> str:
        """A statement with :name parameters, in the driver's parameter style."""
        return statement if self.sqlite else _PARAM.sub(r'%(\1)s', statement)

    def ts(self, moment: datetime) -> Any:
        """A UTC time as a parameter: SQLite gets SQLAlchemy's DateTime text, PostgreSQL the object."""
        if self.sqlite:
            return moment.astimezone(UTC).replace(tzinfo=None).isoformat(' ', 'microseconds')  # strftime: 4x the CPU
        return moment

    @staticmethod
    def read_ts(value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction (BEGIN IMMEDIATE on SQLite): commit on success, roll back on error."""
        if no_wait.active():
            yield from self._transaction_without_waiting()
            return
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if self.sqlite:
                cursor.execute('BEGIN IMMEDIATE')
            try:
                yield cursor
            except BaseException:
                raw.rollback()
                raise
            raw.commit()
        finally:
            raw.close()

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """Reads outside any write lock (SQLite autocommit reads see the last committed state)."""
        if no_wait.active():  # a WAL read never waits for a writer
            with self._own_connection() as own:
                yield own.cursor()
            return
        raw = self.engine.raw_connection()
        try:
            yield raw.cursor()
            if not self.sqlite:
                raw.rollback()
        finally:
            raw.close()

    def close(self) -> None:
        with self._own_lock:
            if self._own is not None:
                self._own.close()
                self._own = None

    def _transaction_without_waiting(self) -> Iterator[Any]:
        """BEGIN IMMEDIATE that gives up (no_wait.WouldWait) when another connection holds the write lock."""
        with self._own_connection() as own:
            cursor = own.cursor()
            try:
                cursor.execute('BEGIN IMMEDIATE')
            except self._busy_errors:
                raise no_wait.WouldWait(busy=True) from None
            try:
                yield cursor
            except BaseException:
                own.rollback()
                raise
            own.commit()

    @contextmanager
    def _own_connection(self) -> Iterator[Any]:
        if not self.sqlite:
            raise no_wait.WouldWait()
        if not self._own_lock.acquire(blocking=False):
            raise no_wait.WouldWait(busy=True)
        try:
            if self._own is None:
                pooled = self.engine.raw_connection()  # set up as every pooled connection is (app/infra/db.py)
                pooled.detach()  # then kept out of the pool for good
                own = pooled.dbapi_connection
                if own is None:
                    raise RuntimeError('the pool gave no connection')
                own.execute('PRAGMA busy_timeout=0')
                self._own = own
            yield self._own
        finally:
            self._own_lock.release()
