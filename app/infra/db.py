"""Engine, sessions and migrations.

SQLite runs in WAL mode and every transaction starts with BEGIN IMMEDIATE, so concurrent
writers queue on the busy timeout instead of failing on a lock upgrade.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from app import package_files

READ_ONLY = 'runboard_read_only'
ONE_STATEMENT = 'runboard_one_statement'
SNAPSHOT = 'runboard_snapshot'


def is_sqlite(url: str) -> bool:
    return url.startswith('sqlite')


def _sqlite_datetime(moment: datetime) -> str:
    """Datetimes bound in raw SQL are stored exactly as the ORM stores them (naive UTC, microseconds),
    so one column never holds two formats."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime('%Y-%m-%d %H:%M:%S.%f')


def _private_database_file(path: Path) -> None:
    """The SQLite file is its owner's alone (0600; SQLite gives its -wal and -shm files the same mode), in a
    directory made 0700 when this creates it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(0o600)


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    if is_sqlite(url):
        sqlite3.register_adapter(datetime, _sqlite_datetime)
        path = url.split(':///', 1)[-1]
        if path and path != ':memory:':
            _private_database_file(Path(path))
        engine = create_engine(
            url, connect_args={'check_same_thread': False, 'timeout': 30}, pool_size=pool_size, max_overflow=20
        )

        @event.listens_for(engine, 'connect')
        def _sqlite_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute('PRAGMA journal_mode=WAL')
            cur.execute('PRAGMA synchronous=NORMAL')
            cur.execute('PRAGMA foreign_keys=ON')
            cur.execute('PRAGMA busy_timeout=30000')
            cur.close()

        @event.listens_for(engine, 'begin')
        def _sqlite_begin(conn: Connection) -> None:
            # Readers (see read_only) must not queue behind writers: WAL lets them read a snapshot. A lone
            # statement (see one_statement) needs no transaction around it: SQLite makes it atomic by itself.
            # Sent on the driver's connection: SQLAlchemy's execute path around it cost as much as a statement.
            options = conn.get_execution_options()
            if not options.get(ONE_STATEMENT):
                driver = conn.connection.driver_connection
                assert driver is not None  # a checked-out connection
                driver.execute('BEGIN' if options.get(READ_ONLY) else 'BEGIN IMMEDIATE')

        return engine
    if url.startswith('postgresql://'):
        url = 'postgresql+psycopg://' + url[len('postgresql://') :]
    # PostgreSQL serves several instances (and their tests) from max_connections=100: stay modest per engine;
    # a server that does not answer fails a connect in seconds (503, or a clear exit at start), not minutes
    engine = create_engine(url, pool_size=min(pool_size, 8), max_overflow=12, connect_args={'connect_timeout': 5})
    _ping_idle_connections(engine)
    return engine


IDLE_PING_SECONDS = 1.0


def needs_ping(checked_in_at: float | None, now: float, threshold: float = IDLE_PING_SECONDS) -> bool:
    """Whether a pooled connection is pinged before it is handed out: when it sat idle in the pool for
    `threshold` seconds or more (PostgreSQL may have restarted, or dropped it, meanwhile). A connection in
    steady use is not: a ping is a round trip, which under load cost more client CPU than any statement of
    an admission (bench/team.py). A new connection (never checked in) has just answered."""
    return checked_in_at is not None and now - checked_in_at >= threshold


def _ping_idle_connections(engine: Engine) -> None:
    """pool_pre_ping for the connections needs_ping names. A failed ping drops the connection and the pool
    hands out another (SQLAlchemy retries a checkout that raises DisconnectionError)."""

    @event.listens_for(engine, 'checkin')
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info['checked_in_at'] = time.monotonic()

    @event.listens_for(engine, 'checkout')
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if not needs_ping(record.info.get('checked_in_at'), time.monotonic()):
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError('the connection did not answer a ping')


def read_only(engine: Engine) -> Engine:
    """The same engine for reads: on SQLite its transactions start deferred, not IMMEDIATE."""
    return _with_options(engine, READ_ONLY)


def one_statement(engine: Engine) -> Engine:
    """The same engine for a connection that reads with one statement: on SQLite it opens no transaction (the
    statement is one by itself, and waits for no writer); elsewhere, as read_only."""
    return _with_options(engine, ONE_STATEMENT)


def snapshot(engine: Engine) -> Engine:
    """The same engine for a read of several statements that must agree with each other (a run, its usage and its
    log: a run that ends between them must not show `running` beside its final line). SQLite: a deferred BEGIN,
    whose WAL snapshot is taken at the first read. PostgreSQL: REPEATABLE READ (READ COMMITTED, the default, sees
    each statement's own moment), sent with the BEGIN itself."""
    return _with_options(engine, SNAPSHOT)


_OPTIONS = {
    READ_ONLY: {READ_ONLY: True},
    ONE_STATEMENT: {READ_ONLY: True, ONE_STATEMENT: True},
    SNAPSHOT: {READ_ONLY: True},
}


def _with_options(engine: Engine, name: str) -> Engine:
    """The engine with these options, made once per engine: making one copies the dialect's option handling, which
    a follower reading many times a second paid on every read (bench/fanout.py)."""
    made: dict[str, Engine] = engine.__dict__.setdefault('_runboard_option_engines', {})
    if name not in made:
        options: dict[str, Any] = dict(_OPTIONS[name])
        if name == SNAPSHOT and not is_sqlite(str(engine.url)):
            options['isolation_level'] = 'REPEATABLE READ'
        made[name] = engine.execution_options(**options)
    return made[name]


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


def compare_and_set(
    session: Session, table: Table, row_id: str, version: str, read: int | None, **values: Any
) -> int | None:
    """In the session's transaction, write `values` to row `row_id` of `table` and move its `version` column on by one,
    only if the row is still at `read`: the version this write moved it to, or None (nothing written) when another
    change moved it first. Of two writers that read one version exactly one passes, whatever their timing: PostgreSQL
    re-checks the condition on the row the other committed, SQLite's writers queue (BEGIN IMMEDIATE). How an edit made
    on an older version is refused (409 edit_conflict) instead of undoing another's. `read` None: an edit that named
    no version, made on the row as it is when written (it always passes)."""
    where = [table.c.id == row_id] if read is None else [table.c.id == row_id, table.c[version] == read]
    moved = session.connection().execute(
        update(table).where(*where).values(**values, **{version: table.c[version] + 1}).returning(table.c[version])
    )
    return moved.scalar_one_or_none()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option('script_location', str(package_files.migrations_dir()))
    cfg.attributes['engine'] = engine
    return cfg


MIGRATION_LOCK_ID = 727002


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """A lock that servers and workers starting together take one after the other, held while they migrate and
    seed (container.py): on PostgreSQL an advisory lock; on SQLite an exclusive flock on a file beside the database.
    SQLite's one-writer-at-a-time is not enough: Alembic commits after each migration there (no transactional DDL),
    so a second instance that read the version between two of the first's migrations ran them again ("duplicate
    column name"). Not reentrant: take it once, then call `migrate`."""
    if is_sqlite(str(engine.url)):
        database = engine.url.database
        if not database or database == ':memory:':
            yield
            return
        with open(f'{database}.startup-lock', 'a') as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as lock:
        lock.execute(text(f'SELECT pg_advisory_lock({MIGRATION_LOCK_ID})'))
        try:
            yield
        finally:
            lock.execute(text(f'SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})'))


@cache
def migration_heads() -> frozenset[str]:
    """The revisions the migrations end at, read from the migration scripts once a process."""
    return frozenset(ScriptDirectory(str(package_files.migrations_dir())).get_heads())


def at_head(engine: Engine) -> bool:
    """The database has every migration: one query instead of Alembic's load of every migration script."""
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads()) == migration_heads()


