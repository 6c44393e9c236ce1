"""The Run form's quota banner as the page shows it (its reset in UTC) and when the quota is read again (tables)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.state.run_form import quota_banner, quota_stale

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def quota(remaining: int, limit: int = 20, resets_in: int | None = 90, zone: timezone = UTC) -> dict:
    resets = (NOW + timedelta(seconds=resets_in)).astimezone(zone).isoformat() if resets_in is not None else None
    return {'limit': limit, 'remaining': remaining, 'window_seconds': 600, 'resets_at': resets}


@pytest.mark.parametrize(
    ('value', 'text'),
    [
        (
            quota(2),
            'You are close to your run limit. 2 runs remaining in the current window '
            '(resets at 2026-01-01 12:01:30 UTC).',
        ),
        # the server answered in another zone: said in UTC all the same
        (
            quota(1, limit=10, zone=timezone(timedelta(hours=5))),
            'You are close to your run limit. 1 run remaining in the current window '
            '(resets at 2026-01-01 12:01:30 UTC).',
        ),
        (
            quota(1, limit=10, resets_in=None),
            'You are close to your run limit. 1 run remaining in the current window (resets at the end of the window).',
        ),
        (quota(0, resets_in=7), 'Quota exhausted — next window opens in 7 s.'),
        (quota(3), None),
        (None, None),
    ],
)
def test_the_banner_says_the_reset_in_utc(value: dict | None, text: str | None) -> None:
    banner = quota_banner(value, NOW)
    assert (banner.text if banner else None) == text


@pytest.mark.parametrize(
    ('value', 'later', 'read_ago', 'stale'),
    [
        (quota(2, resets_in=30), 29, 5.0, False),  # amber, its window not reset yet
        (quota(2, resets_in=30), 31, 5.0, True),  # amber, reset: read again (it said "2 left" for good before)
        (quota(2, resets_in=30), 31, 0.5, False),  # just read: not again within the second
        (quota(2, resets_in=None), 31, 5.0, False),  # amber naming no moment: nothing to wait for
        (quota(0, resets_in=30), 29, 5.0, False),  # red, counting down
        (quota(0, resets_in=30), 31, 5.0, True),  # red, the window opened
        (quota(5, resets_in=30), 31, 5.0, False),  # no banner
        (None, 31, 5.0, False),
    ],
)
def test_the_quota_is_read_again_once_its_window_reset(
    value: dict | None, later: int, read_ago: float, stale: bool
) -> None:
    assert quota_stale(value, NOW + timedelta(seconds=later), read_ago) is stale
