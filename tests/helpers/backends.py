"""The real backends tests run on: local (SQLite file, in-process limiter and bus) and team
(PostgreSQL + Redis on 127.0.0.1). Team cases skip on a laptop without them, and fail in CI."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.config import Settings

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


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema in the `test` database; the URL pins search_path to it."""
    schema = 'rb_' + uuid.uuid4().hex[:12]
    admin = create_engine(PG_ADMIN_URL, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA {schema}'))
    try:
        yield f'{PG_ADMIN_URL}?options=-csearch_path%3D{schema}'
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS {schema} CASCADE'))
        admin.dispose()


@contextmanager
def backend_settings(backend: str, data_dir: Path, **overrides) -> Iterator[Settings]:  # noqa: ANN003
    """Settings for one test on one backend. Share the yielded database URL to model two servers."""
    base = dict(data_dir=data_dir, demo=False, heartbeat_seconds=1.0, kill_grace_seconds=1.0)
    base.update(overrides)
    if backend == 'local':
        yield Settings(**base)
        return
    require_team_services()
    # the suite's projects live in local repositories (tmp dirs) on every backend; team mode refuses those unless
    # RUNBOARD_ALLOW_LOCAL_REPOSITORIES says so (tests/api/test_local_repositories.py passes False to see that)
    base = {'allow_local_repositories': True, **base}
    with pg_schema() as url:
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


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
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
    env.update(extra)
    return env
