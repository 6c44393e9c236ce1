"""What a README badge says (services/projects/badges.py): a branch's last verdict, and its coverage in shields.io's
colour steps."""

from __future__ import annotations

import pytest

from app.services.projects.badges import coverage_badge, new_badge_key, status_badge


@pytest.mark.parametrize(
    ('status', 'said'),
    [
        (None, ('no runs', 'lightgrey')),
        ('succeeded', ('passing', 'green')),
        ('failed', ('failing', 'red')),
        ('timed_out', ('timed out', 'red')),
        ('crashed', ('crashed', 'lightgrey')),  # the machine's verdict, not the code's
    ],
)
def test_status_badge(status: str | None, said: tuple[str, str]) -> None:
    assert status_badge(status) == said


@pytest.mark.parametrize(
    ('percent', 'said'),
    [
        (None, ('unknown', 'lightgrey')),
        (100.0, ('100.0%', 'brightgreen')),
        (90.0, ('90.0%', 'brightgreen')),
        (89.96, ('90.0%', 'green')),  # the colour follows the figure, not its rounding
        (80.0, ('80.0%', 'green')),
        (70.0, ('70.0%', 'yellowgreen')),
        (60.0, ('60.0%', 'yellow')),
        (50.0, ('50.0%', 'orange')),
        (49.9, ('49.9%', 'red')),
        (0.0, ('0.0%', 'red')),
    ],
)
def test_coverage_badge(percent: float | None, said: tuple[str, str]) -> None:
    assert coverage_badge(percent) == said


def test_badge_keys_are_long_and_unguessable() -> None:
    keys = {new_badge_key() for _ in range(100)}
    assert len(keys) == 100 and all(k.startswith('rbb_') and len(k) >= 28 for k in keys)
