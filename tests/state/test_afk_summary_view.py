"""How the AFK loop's summary reads (state/afk_summary.py), on the project page and in `runboard afk summary`."""

from __future__ import annotations

import pytest

from app.state.afk_summary import (
    cap_replay_text,
    changes_text,
    cost_text,
    event_text,
    issue_details,
    loop_state_text,
    outcomes_text,
    pull_request_href,
    run_text,
    untried_text,
)


@pytest.mark.parametrize(
    ('summary', 'said'),
    [
        ({'runs': 0}, 'No AFK runs'),
        ({'runs': 1, 'outcomes': {'succeeded': 1}}, '1 AFK run: 1 succeeded'),
        # in the outcomes' own order, said as words
        (
            {'runs': 4, 'outcomes': {'launch_failed': 1, 'failed': 2, 'timed_out': 1}},
            '4 AFK runs: 2 failed, 1 timed out, 1 could not start',
        ),
        (
            {'runs': 1000, 'outcomes': {'failed': 1000}, 'truncated': True},
            '1000 AFK runs (the newest 1000 shown): 1000 failed',
        ),
        (
            {'runs': 2, 'started_before_window': 1, 'outcomes': {'failed': 1, 'running': 1}},
            '2 AFK runs (1 started before this window): 1 failed, 1 running',
        ),
    ],
)
def test_what_ran(summary: dict, said: str) -> None:
    assert outcomes_text(summary) == said


@pytest.mark.parametrize(
    ('summary', 'said'),
    [
        ({'cost_usd': 1.2, 'today_usd': 0.4, 'cap_usd': None}, '$1.20 in this window · today $0.40 · no daily cap'),
        (
            {'cost_usd': 2.1, 'today_usd': 2.1, 'cap_usd': 2.0, 'capped': True},
            '$2.10 in this window · today $2.10 of a $2.00 daily cap (reached)',
        ),
        (
            {'cost_usd': 0, 'today_usd': 0, 'cap_usd': 5.0, 'capped': False},
            '$0.00 in this window · today $0.00 of a $5.00 daily cap',
        ),
        (  # what runs not ended yet spent so far is said apart: it is billed in the window they end in
            {'cost_usd': 0.6, 'under_way_cost_usd': 0.3, 'today_usd': 0.9, 'cap_usd': None},
            '$0.60 in this window (+ $0.30 so far by runs under way) · today $0.90 · no daily cap',
        ),
    ],
)
def test_what_it_cost(summary: dict, said: str) -> None:
    assert cost_text(summary) == said


@pytest.mark.parametrize(
    ('summary', 'said'),
    [
        (
            {'loop_state': 'paused', 'consecutive_failures': 3},
            'paused after 3 consecutive AFK failures: it waits for Reset',
        ),
        ({'loop_state': 'cost_cap'}, "waiting: today's cost cap is reached (resumes at 00:00 UTC or on Reset)"),
        (
            {'loop_state': 'launch_failed', 'launch_error': 'launch_failed: sh: no such file'},
            "waiting: its command could not start (sh: no such file); fix the project's command, then Reset",
        ),
        ({'loop_state': 'working'}, 'working on an issue now'),
        ({'loop_state': 'no_ready_issue'}, 'on, with no ready issue left'),
    ],
)
def test_what_the_loop_does_now(summary: dict, said: str) -> None:
    assert loop_state_text(summary) == f'Auto-loop now: {said}'


@pytest.mark.parametrize(
    ('event', 'said'),
    [
        ({'kind': 'paused', 'failures': 3, 'run_id': 'run_9'}, 'paused after 3 consecutive failures (run run_9)'),
        ({'kind': 'cost_capped', 'spent_usd': 1.2}, 'reached the daily cost cap ($1.20 spent that day)'),
        ({'kind': 'reset', 'by': 'alice'}, 'reset by alice'),
        ({'kind': 'auto_off', 'by': 'bob'}, 'auto-loop switched off by bob'),
    ],
)
def test_what_happened_to_the_loop(event: dict, said: str) -> None:
    assert event_text(event) == said


