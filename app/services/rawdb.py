"""DBAPI-level transactions for the run-admission hot path.

SQLAlchemy's execution machinery costs more CPU per statement than SQLite spends running it; the
trigger path runs a handful of fixed statements per request, so it talks to the pooled DBAPI
connection directly. Statements are written once with :name parameters and adapted per driver;
times are stored exactly as SQLAlchemy's DateTime stores them, so every other reader sees the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from app.db import is_sqlite

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

    def sql(self, statement: str) -> str:
        """A statement with :name parameters, in the driver's parameter style."""
        return statement if self.sqlite else _PARAM.sub(r'%(\1)s', statement)

    def ts(self, moment: datetime) -> Any:
        """A UTC time as a parameter: SQLite gets SQLAlchemy's DateTime text, PostgreSQL the object."""
        if self.sqlite:
            return moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')
        return moment

    @staticmethod
    def read_ts(value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction (BEGIN IMMEDIATE on SQLite): commit on success, roll back on error."""
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
        raw = self.engine.raw_connection()
        try:
            yield raw.cursor()
            if not self.sqlite:
                raw.rollback()
        finally:
            raw.close()
