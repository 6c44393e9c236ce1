"""A pooled PostgreSQL connection is pinged before use only after sitting idle (db.needs_ping)."""

from __future__ import annotations

import pytest

from app.infra.db import IDLE_PING_SECONDS, needs_ping


@pytest.mark.parametrize(
    ('checked_in_at', 'now', 'pinged'),
    [
        (None, 100.0, False),  # a new connection: it has just answered the connect
        (100.0, 100.0, False),  # handed straight back out, as under load
        (100.0, 100.0 + IDLE_PING_SECONDS / 2, False),  # in steady use
        (100.0, 100.0 + IDLE_PING_SECONDS, True),  # idle for the threshold: the server may have restarted
        (100.0, 100.0 + 3600, True),  # idle for an hour
    ],
)
def test_a_connection_is_pinged_only_after_sitting_idle(checked_in_at: float | None, now: float, pinged: bool) -> None:
    assert needs_ping(checked_in_at, now) is pinged
