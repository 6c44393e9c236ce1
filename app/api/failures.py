"""Which unexpected exceptions are not defects but outages or a full disk: the answer a client gets
instead of a 500 (`dependency_unavailable` 503 with Retry-After, `insufficient_storage` 507)."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import redis
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.core.errors import OUTAGE_RETRY_AFTER_SECONDS

PG_DISK_FULL = '53100'


@dataclass(frozen=True)
class Failure:
    status: int
    error: str
    detail: str
    extra: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__ or getattr(exc, 'orig', None)


def _disk_full(exc: BaseException) -> bool:
    for item in _chain(exc):
        if isinstance(item, OSError) and item.errno == errno.ENOSPC:
            return True
        if getattr(item, 'sqlstate', None) == PG_DISK_FULL:
            return True
        if 'database or disk is full' in str(item) or 'No space left on device' in str(item):
            return True
    return False


def _is_database_outage(exc: BaseException) -> bool:

    try:
        psycopg_errors: tuple = (psycopg.OperationalError, psycopg.InterfaceError)
    except ImportError:  # pragma: no cover - psycopg is a dependency
        psycopg_errors = ()
    return any(
        isinstance(item, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, *psycopg_errors))
        for item in _chain(exc)
    )


def _is_redis_outage(exc: BaseException) -> bool:

    return any(
        isinstance(item, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)) for item in _chain(exc)
    )


def _bad_input(exc: BaseException) -> str | None:
    """Input that reached a layer which cannot take it (an OS path, SQLite's 64-bit integers)."""
    for item in _chain(exc):
        if isinstance(item, OverflowError):
            return 'A number in the request is too large.'
        if isinstance(item, ValueError) and any(
            sign in str(item).lower() for sign in ('null byte', 'nul (0x00)', 'nul character')
        ):
            return 'The request contains a NUL character, which no field accepts.'
    return None


def failure_for(exc: BaseException) -> Failure | None:
    """Pure: the problem for an exception that is not a defect, or None (a real 500)."""
    retry = {'Retry-After': str(OUTAGE_RETRY_AFTER_SECONDS)}
    bad_input = _bad_input(exc)
    if bad_input:
        return Failure(422, 'validation', bad_input)
    if _disk_full(exc):
        return Failure(
            507,
            'insufficient_storage',
            "The server's disk is full, so nothing was stored. "
            'Free some space on the server (or ask its operator) and try again.',
        )
    if _is_redis_outage(exc):
        return Failure(
            503,
            'dependency_unavailable',
            'Redis is not answering; nothing was changed. Try again shortly.',
            {'dependency': 'redis'},
            retry,
        )
    if _is_database_outage(exc):
        return Failure(
            503,
            'dependency_unavailable',
            'The database is not answering (or is busy); nothing was changed. Try again shortly.',
            {'dependency': 'database'},
            retry,
        )
    return None
