"""The run history's pure rules as tables: outcomes and the success rate, the window's days in a UTC offset,
the zero-filled day series, durations, and the bounds a direct caller gets as 422."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.core.errors import DomainError
from app.services.runs.history import check_bounds, day_series, day_starts, duration_seconds, outcomes


@pytest.mark.parametrize(
    ('by_status', 'expected'),
    [
        ({}, (0, 0, 0, 0, None)),  # nothing finished: no rate, not 0 %
        ({'succeeded': 3}, (3, 3, 0, 0, 1.0)),
        ({'succeeded': 3, 'failed': 1}, (4, 3, 1, 0, 0.75)),
        ({'timed_out': 1, 'crashed': 1, 'failed': 1}, (3, 0, 3, 0, 0.0)),  # all three are failures
        ({'succeeded': 1, 'stopped': 5}, (6, 1, 0, 5, 1.0)),  # a person's Stop is no verdict
        ({'stopped': 2}, (2, 0, 0, 2, None)),
        ({'succeeded': 2, 'failed': 1}, (3, 2, 1, 0, 0.6667)),  # rounded to 4 places
    ],
)
def test_outcomes_and_success_rate(by_status: dict[str, int], expected: tuple) -> None:
    counted = outcomes(by_status)
    assert (counted.finished, counted.succeeded, counted.failed, counted.stopped, counted.success_rate) == expected


NOW = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ('utc_offset', 'first_day', 'first_start_utc', 'last_day'),
    [
        (0, date(2026, 10, 25), datetime(2026, 10, 25, tzinfo=UTC), date(2026, 11, 23)),
        (120, date(2026, 10, 25), datetime(2026, 10, 24, 22, tzinfo=UTC), date(2026, 11, 23)),  # UTC+2
        (-480, date(2026, 10, 24), datetime(2026, 10, 24, 8, tzinfo=UTC), date(2026, 11, 22)),  # still the 22nd
        (840, date(2026, 10, 25), datetime(2026, 10, 24, 10, tzinfo=UTC), date(2026, 11, 23)),
    ],
)
def test_window_days_are_the_viewers_local_days(
    utc_offset: int, first_day: date, first_start_utc: datetime, last_day: date
) -> None:
    starts = day_starts(NOW, 30, utc_offset)
    assert len(starts) == 31  # 30 days and the end of the last one
    assert starts[0] == (first_day, first_start_utc)
    assert starts[-2][0] == last_day
    assert all((b - a).total_seconds() == 86400 for (_, a), (_, b) in zip(starts, starts[1:], strict=False))
    assert starts[-2][1] <= NOW < starts[-1][1]  # today is the last day


def test_day_series_fills_every_day_oldest_first() -> None:
    days = [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    rows = [(0, 'succeeded', 2), (0, 'failed', 1), (2, 'stopped', 1), (2, 'crashed', 1)]
    series = day_series(rows, days)
    assert [d.day for d in series] == days
    assert [(d.finished, d.succeeded, d.failed, d.stopped) for d in series] == [
        (3, 2, 1, 0),
        (0, 0, 0, 0),
        (2, 0, 1, 1),
    ]
    assert [d.success_rate for d in series] == [0.6667, None, 0.0]


@pytest.mark.parametrize(
    ('started', 'finished', 'seconds'),
    [
        (None, datetime(2026, 1, 1, tzinfo=UTC), None),  # stopped while queued: never ran
        (datetime(2026, 1, 1, tzinfo=UTC), None, None),
        (datetime(2026, 1, 1, 0, 0, 0), datetime(2026, 1, 1, 0, 1, 30, 500000), 90.5),  # SQLite: naive UTC
        (datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC), 0.0),  # clock skew
    ],
)
def test_duration_seconds(started: datetime | None, finished: datetime | None, seconds: float | None) -> None:
    assert duration_seconds(started, finished) == seconds


@pytest.mark.parametrize(
    ('bounds', 'field'),
    [
        ({'limit': 0}, 'limit'),
        ({'limit': 501}, 'limit'),
        ({'limit': 101, 'max_limit': 100}, 'limit'),
        ({'limit': 5, 'days': 0}, 'days'),
        ({'limit': 5, 'days': 91}, 'days'),
        ({'limit': 5, 'utc_offset': 841}, 'utc_offset'),
        ({'limit': 5, 'utc_offset': -841}, 'utc_offset'),
    ],
)
def test_bounds_are_422_with_the_field(bounds: dict, field: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_bounds(**bounds)
    assert (refused.value.status, refused.value.extra['field']) == (422, field)


def test_bounds_at_their_edges_are_accepted() -> None:
    check_bounds(limit=1, days=1, utc_offset=-840)
    check_bounds(limit=500, days=90, utc_offset=840)
