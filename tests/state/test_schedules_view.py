"""What the schedule form says under the cron while one types, the zone a new schedule starts at, and a
schedule's card after its next firing (tables)."""

from __future__ import annotations

import pytest

from app.state.schedules_view import COMMON_ZONES, later_slots_text, new_schedule_zone, preview_text


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


KNOWN = (*COMMON_ZONES, 'Asia/Calcutta', 'Etc/UTC')


@pytest.mark.parametrize(
    ('browser', 'zone'),
    [
        ('Europe/Berlin', 'Europe/Berlin'),  # the person's own zone, as the Run form's "Run at" reads times
        ('Asia/Calcutta', 'Asia/Calcutta'),  # an older name the browser may give, known to the server: kept as is
        ('Etc/UTC', 'Etc/UTC'),
        ('', 'UTC'),  # the browser did not answer: the API's default
        ('Mars/Olympus', 'UTC'),  # a zone the server does not know (it would refuse it)
    ],
)
def test_a_new_schedule_starts_at_the_browsers_zone(browser, zone) -> None:  # noqa: ANN001
    assert new_schedule_zone(browser, KNOWN) == zone
