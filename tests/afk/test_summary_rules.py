"""The AFK loop summary's pure decisions (services/afk/summary.py): the window a `since` names, what a run came to,
the runs grouped per issue, when the loop paused and when it reached its cost cap (replayed), what it does now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.models.afk_summary import SummaryDiff
from app.services.afk.summary import (
    CapChange,
    CounterStep,
    RunFacts,
    cap_at,
    cap_changes,
    cap_known,
    cap_reached,
    issue_outcomes,
    loop_state,
    overlaps,
    pauses,
    run_outcome,
    run_reason,
    window_cost,
)

NOW = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
NIGHT = datetime(2026, 5, 11, 22, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """`minutes` after 22:00 the night before NOW."""
    return NIGHT + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ('status', 'error', 'exit_code', 'outcome', 'reason'),
    [
        ('succeeded', None, 0, 'succeeded', None),
        ('failed', None, 2, 'failed', 'exit code 2'),  # how it failed, when nothing else says
        ('failed', 'out of memory (exit code 137)', 137, 'failed', 'out of memory (exit code 137)'),
        # nothing ran: told apart (neutral for the counter), with the cause
        (
            'failed',
            'launch_failed: checkout failed: no such ref',
            None,
            'launch_failed',
            'checkout failed: no such ref',
        ),
        ('timed_out', None, None, 'timed_out', None),
        ('stopped', 'stopped by alice', None, 'stopped', 'stopped by alice'),  # who stopped it
        ('stopped', 'stopped: issue #3 was closed by bob', None, 'stopped', 'stopped: issue #3 was closed by bob'),
        ('crashed', 'engine error: disk full', None, 'crashed', 'engine error: disk full'),
        ('crashed', 'the server restarted', None, 'crashed', 'the server restarted'),
        ('running', None, None, 'running', None),
    ],
)
def test_what_a_run_came_to_and_why(
    status: str, error: str | None, exit_code: int | None, outcome: str, reason: str | None
) -> None:
    assert run_outcome(status, error) == outcome
    assert run_reason(status, error, exit_code) == reason


def run(run_id: str, issue: int, status: str, minute: int, **fields) -> RunFacts:  # noqa: ANN003
    return RunFacts(
        id=run_id,
        issue_number=issue,
        issue_title=f'task {issue}',
        status=status,
        created_at=at(minute),
        finished_at=at(minute + 10) if status not in ('running', 'queued') else None,
        **fields,
    )


def test_runs_are_grouped_per_issue_newest_issue_first() -> None:
    runs = [
        run('r1', 1, 'succeeded', 0, cost_usd=0.4, pr_number=7, pr_title='Fix #1', pr_url='https://f/pr/7'),
        run('r2', 2, 'failed', 20, cost_usd=0.3, exit_code=1),
        run('r4', 2, 'succeeded', 60, cost_usd=0.5, by='alice'),  # a person's retry of it, later
        run('r3', 3, 'stopped', 40, error='stopped by bob'),  # reported no cost
        run('r5', 4, 'crashed', 80, error='the server restarted', cost_usd=0.1),
    ]
    claims = {
        1: {'state': 'done', 'run_id': 'r1', 'cause': None},
        2: {'state': 'done', 'run_id': 'r4', 'cause': None},
        3: {'state': 'parked', 'run_id': 'r3', 'cause': 'stopped by bob'},
        4: {'state': 'released', 'run_id': 'r5', 'cause': 'crashed: the server restarted'},
    }
    grouped = issue_outcomes(runs, claims, {'r4': SummaryDiff(files=2, additions=5, deletions=1)})
    assert [(i.number, i.outcome, i.claim, i.cost_usd) for i in grouped] == [
        (4, 'crashed', 'released', 0.1),  # its run is the newest
        (2, 'succeeded', 'done', 0.8),  # the issue's outcome is its last run's; its cost every run's
        (3, 'stopped', 'parked', 0.0),
        (1, 'succeeded', 'done', 0.4),
    ]
    two = grouped[1]
    assert [(r.id, r.outcome, r.reason, r.by) for r in two.runs] == [
        ('r2', 'failed', 'exit code 1', None),  # oldest first; the loop's run has nobody's name
        ('r4', 'succeeded', None, 'alice'),
    ]
    assert two.branch == 'afk/2' and two.pull_request is None
    assert two.diff == SummaryDiff(files=2, additions=5, deletions=1)
    one = grouped[3]
    assert one.pull_request is not None and (one.pull_request.number, one.pull_request.url) == (7, 'https://f/pr/7')
    assert one.diff is None  # the branch was not found: no size rather than a wrong one
    assert grouped[2].cause == 'stopped by bob'


UNTIL = at(600)  # 08:00, the window's end (now)


@pytest.mark.parametrize(
    ('created', 'finished', 'lived'),
    [
        (10, 40, True),  # created and ended in the window
        (-5, 30, True),  # started at 21:55, failed at 22:30: in the window since 22:00
        (-60, None, True),  # started before it and still running (or queued)
        (-60, 0, True),  # ended at the window's very start
        (-60, -1, False),  # ended before it: an earlier window's
        (30, None, True),
        (601, None, False),  # created after the window's end
        (600, 610, True),  # created at its end
    ],
)
def test_which_runs_lived_in_the_window(created: int, finished: int | None, lived: bool) -> None:
    ended = None if finished is None else at(finished)
    assert overlaps(at(created), ended, NIGHT, UNTIL) is lived


@pytest.mark.parametrize(
    ('runs', 'billed', 'under_way'),
    [
        ([(30, 0.4)], 0.4, 0.0),
        # per run, its whole cost (also what it reported before the window) where it ended: 21:55 is not in it
        ([(-5, 0.3), (30, 0.4)], 0.4, 0.0),
        ([(-1, 0.3)], 0.0, 0.0),  # ended before the window: billed in an earlier one
        ([(0, 0.3)], 0.3, 0.0),  # ended at its start
        ([(None, 0.25), (40, 0.5)], 0.5, 0.25),  # not ended: its cost so far is said apart, billed in none yet
        ([(610, 0.2)], 0.0, 0.2),  # ended after the window's end (while it was read): not ended in it
        ([(600, 0.1), (20, 0.1), (30, 0.1)], 0.3, 0.0),  # rounded, not 0.30000000000000004
        ([], 0.0, 0.0),
    ],
)
def test_a_runs_cost_counts_in_the_window_it_ended_in(
    runs: list[tuple[int | None, float]], billed: float, under_way: float
) -> None:
    rows = [(None if end is None else at(end), cost) for end, cost in runs]
    assert window_cost(rows, NIGHT, UNTIL) == (billed, under_way)


def test_a_run_that_started_before_the_window_says_so() -> None:
    early = RunFacts(id='r0', issue_number=1, issue_title='t', status='failed', created_at=at(-5), finished_at=at(30))
    [issue] = issue_outcomes([early, run('r1', 1, 'succeeded', 40)], {}, since=NIGHT)
    assert [(r.id, r.started_before_window) for r in issue.runs] == [('r0', True), ('r1', False)]
    [issue] = issue_outcomes([early], {})  # no window: nothing to say
    assert issue.runs[0].started_before_window is False


def test_an_issue_without_a_claim_any_more_says_none() -> None:
    [issue] = issue_outcomes([run('r1', 9, 'queued', 0)], {})
    assert (issue.outcome, issue.claim, issue.runs[0].finished_at) == ('queued', None, None)


def fail(minute: int, run_id: str = 'f') -> CounterStep:
    return CounterStep(at(minute), 'add', run_id)


def win(minute: int) -> CounterStep:
    return CounterStep(at(minute), 'reset', 'w')


def neutral(minute: int) -> CounterStep:
    return CounterStep(at(minute), 'keep', 'n')


def reset(minute: int) -> CounterStep:
    return CounterStep(at(minute), 'reset')


@pytest.mark.parametrize(
    ('steps', 'paused_at'),
    [
        # three failures in a row pause it, at the third's end
        ([fail(10, 'a'), fail(20, 'b'), fail(30, 'c')], [(30, 'c', 3)]),
        # a stop or a crash between them moves nothing
        ([fail(10), neutral(15), fail(20), neutral(25), fail(30, 'c')], [(30, 'c', 3)]),
        # a success in between starts the count again
        ([fail(10), fail(20), win(25), fail(30), fail(40)], []),
        # more failures while paused (hand-started runs) pause nothing new; a Reset re-arms it
        ([fail(10), fail(20), fail(30, 'c'), fail(40), reset(50), fail(60), fail(70), fail(80, 'z')],
         [(30, 'c', 3), (80, 'z', 3)]),
        # failures before the window count towards a pause in it, a pause before the window is not shown
        ([fail(-30), fail(-20), fail(5, 'x')], [(5, 'x', 3)]),
        ([fail(-30), fail(-20), fail(-10), fail(5)], []),
        # unordered steps are replayed in time order
        ([fail(30, 'c'), fail(10), fail(20)], [(30, 'c', 3)]),
    ],
)  # fmt: skip
def test_when_the_loop_paused(steps: list[CounterStep], paused_at: list[tuple[int, str, int]]) -> None:
    found = pauses(steps, since=NIGHT)
    assert [(e.at, e.run_id, e.failures, e.kind) for e in found] == [
        (at(m), run_id, n, 'paused') for m, run_id, n in paused_at
    ]


@pytest.mark.parametrize(
    ('usage', 'resets', 'cap', 'reached'),
    [
        ([(10, 0.6), (20, 0.6)], [], 1.0, [(20, 1.2)]),  # the report that brought the day to the cap
        ([(10, 0.5), (20, 0.5), (30, 0.5)], [], 1.0, [(20, 1.0)]),  # reaching it exactly counts, once
        ([(10, 0.6), (20, 0.3)], [], 1.0, []),
        ([(10, 5.0)], [], None, []),  # no cap: never
        # a Reset starts the count again: the cap is reached a second time that day
        ([(10, 0.6), (20, 0.6), (40, 0.6), (50, 0.6)], [30], 1.0, [(20, 1.2), (50, 1.2)]),
        # midnight UTC (120 minutes after 22:00) starts a new day's count
        ([(100, 0.6), (130, 0.6), (140, 0.6)], [], 1.0, [(140, 1.2)]),
        # spent before the window counts towards the day; reaching it before the window is not shown
        ([(-30, 0.6), (10, 0.6)], [], 1.0, [(10, 1.2)]),
        ([(-30, 0.6), (-20, 0.6), (10, 0.6)], [], 1.0, []),
    ],
)
def test_when_the_cost_cap_was_reached(
    usage: list[tuple[int, float]], resets: list[int], cap: float | None, reached: list[tuple[int, float]]
) -> None:
    found = cap_reached([(at(m), c) for m, c in usage], [at(m) for m in resets], cap, NIGHT)
    assert [(e.at, e.spent_usd, e.kind) for e in found] == [(at(m), s, 'cost_capped') for m, s in reached]


def change(minute: int, cap: float | None, was: float | None = None, *, known: bool = True) -> CapChange:
    return CapChange(at(minute), cap, was, known)


def test_the_caps_changes_come_from_the_audit_logs_project_updates() -> None:
    entries = [
        (at(30), {'changed': {'afk_cost_cap_usd_per_day': 2.0}, 'was': {'afk_cost_cap_usd_per_day': 1.0}}),
        (at(10), {'changed': {'max_concurrent_runs': 3}}),  # another setting: not a change of the cap
        (at(20), {'changed': {'afk_cost_cap_usd_per_day': None}, 'was': {'afk_cost_cap_usd_per_day': 5.0}}),
        (at(40), {'changed': {'afk_cost_cap_usd_per_day': 3.0}}),  # written before `was` was recorded
    ]
    assert cap_changes(entries) == [change(20, None, 5.0), change(30, 2.0, 1.0), change(40, 3.0, known=False)]


@pytest.mark.parametrize(
    ('changes', 'moment', 'cap'),
    [
        ([], 10, (4.0, True)),  # no change since: the current cap
        ([change(20, 2.0, 1.0)], 10, (1.0, True)),  # before a change: what it replaced
        ([change(20, 2.0, 1.0)], 20, (2.0, True)),  # from the change on: what it became
        ([change(20, 2.0, 1.0), change(30, None, 2.0)], 35, (None, True)),  # removed: none
        ([change(20, 2.0, 1.0), change(30, None, 2.0)], 25, (2.0, True)),
        ([change(20, None, 1.0)], 10, (1.0, True)),
        # a change recorded without what it replaced: before it the cap is not known, the current one stands in
        ([change(20, 2.0, known=False)], 10, (4.0, False)),
        ([change(20, 2.0, known=False)], 25, (2.0, True)),
    ],
)
def test_the_cap_in_force_at_a_moment(changes: list[CapChange], moment: int, cap: tuple) -> None:
    assert cap_at(changes, 4.0, at(moment)) == cap


@pytest.mark.parametrize(
    ('usage', 'changes', 'cap', 'reached'),
    [
        # the cap was $5 last night and is $1 since this morning (a new day's count): $1.20 reached nothing then
        ([(10, 0.6), (20, 0.6)], [change(130, 1.0, 5.0)], 1.0, []),
        # lowered to $1 in the night: the report that brings the day to it
        ([(10, 0.6), (40, 0.6)], [change(30, 1.0, 5.0)], 5.0, [(40, 1.2)]),
        # lowered below what the day spent: reached at the change (the next sweep sees it)
        ([(10, 0.6), (20, 0.6)], [change(30, 1.0, 5.0)], 1.0, [(30, 1.2)]),
        # raised after it was reached: a change clears the day's record, the new cap is reached again
        ([(10, 0.6), (20, 0.6), (40, 0.6), (50, 0.6)], [change(30, 2.0, 1.0)], 2.0, [(20, 1.2), (50, 2.4)]),
        # removed: nothing is reached while there is none
        ([(10, 0.6), (40, 0.6), (50, 0.6)], [change(30, None, 5.0)], None, []),
        # set in the night where there was none
        ([(10, 0.6), (40, 0.6)], [change(30, 1.0, None)], 1.0, [(40, 1.2)]),
        # a change with no `was`: today's cap stands in before it
        ([(10, 0.6), (20, 0.6)], [change(30, 5.0, known=False)], 1.0, [(20, 1.2)]),
    ],
)
def test_the_cap_replayed_is_the_one_in_force(
    usage: list[tuple[int, float]], changes: list[CapChange], cap: float | None, reached: list[tuple[int, float]]
) -> None:
    found = cap_reached([(at(m), c) for m, c in usage], [], cap, NIGHT, changes)
    assert [(e.at, e.spent_usd) for e in found] == [(at(m), s) for m, s in reached]


def test_the_summary_says_when_the_cap_replayed_is_todays() -> None:
    unknown_before = [change(30, 5.0, known=False)]
    assert cap_known(unknown_before, [at(10), at(40)]) is False
    assert cap_known(unknown_before, [at(40)]) is True  # no report before it: nothing replayed against an unknown
    assert cap_known([change(30, 5.0, 1.0)], [at(10)]) is True
    assert cap_known([], [at(10)]) is True


OPEN = dict(  # every gate open
    auto_enabled=True,
    paused=False,
    loop_run_in_flight=False,
    under_global_cap=True,
    launch_blocked=False,
    cost_capped=False,
    ready_issues=2,
)


@pytest.mark.parametrize(
    ('changed', 'state'),
    [
        ({}, 'will_launch'),
        ({'ready_issues': None}, 'will_launch'),  # a forge that cannot tell: the sweep finds out
        ({'ready_issues': 0}, 'no_ready_issue'),
        ({'loop_run_in_flight': True}, 'working'),
        ({'paused': True}, 'paused'),
        ({'cost_capped': True}, 'cost_cap'),
        ({'launch_blocked': True}, 'launch_failed'),
        ({'auto_enabled': False}, 'auto_off'),
        ({'under_global_cap': False}, 'global_cap'),
        # the sweep's order: a pause is said before the cap, both before auto off
        ({'paused': True, 'cost_capped': True, 'auto_enabled': False}, 'paused'),
        ({'cost_capped': True, 'auto_enabled': False, 'ready_issues': 0}, 'cost_cap'),
        ({'auto_enabled': False, 'ready_issues': 0}, 'auto_off'),
    ],
)
def test_what_the_loop_does_now(changed: dict, state: str) -> None:
    assert loop_state(**{**OPEN, **changed}) == state