def migrate(engine: Engine) -> None:
    """Apply all migrations (idempotent), for a caller that holds `startup_lock`."""
    if not at_head(engine):
        command.upgrade(alembic_config(engine), 'head')


def upgrade(engine: Engine) -> None:
    """Apply all migrations (idempotent), one instance after the other (startup_lock)."""
    with startup_lock(engine):
        migrate(engine)


class StartupError(RuntimeError):
    """The database cannot be used: the process must not start serving."""


def advisory_lock_id(name: str) -> int:
    """A stable signed 64-bit PostgreSQL advisory-lock id for a name (the same on every server)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], 'big', signed=True)


def masked(url: str) -> str:
    """The URL for a log line or a message: its password replaced by ***."""

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not even a URL: say so without echoing it
        return '(an unparsable database URL)'


def preflight(url: str) -> None:
    """Before serving: the database answers and takes the migrations, else StartupError (one line)."""
    engine = make_engine(url, pool_size=1)
    try:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql('SELECT 1')
        except Exception as exc:  # noqa: BLE001 - whatever the driver says, it is one line for a person
            raise StartupError(f'the database does not answer at {masked(url)}: {_first_line(exc)}') from None
        try:
            upgrade(engine)
        except Exception as exc:  # noqa: BLE001
            raise StartupError(f'the database at {masked(url)} could not be migrated: {_first_line(exc)}') from None
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, 'orig', None) or exc
    text = str(orig).strip().splitlines()
    return (text[0] if text else type(orig).__name__)[:300]


def dispose(engine: Engine) -> None:
    engine.dispose()


__all__ = ['make_engine', 'read_only', 'one_statement', 'session_scope', 'upgrade', 'dispose', 'is_sqlite', 'NullPool']


def insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str] | None = None) -> int:
    """INSERT ... ON CONFLICT DO NOTHING (on `keys`' unique index, else on any): the rows not there yet; how many
    this call inserted."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == 'postgresql' else sqlite
    return conn.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=keys), rows).rowcount
