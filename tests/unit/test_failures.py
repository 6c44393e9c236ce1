"""Which exceptions are outages or a full disk (503 / 507), not defects (500)."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
import pytest
import redis
from sqlalchemy.exc import IntegrityError, OperationalError

from app.api.failures import failure_for


class _DiskFull(psycopg.errors.DiskFull):
    pass


def _wrapped(orig: BaseException) -> OperationalError:
    return OperationalError('INSERT ...', {}, orig)


@pytest.mark.parametrize(
    'exc, status, error, dependency',
    [
        (_wrapped(sqlite3.OperationalError('database or disk is full')), 507, 'insufficient_storage', None),
        (OSError(errno.ENOSPC, 'No space left on device'), 507, 'insufficient_storage', None),
        (_wrapped(_DiskFull('could not extend file: No space left on device')), 507, 'insufficient_storage', None),
        (_wrapped(psycopg.OperationalError('connection refused')), 503, 'dependency_unavailable', 'database'),
        (_wrapped(sqlite3.OperationalError('database is locked')), 503, 'dependency_unavailable', 'database'),
        (
            psycopg.OperationalError('server closed the connection unexpectedly'),
            503,
            'dependency_unavailable',
            'database',
        ),
        (redis.exceptions.ConnectionError('Error 111 connecting'), 503, 'dependency_unavailable', 'redis'),
        (redis.exceptions.TimeoutError('Timeout reading'), 503, 'dependency_unavailable', 'redis'),
        (OverflowError('Python int too large to convert to SQLite INTEGER'), 422, 'validation', None),
        (ValueError('embedded null byte'), 422, 'validation', None),
        (ValueError('A string literal cannot contain NUL (0x00) characters.'), 422, 'validation', None),
        (ValueError('a defect'), None, None, None),
        (KeyError('x'), None, None, None),
        (IntegrityError('INSERT', {}, sqlite3.IntegrityError('UNIQUE')), None, None, None),
    ],
)
def test_failure_for(exc: BaseException, status: int | None, error: str | None, dependency: str | None) -> None:
    failure = failure_for(exc)
    if status is None:
        assert failure is None
        return
    assert (failure.status, failure.error, failure.extra.get('dependency')) == (status, error, dependency)
    assert ('Retry-After' in failure.headers) is (status == 503)
