"""What the schedule form says under the cron while one types (table)."""

from __future__ import annotations

import pytest

from app.state.schedules_view import preview_text


@pytest.mark.parametrize(
    ('slots', 'zone', 'text'),
    [
        (['2026-11-25T01:30:00+00:00'], 'Europe/Berlin', 'Next: Wed 2026-11-25 02:30 (Europe/Berlin)'),
        (
            ['2026-11-25T01:30:00Z', '2026-11-26T01:30:00Z'],
            'UTC',
            'Next: Wed 2026-11-25 01:30, Thu 2026-11-26 01:30 (UTC)',
        ),
        ([], 'UTC', 'Never fires: no slot matches'),
    ],
)
def test_preview_text(slots, zone, text) -> None:  # noqa: ANN001
    assert preview_text(slots, zone) == text
