"""When a running run has lost the instance that executes it (recovery then ends it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.execution.liveness import is_orphaned

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STALE_BEFORE = NOW - timedelta(seconds=15)
FRESH, OLD = NOW - timedelta(seconds=2), NOW - timedelta(seconds=60)


@pytest.mark.parametrize(
    'owner, live_here, heartbeat, owner_dead, orphaned',
    [
        ('me', True, FRESH, False, False),  # ours and running here
        ('me', False, FRESH, False, True),  # ours on paper, no process here (we restarted)
        ('me', False, None, False, True),
        ('other', False, FRESH, False, False),  # another live instance's run
        ('other', False, OLD, False, True),  # silent for three heartbeats
        ('other', False, None, False, True),  # never beat
        ('other', False, FRESH, True, True),  # its process is gone (same machine)
        (None, False, FRESH, False, False),
    ],
)
def test_is_orphaned(
    owner: str | None, live_here: bool, heartbeat: datetime | None, owner_dead: bool, orphaned: bool
) -> None:
    assert (
        is_orphaned(
            owner=owner,
            me='me',
            live_here=live_here,
            heartbeat=heartbeat,
            stale_before=STALE_BEFORE,
            owner_process_dead=owner_dead,
        )
        is orphaned
    )
