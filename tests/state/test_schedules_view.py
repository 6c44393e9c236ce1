"""What the schedule form says under the cron while one types, and a schedule's card after its next firing
(tables)."""

from __future__ import annotations

import pytest

from app.state.schedules_view import later_slots_text, preview_text


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


@pytest.mark.parametrize(
    ('upcoming', 'zone', 'text'),
    [
        # the slots after the next one, as the form writes them (no seconds), in the zone the cron is read in
        (
            ['2026-11-29T07:30:00Z', '2026-11-29T07:45:00Z', '2026-11-29T08:00:00Z'],
            'UTC',
            'then Sun 2026-11-29 07:45, Sun 2026-11-29 08:00 (UTC)',
        ),
        (
            ['2026-11-25T01:30:00Z', '2026-11-26T01:30:00Z'],
            'Europe/Berlin',
            'then Thu 2026-11-26 02:30 (Europe/Berlin)',
        ),
        (['2026-11-25T01:30:00Z'], 'UTC', None),  # only the next one: the card says it already
        ([], 'UTC', None),
    ],
)
def test_later_slots_text(upcoming, zone, text) -> None:  # noqa: ANN001
    assert later_slots_text(upcoming, zone) == text
