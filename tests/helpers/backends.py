"""The real backends tests run on: local (SQLite file, in-process limiter and bus) and team
(PostgreSQL + Redis on 127.0.0.1). Team cases skip on a laptop without them, and fail in CI.

A test's database starts as the migrations leave an empty one (`migrated=True`): each test process migrates one
database with the real migrations once, and each test gets a copy of it (the SQLite file; for PostgreSQL the
pg_dump of that schema replayed into the test's own). Migrating from nothing took a test 0.3 s of SQLite and
1-2 s of PostgreSQL, a third of a short API test, hundreds of times a suite. The tests of migrating itself ask for
an empty database (`fresh_database` marker, or `migrated=False`)."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from app.config import Settings
from app.infra.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get('RUNBOARD_TEST_PG', 'postgresql+psycopg://postgres@127.0.0.1:5432/test')
REDIS_URL = os.environ.get('RUNBOARD_TEST_REDIS', 'redis://127.0.0.1:6379/0')
BACKENDS = ['local', 'team']


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_team_services() -> None:
    missing = [name for name, port in (('PostgreSQL', 5432), ('Redis', 6379)) if not _answers('127.0.0.1', port)]
    if missing:
        message = f'{" and ".join(missing)} not answering on 127.0.0.1'
        if os.environ.get('CI'):
            pytest.fail(message + ' (CI must run every backend)')
        pytest.skip(message)


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername='postgresql', query={}).render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    with psycopg.connect(_libpq_url(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(sql)


@cache
def _migrated_sqlite() -> Path:
    """This test process's migrated SQLite database."""
    folder = Path(tempfile.mkdtemp(prefix='rb-migrated-'))
    atexit.register(shutil.rmtree, folder, True)
    engine = make_engine(f'sqlite:///{folder / "runboard.db"}')
    upgrade(engine)
    engine.dispose()  # the last connection closing folds the write-ahead log into the file
    return folder / 'runboard.db'


PLACEHOLDER = 'rb_migrated_schema_placeholder'


@cache
def _migrated_pg_sql() -> str | None:
    """SQL that creates the schema named PLACEHOLDER as the migrations leave it: one schema migrated, dumped
    (pg_dump, the server's own client) and dropped, once a process. None when pg_dump cannot dump it (absent, or
    older than the server): then each schema is migrated, slower but the same."""
    schema = 'rbtmpl_' + uuid.uuid4().hex[:12]
    _admin(f'CREATE SCHEMA {schema}')
    try:
        engine = make_engine(f'{PG_ADMIN_URL}?options=-csearch_path%3D{schema}')
        upgrade(engine)
        engine.dispose()
        try:
            dump = subprocess.run(
                ['pg_dump', '--no-owner', '--no-privileges', '--inserts', '-n', schema, _libpq_url(PG_ADMIN_URL)],
                capture_output=True,
                text=True,
            )
        except FileNotFoundError:
            dump = subprocess.CompletedProcess([], 127, '', 'pg_dump is not installed (postgresql-client)')
    finally:
        _admin(f'DROP SCHEMA IF EXISTS {schema} CASCADE')
    if dump.returncode != 0:
        warnings.warn(f'each test migrates its own schema: {dump.stderr.strip()}', stacklevel=2)
        return None
    # psql's own commands (\restrict since PostgreSQL 15.14) are not SQL
    lines = [line for line in dump.stdout.splitlines() if not line.startswith('\\')]
    return '\n'.join(lines).replace(schema, PLACEHOLDER)


@contextmanager
def pg_schema(*, migrated: bool = False) -> Iterator[str]:
    """A fresh schema in the `test` database, empty or as the migrations leave it; the URL pins search_path to it."""
    schema = 'rb_' + uuid.uuid4().hex[:12]
    url = f'{PG_ADMIN_URL}?options=-csearch_path%3D{schema}'
    copy = _migrated_pg_sql() if migrated else None
    _admin(copy.replace(PLACEHOLDER, schema) if copy else f'CREATE SCHEMA {schema}')
    if migrated and copy is None:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    try:
        yield url
    finally:
        _admin(f'DROP SCHEMA IF EXISTS {schema} CASCADE')


