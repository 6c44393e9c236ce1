"""Engine, sessions and migrations.

SQLite runs in WAL mode and every transaction starts with BEGIN IMMEDIATE, so concurrent
writers queue on the busy timeout instead of failing on a lock upgrade.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).parent / 'migrations'
READ_ONLY = 'runboard_read_only'


def is_sqlite(url: str) -> bool:
    return url.startswith('sqlite')


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    if is_sqlite(url):
        path = url.split(':///', 1)[-1]
        if path and path != ':memory:':
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={'check_same_thread': False, 'timeout': 30},
                               pool_size=pool_size, max_overflow=20)

        @event.listens_for(engine, 'connect')
        def _sqlite_connect(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute('PRAGMA journal_mode=WAL')
            cur.execute('PRAGMA synchronous=NORMAL')
            cur.execute('PRAGMA foreign_keys=ON')
            cur.execute('PRAGMA busy_timeout=30000')
            cur.close()

        @event.listens_for(engine, 'begin')
        def _sqlite_begin(conn):  # noqa: ANN001
            # Readers (see read_only) must not queue behind writers: WAL lets them read a snapshot.
            conn.exec_driver_sql('BEGIN' if conn.get_execution_options().get(READ_ONLY) else 'BEGIN IMMEDIATE')

        return engine
    if url.startswith('postgresql://'):
        url = 'postgresql+psycopg://' + url[len('postgresql://'):]
    # PostgreSQL serves several instances (and their tests) from max_connections=100: stay modest per engine
    return create_engine(url, pool_size=min(pool_size, 8), max_overflow=12, pool_pre_ping=True)


def read_only(engine: Engine) -> Engine:
    """The same engine for reads: on SQLite its transactions start deferred, not IMMEDIATE."""
    return engine.execution_options(**{READ_ONLY: True})


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option('script_location', str(MIGRATIONS_DIR))
    cfg.attributes['engine'] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply all migrations (idempotent)."""
    command.upgrade(alembic_config(engine), 'head')


def dispose(engine: Engine) -> None:
    engine.dispose()


__all__ = ['make_engine', 'read_only', 'session_scope', 'upgrade', 'dispose', 'is_sqlite', 'NullPool']
