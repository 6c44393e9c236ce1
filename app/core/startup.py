"""Start-up is all or nothing (issue 41). Each step runs under `step(name)`: a step that raises becomes
StartupFailed, whose `line` is the one line a person reads when the process exits (app/server.py). Whether the
started parts are ready (`not_ready`) is decided here too, from what /api/health/ready observed.

Races between instances that start together are decided by the database: the migrations and the seeding
(local account, demo project) run under one PostgreSQL advisory lock (db.startup_lock), and every row they
create is inserted with ON CONFLICT DO NOTHING, so the loser carries on with what the winner made."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

LINE_LIMIT = 300
_URL_PASSWORD = re.compile(r'(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@', re.IGNORECASE)


class StartupFailed(RuntimeError):
    """A start-up step raised: the process must not serve."""

    def __init__(self, step: str, cause: BaseException) -> None:
        self.step, self.cause = step, cause
        super().__init__(failure_line(step, cause))

    @property
    def line(self) -> str:
        return str(self)


@contextmanager
def step(name: str) -> Iterator[None]:
    """One named part of start-up; what it raises is reported as that part's failure (a failure already
    named by an inner step keeps its name)."""
    try:
        yield
    except StartupFailed:
        raise
    except Exception as exc:
        raise StartupFailed(name, exc) from exc


def failure_line(step: str, cause: BaseException) -> str:
    """Pure: '<step> failed: <the first line of what it raised>', passwords in URLs masked, one line, bounded."""
    orig = getattr(cause, 'orig', None) or cause  # SQLAlchemy wraps the driver's error
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    detail = _URL_PASSWORD.sub(r'\g<scheme>\g<user>:***@', lines[0]) if lines else ''
    said = f'{type(orig).__name__}: {detail}' if detail else type(orig).__name__
    return f'{step} failed: {said}'[:LINE_LIMIT]


def not_ready(checks: Mapping[str, str | None]) -> list[str]:
    """Pure: the parts that are not ready, in the order checked (a check is None when its part is ready,
    else what is wrong with it)."""
    return [name for name, failure in checks.items() if failure is not None]


def settings_line(errors: list[dict[str, Any]]) -> str:
    """Pure: pydantic's errors about the settings as one line naming each variable, e.g.
    "invalid settings: RUNBOARD_EXECUTOR: Input should be 'local' or 'celery'"."""
    said = []
    for error in errors:
        location = '.'.join(str(part) for part in error.get('loc', ()) if part != '__root__')
        name = f'RUNBOARD_{location.upper()}' if location else 'the settings'
        said.append(f'{name}: {" ".join(str(error.get("msg", "invalid")).split())}')
    return ('invalid settings: ' + '; '.join(said or ['invalid']))[:LINE_LIMIT]


LOOPBACK = ('127.0.0.1', 'localhost', '::1')
EVERY_ADDRESS = ('0.0.0.0', '::', '')


def remote_is_itself(server: str | None, *, host: str, port: int) -> str | None:
    """Pure: why a process told to serve only the UI of the API at `server` would talk to itself (`server`, often an
    exported RUNBOARD_SERVER meant for the CLI, names the address this process listens on), else None. Such a
    process answers every /api path with 404 and never runs anything."""
    if not server:
        return None
    parts = urlsplit(server)
    try:
        their_port = parts.port or (443 if parts.scheme == 'https' else 80)
    except ValueError:
        return None
    theirs = (parts.hostname or '').lower()
    same_host = theirs == host.lower() or (theirs in LOOPBACK and (host in EVERY_ADDRESS or host in LOOPBACK))
    if not same_host or their_port != port:
        return None
    return (
        f"RUNBOARD_SERVER (or --server) is {server}, this process's own address: it would serve a UI of itself and no "
        'API. Unset RUNBOARD_SERVER to host the API here (it is for the CLI, and for a UI-only process of another '
        'server)'
    )
