"""The log retention's cutoff: which ended runs lose their output (services/runs/log_retention.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.services.runs.log_retention import cutoff

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