@contextmanager
def backend_settings(backend: str, data_dir: Path, *, migrated: bool = False, **overrides) -> Iterator[Settings]:  # noqa: ANN003
    """Settings for one test on one backend, its database empty or as the migrations leave it (`migrated`). Share
    the yielded database URL to model two servers."""
    # push_scan_local_seconds 0: the push tests scan when they ask (`scan_all`) and read what that scan admitted; a
    # test of the scan of path projects on their own turns it on
    base = dict(
        data_dir=data_dir, demo=False, heartbeat_seconds=1.0, kill_grace_seconds=1.0, push_scan_local_seconds=0.0
    )
    base.update(overrides)
    if backend == 'local':
        settings = Settings(**base)
        if migrated and not settings.database_url:
            settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_migrated_sqlite(), settings.sqlite_path)
        yield settings
        return
    require_team_services()
    # the suite's projects live in local repositories (tmp dirs) on every backend; team mode refuses those unless
    # RUNBOARD_ALLOW_LOCAL_REPOSITORIES says so (tests/api/test_local_repositories.py passes False to see that)
    # and the suite's clients use the bootstrap administrator's token (credentials.json), which a team server makes
    # only when RUNBOARD_LOCAL_ACCOUNT says so (tests/api/test_startup.py sees it off by default)
    base = {'allow_local_repositories': True, 'local_account': True, **base}
    with pg_schema(migrated=migrated) as url:
        prefix = 'rbtest:' + uuid.uuid4().hex[:10]
        yield Settings(**{**base, 'database_url': url, 'redis_url': REDIS_URL, 'redis_prefix': prefix})
        try:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f'{prefix}:*'):
                client.delete(key)
            client.close()
        except Exception:
            pass


def server_env(settings: Settings, **extra: str | None) -> dict[str, str | None]:
    """The environment that makes a `python main.py` subprocess use the same backend as `settings`."""
    env = {'RUNBOARD_DEMO': 'false'}
    if settings.database_url:
        env['RUNBOARD_DATABASE_URL'] = settings.database_url
    if settings.redis_url:
        env['RUNBOARD_REDIS_URL'] = settings.redis_url
        env['RUNBOARD_REDIS_PREFIX'] = settings.redis_prefix
    if settings.secret_key:  # a worker decrypts the projects' secrets with the server's key
        env['RUNBOARD_SECRET_KEY'] = settings.secret_key
    if settings.sandbox_read_only_paths:  # e.g. a test's gate files, which a sandboxed run waits for
        env['RUNBOARD_SANDBOX_READ_ONLY_PATHS'] = settings.sandbox_read_only_paths
    if settings.sandbox != 'auto':
        env['RUNBOARD_SANDBOX'] = settings.sandbox
    if settings.artifact_store:  # a worker keeps artifacts where the server reads them (docs/artifacts.md)
        env['RUNBOARD_ARTIFACT_STORE'] = settings.artifact_store
        env['RUNBOARD_ARTIFACT_STORE_OPTIONS'] = settings.artifact_store_options
    if settings.max_artifact_bytes != type(settings).model_fields['max_artifact_bytes'].default:
        env['RUNBOARD_MAX_ARTIFACT_BYTES'] = str(settings.max_artifact_bytes)
    if settings.allow_local_repositories:  # team mode on the suite's local repositories (backend_settings)
        env['RUNBOARD_ALLOW_LOCAL_REPOSITORIES'] = 'true'
    if settings.run_memory_max:  # a worker bounds its runs as the test's server would (docs/security.md)
        env['RUNBOARD_RUN_MEMORY_MAX'] = str(int(settings.run_memory_max))
    if settings.run_memory_max_allowed:
        env['RUNBOARD_RUN_MEMORY_MAX_ALLOWED'] = str(int(settings.run_memory_max_allowed))
    if settings.run_processes_max != type(settings).model_fields['run_processes_max'].default:
        env['RUNBOARD_RUN_PROCESSES_MAX'] = str(settings.run_processes_max)
    if settings.run_cpus:
        env['RUNBOARD_RUN_CPUS'] = str(settings.run_cpus)
    if settings.run_cpus_allowed:
        env['RUNBOARD_RUN_CPUS_ALLOWED'] = str(settings.run_cpus_allowed)
    if settings.local_account is not None:
        env['RUNBOARD_LOCAL_ACCOUNT'] = str(settings.local_account).lower()
    env.update(extra)
    return env
