"""A schedule's card lists its latest firings and, when older ones exist, says so and where to read them (table)."""

from __future__ import annotations

import pytest

from app.state.schedules_view import FIRINGS_SHOWN, firings_shown

NOTE = 'Only the latest 10 firings are shown; for older ones: runboard schedules history sch_1 -n 200'


def firings(count: int) -> list[dict]:
    return [{'slot': f'2026-01-01T00:{59 - i:02d}:00Z', 'state': 'admitted'} for i in range(count)]


@pytest.mark.parametrize(
    ('read', 'listed', 'note'),
    [(0, 0, None), (3, 3, None), (10, 10, None), (11, 10, NOTE)],  # the page reads FIRINGS_SHOWN + 1
)
def test_only_the_latest_are_listed_and_a_note_says_so(read: int, listed: int, note: str | None) -> None:
    assert FIRINGS_SHOWN == 10
    shown, said = firings_shown('sch_1', firings(read))
    assert shown == firings(read)[:listed]
    assert said == note