FAILED = {'id': 'run_1', 'outcome': 'failed', 'reason': 'exit code 1', 'cost_usd': 0.35, 'by': None}
STOPPED = {'id': 'run_2', 'outcome': 'stopped', 'reason': 'stopped by alice', 'cost_usd': None, 'by': 'alice'}
WON = {'id': 'run_3', 'outcome': 'succeeded', 'reason': None, 'cost_usd': 0.5, 'by': None}


def test_a_run_and_an_issue_in_a_line() -> None:
    assert run_text(FAILED) == 'failed (exit code 1) · $0.35'
    assert run_text(STOPPED) == 'stopped by alice · started by alice'  # its reason says the outcome already
    assert (
        run_text({**WON, 'outcome': 'launch_failed', 'reason': 'sh: not found'})
        == 'could not start (sh: not found) · $0.50'
    )
    pull = {'number': 7, 'url': 'https://f/pr/7'}
    diff = {'files': 3, 'additions': 20, 'deletions': 4}
    assert changes_text({'branch': 'afk/5', 'pull_request': pull, 'diff': diff}) == 'PR #7 · 3 files +20 −4 on afk/5'
    assert (
        changes_text({'branch': 'afk/5', 'pull_request': None, 'diff': {**diff, 'files': 1}})
        == '1 file +20 −4 on afk/5'
    )
    assert changes_text({'branch': 'afk/5', 'pull_request': None, 'diff': None}) is None
    # one run: only why it ended (the outcome is the issue's); several: each run
    assert issue_details({'runs': [FAILED], 'branch': 'afk/2'}) == ['exit code 1']
    assert issue_details({'runs': [FAILED, WON], 'branch': 'afk/2', 'diff': diff}) == [
        'failed (exit code 1) · $0.35',
        'succeeded · $0.50',
        '3 files +20 −4 on afk/2',
    ]


def test_a_run_that_started_before_the_window_says_so() -> None:
    early = {**FAILED, 'started_before_window': True}
    assert run_text(early) == 'failed (exit code 1) · $0.35 · started before this window'
    assert issue_details({'runs': [early], 'branch': 'afk/2'}) == ['exit code 1', 'started before this window']


def test_a_cap_replayed_with_todays_cap_is_said() -> None:
    assert cap_replay_text({'cap_replay': 'as_in_force'}) is None
    assert cap_replay_text({}) is None
    assert "today's cap" in (cap_replay_text({'cap_replay': 'current_cap'}) or '')


def test_the_issues_left() -> None:
    assert untried_text({'untried': None}) == 'Ready issues not tried yet: could not be read'
    assert untried_text({'untried': []}) == 'No ready issue is left untried'
    assert untried_text({'untried': [{'number': 8, 'title': 'Dark mode'}, {'number': 9, 'title': 'Docs'}]}) == (
        'Ready, not tried yet (2): #8 Dark mode, #9 Docs'
    )


@pytest.mark.parametrize(
    ('url', 'href'),
    [
        ('https://github.com/o/r/pull/7', 'https://github.com/o/r/pull/7'),
        ('http://gitea.internal/o/r/pulls/7', 'http://gitea.internal/o/r/pulls/7'),
        # the forge's answer names the address: one that is not a web address is shown as text, never a link
        ('javascript:fetch("/api/me")', None),
        ('JavaScript:alert(1)', None),
        ('data:text/html,<script>alert(1)</script>', None),
        (' https://github.com/o/r/pull/7', None),
        ('', None),
        (None, None),
    ],
)
def test_the_pull_request_links_only_to_a_web_address(url: str | None, href: str | None) -> None:
    assert pull_request_href({'pull_request': {'number': 7, 'url': url}}) == href


def test_an_issue_without_a_pull_request_links_nowhere() -> None:
    assert pull_request_href({'pull_request': None}) is None
    assert pull_request_href({}) is None
