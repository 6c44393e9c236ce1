"""Which workers the hourly sweep forgets (services/execution/workers.py `forgotten`): stopped, or lost, for longer
than RUNBOARD_WORKER_RETENTION_DAYS (0 keeps them for ever); never one that still owns a running run. And how runs
execute on the live workers, as /api/about says it under Celery (`fleet_confinement`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.execution.workers import LOST_AFTER_BEATS, Fleet, fleet_confinement, forgotten

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BEAT = 5.0  # seconds between heartbeats
LOST = timedelta(seconds=LOST_AFTER_BEATS * BEAT)  # silent this long: lost
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ('heartbeat_ago', 'stopped_ago', 'owns_running_runs', 'retention_days', 'expected'),
    [
        # stopped: forgotten once it has been stopped for longer than the retention
        (15 * DAY, 15 * DAY, False, 14, True),
        (14 * DAY + SECOND, 14 * DAY + SECOND, False, 14, True),
        (14 * DAY, 14 * DAY, False, 14, False),  # exactly the retention: not longer than it yet
        (20 * DAY, 13 * DAY, False, 14, False),  # the time since it stopped counts, not since its last beat
        (SECOND, SECOND, False, 14, False),  # stopped a moment ago
        # lost (silent for LOST_AFTER_BEATS beats): forgotten once it has been lost for longer than the retention
        (14 * DAY + LOST + SECOND, None, False, 14, True),
        (14 * DAY + SECOND, None, False, 14, False),  # silent 14 days, but lost only since three beats later
        (30 * DAY, None, False, 14, True),
        # live (beating) or draining: never, however long it has run
        (SECOND, None, False, 14, False),
        (LOST - SECOND, None, False, 0.00001, False),  # not lost yet, even with a tiny retention
        # a worker that still owns a running run: never (run recovery ends those runs first)
        (30 * DAY, 30 * DAY, True, 14, False),
        (30 * DAY, None, True, 14, False),
        # a retention of 0: kept for ever
        (365 * DAY, 365 * DAY, False, 0, False),
        (365 * DAY, None, False, 0, False),
        # another retention
        (2 * DAY, 2 * DAY, False, 1, True),
        (12 * 3600 * SECOND, 12 * 3600 * SECOND, False, 1, False),
    ],
)
def test_which_workers_are_forgotten(
    heartbeat_ago: timedelta,
    stopped_ago: timedelta | None,
    owns_running_runs: bool,
    retention_days: float,
    expected: bool,
) -> None:
    assert (
        forgotten(
            heartbeat_at=NOW - heartbeat_ago,
            stopped_at=None if stopped_ago is None else NOW - stopped_ago,
            owns_running_runs=owns_running_runs,
            now=NOW,
            heartbeat_seconds=BEAT,
            retention_days=retention_days,
        )
        is expected
    )


def test_naive_times_from_sqlite_are_utc() -> None:
    naive = (NOW - 15 * DAY).replace(tzinfo=None)
    kept = {'owns_running_runs': False, 'now': NOW, 'heartbeat_seconds': BEAT, 'retention_days': 14}
    assert forgotten(heartbeat_at=naive, stopped_at=naive, **kept)


SANDBOXED = {'sandbox': 'sandboxed', 'sandbox_warning': None, 'limits': '4096 processes', 'limits_warning': None}
BARE = {'sandbox': 'unsandboxed', 'sandbox_warning': 'runs are not sandboxed (off)', 'limits': 'none'}
REFUSING = {'sandbox': 'refused', 'sandbox_warning': 'bwrap cannot start', 'limits_warning': 'no cgroups'}


@pytest.mark.parametrize(
    ('live', 'expected'),
    [
        ([], None),  # no live worker: nothing to say
        ([('old@1', {})], None),  # a worker of an earlier version said nothing
        ([('a@1', SANDBOXED), ('b@1', SANDBOXED)], Fleet('sandboxed', None, None)),
        (
            [('a@1', SANDBOXED), ('b@1', BARE)],
            Fleet('unsandboxed', 'worker b@1: runs are not sandboxed (off)', None),
        ),
        (
            [('a@1', BARE), ('b@1', REFUSING), ('old@1', {})],
            Fleet(
                'refused',
                'worker a@1: runs are not sandboxed (off); worker b@1: bwrap cannot start',
                'worker b@1: no cgroups',
            ),
        ),
    ],
    ids=['none', 'earlier version', 'all sandboxed', 'one unsandboxed', 'the worst wins'],
)
def test_what_runs_on_the_workers_get(live: list, expected: Fleet | None) -> None:
    assert fleet_confinement(live) == expected
