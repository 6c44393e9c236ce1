"""Table tests of the AFK cost cap's pure decisions (app/services/afk/rules.py, docs/afk.md "Cost"): whether the
day's AFK cost closes the loop's gate, since when the day counts, and what the card says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.afk.rules import (
    cap_stops_run,
    capped_today,
    closed_gate,
    cost_window_start,
    is_cost_capped,
    should_launch_auto,
)
from app.state.projects_store import CardView, cost_capped_text

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    'cap, spent, capped',
    [
        (None, 0.0, False),  # no cap: never
        (None, 1e6, False),
        (1.00, 0.0, False),
        (1.00, 0.60, False),  # one $0.60 run under a $1.00 cap: the loop goes on
        (1.00, 1.20, True),  # two: capped
        (1.00, 1.00, True),  # reaching it exactly counts
        (1.00, 0.1 + 0.2 + 0.3 + 0.4, True),  # float sums that land a hair under the cap still reach it
        (20.00, 19.99, False),
        (0.01, 0.01, True),
    ],
)
def test_is_cost_capped(cap: float | None, spent: float, capped: bool) -> None:
    assert is_cost_capped(cap_usd=cap, spent_usd=spent) is capped


@pytest.mark.parametrize(
    'cap, spent, others, by_a_person, stops',
    [
        (None, 9.0, 9.0, False, False),  # no cap: nothing is stopped
        (1.00, 0.60, 0.0, False, False),  # under the cap
        (1.00, 1.20, 0.60, False, True),  # the loop's run that reached it
        (1.00, 1.80, 1.20, False, True),  # the loop's run past it (others reached it first)
        (1.00, 1.20, 0.60, True, True),  # a person's run whose own spending reached it
        (1.00, 0.60, 0.0, True, False),
        (1.00, 1.80, 1.20, True, False),  # started when the others had reached it: that person decided to spend
        (1.00, 1.00, 1.00, True, False),  # its first line, of $0, after the cap was reached
    ],
)
def test_which_afk_run_the_cap_stops(
    cap: float | None, spent: float, others: float, by_a_person: bool, stops: bool
) -> None:
    assert cap_stops_run(cap_usd=cap, spent_usd=spent, spent_by_others_usd=others, by_a_person=by_a_person) is stops


@pytest.mark.parametrize(
    'now, reset_at, start',
    [
        (NOON, None, MIDNIGHT),  # the UTC day
        (NOON, NOON - timedelta(hours=1), NOON - timedelta(hours=1)),  # Reset today: from the Reset
        (NOON, MIDNIGHT - timedelta(hours=1), MIDNIGHT),  # a Reset yesterday: the new day wins
        (NOON, (NOON - timedelta(hours=2)).replace(tzinfo=None), NOON - timedelta(hours=2)),  # naive = UTC (SQLite)
        # another zone's noon is its UTC time's day
        (datetime(2026, 11, 25, 23, 30, tzinfo=UTC).astimezone(), None, MIDNIGHT),
    ],
)
def test_cost_window_start(now: datetime, reset_at: datetime | None, start: datetime) -> None:
    assert cost_window_start(now, reset_at) == start


@pytest.mark.parametrize(
    'capped_on, now, holds',
    [
        (None, NOON, False),
        ('2026-11-25', NOON, True),
        ('2026-11-24', NOON, False),  # the next UTC day resumes it
        ('2026-11-25', MIDNIGHT + timedelta(days=1), False),
    ],
)
def test_capped_today(capped_on: str | None, now: datetime, holds: bool) -> None:
    assert capped_today(capped_on, now) is holds


def test_the_cost_cap_closes_only_the_loops_gate() -> None:
    gates = dict(auto_enabled=True, paused=False, loop_run_in_flight=False, under_global_cap=True)
    assert should_launch_auto(**gates, claimable_issue=True, cost_capped=False) is True
    assert should_launch_auto(**gates, claimable_issue=True, cost_capped=True) is False
    assert closed_gate(**gates, launch_blocked=False, cost_capped=True) == 'cost_cap'
    # order: the global cap and an in-flight run first, then the failure pause, then the cost cap
    assert closed_gate(**{**gates, 'paused': True}, launch_blocked=False, cost_capped=True) == 'paused'
    assert closed_gate(**{**gates, 'under_global_cap': False}, launch_blocked=False, cost_capped=True) == 'global_cap'
    assert closed_gate(**gates, launch_blocked=True, cost_capped=True) == 'cost_cap'


@pytest.mark.parametrize(
    'project, text',
    [
        (
            {'afk_cost_cap_usd_per_day': 20.0, 'afk_cost_capped_on': '2026-11-25'},
            'Auto paused · cost cap $20.00 reached today, resumes at 00:00 UTC or on Reset',
        ),
        (
            {'afk_cost_cap_usd_per_day': 1234.5, 'afk_cost_capped_on': '2026-11-25'},
            'Auto paused · cost cap $1,234.50 reached today, resumes at 00:00 UTC or on Reset',
        ),
        (  # a builder's card: who may reset it (the API answers a builder's Reset 403)
            {'afk_cost_cap_usd_per_day': 20.0, 'afk_cost_capped_on': '2026-11-25', 'viewer': 'builder'},
            'Auto paused · cost cap $20.00 reached today, resumes at 00:00 UTC or when an operator resets it',
        ),
        ({'afk_cost_cap_usd_per_day': 20.0, 'afk_cost_capped_on': '2026-11-24'}, None),  # yesterday's: resumed
        ({'afk_cost_cap_usd_per_day': 20.0, 'afk_cost_capped_on': None}, None),  # Reset
        ({'afk_cost_cap_usd_per_day': None, 'afk_cost_capped_on': '2026-11-25'}, None),  # the cap was removed
    ],
)
def test_the_card_says_the_cost_cap_holds_the_loop(project: dict, text: str | None) -> None:
    project = dict(project)
    may_reset = project.pop('viewer', 'operator') == 'operator'
    assert cost_capped_text(project, NOON, may_reset=may_reset) == text
    view = CardView({'id': 'p', 'auto_enabled': True, **project})
    still = cost_capped_text(project, datetime.now(UTC), may_reset=may_reset) is not None
    assert (view.status == 'paused') is (text is not None and still)
