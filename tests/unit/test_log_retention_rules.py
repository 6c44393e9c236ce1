"""The log retention's cutoff: which ended runs lose their output (services/runs/log_retention.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.services.runs.log_retention import cutoff, cutoffs

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('days', 'expected'),
    [
        (0, None),  # off: logs are kept for ever
        (90, datetime(2026, 8, 29, 12, 0, tzinfo=UTC)),  # GitHub's default
        (1, datetime(2026, 11, 26, 12, 0, tzinfo=UTC)),
        (0.5, datetime(2026, 11, 27, 0, 0, tzinfo=UTC)),
    ],
)
def test_cutoff(days: float, expected: datetime | None) -> None:
    assert cutoff(NOW, days) == expected


@pytest.mark.parametrize(
    ('days', 'own', 'per_project', 'others'),
    [
        (0, {}, {}, None),  # nothing removed anywhere
        (0, {'svc': 10}, {'svc': datetime(2026, 11, 17, 12, 0, tzinfo=UTC)}, None),  # only the project that asks
        (
            30,
            {'svc': 90},  # longer than the server's: kept longer
            {'svc': datetime(2026, 8, 29, 12, 0, tzinfo=UTC)},
            datetime(2026, 10, 28, 12, 0, tzinfo=UTC),
        ),
        (
            90,
            {'a': 7, 'b': 1},
            {'a': datetime(2026, 11, 20, 12, 0, tzinfo=UTC), 'b': datetime(2026, 11, 26, 12, 0, tzinfo=UTC)},
            datetime(2026, 8, 29, 12, 0, tzinfo=UTC),
        ),
    ],
)
def test_cutoffs_per_project(days: float, own: dict, per_project: dict, others: datetime | None) -> None:
    assert cutoffs(NOW, days, own) == (per_project, others)
