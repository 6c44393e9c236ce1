"""Pure parts of the project cards' state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.pages.afk_controls import paused_text, reset_form
from app.state.projects_store import CardView, awaiting_approval_text, failure_cause, launch_blocked_text, loop_status

NOW = datetime(2031, 5, 4, 10, 40, tzinfo=UTC)  # the next sweep is two minutes off


NEXT_SWEEP = '2031-05-04T10:42:00+00:00'
TODAY = datetime.now(UTC).date().isoformat()
LOOP_ON = {'auto_enabled': True, 'paused': False, 'active_runs': 0}


@pytest.mark.parametrize(
    ('project', 'running', 'issues', 'key', 'said'),
    [
        ({**LOOP_ON, 'paused': True, 'consecutive_failures': 3}, 0, [], 'paused', 'Paused after 3 failures'),
        # paused wins over its runs: it needs a person
        (
            {**LOOP_ON, 'paused': True, 'consecutive_failures': 4, 'active_runs': 1},
            1,
            [],
            'paused',
            'Paused after 4 failures',
        ),
        (
            {**LOOP_ON, 'afk_cost_cap_usd_per_day': 2.0, 'afk_cost_capped_on': TODAY, 'ready_count': 3},
            0,
            [],
            'paused',
            'Paused: daily cost cap reached',
        ),
        ({**LOOP_ON, 'active_runs': 2}, 1, [12], 'running', 'Running #12'),
        ({**LOOP_ON, 'active_runs': 2}, 2, [12, 14], 'running', 'Running #12, #14'),
        ({**LOOP_ON, 'active_runs': 1}, 1, [], 'running', 'Running'),  # a pipeline run: no issue to name
        ({**LOOP_ON, 'active_runs': 1}, 0, [], 'queued', 'Queued'),
        # ready issues wait for the loop's next sweep: never "Idle"
        (
            {**LOOP_ON, 'ready_count': 3, 'afk_next_sweep_at': NEXT_SWEEP},
            0,
            [],
            'waiting',
            'Waiting: 3 ready issues; next launch in 2 min',
        ),
        (
            {**LOOP_ON, 'ready_count': 1, 'afk_next_sweep_at': NEXT_SWEEP},
            0,
            [],
            'waiting',
            'Waiting: 1 ready issue; next launch in 2 min',
        ),
        ({**LOOP_ON, 'ready_count': 3}, 0, [], 'waiting', 'Waiting: 3 ready issues'),  # a server without a sweep
        (
            {**LOOP_ON, 'ready_count': None, 'afk_next_sweep_at': NEXT_SWEEP},
            0,
            [],
            'waiting',
            'Waiting: ready issues unknown (the forge did not answer); next sweep in 2 min',
        ),
        (
            {**LOOP_ON, 'ready_count': 3, 'afk_next_sweep_at': NEXT_SWEEP, 'at_global_run_cap': True},
            0,
            [],
            'waiting',
            'Waiting: 3 ready issues; the server runs as many runs as it may',
        ),
        (
            {
                **LOOP_ON,
                'ready_count': 3,
                'launch_error': 'launch_failed: no such file',
                'afk_next_sweep_at': NEXT_SWEEP,
            },
            0,
            [],
            'waiting',
            'Waiting: its command could not start',
        ),
        ({**LOOP_ON, 'ready_count': 0, 'afk_next_sweep_at': NEXT_SWEEP}, 0, [], 'idle', 'Idle: no ready issues'),
        ({**LOOP_ON, 'auto_enabled': False, 'ready_count': 3}, 0, [], 'idle', 'Idle: auto is off, 3 ready issues'),
        ({**LOOP_ON, 'auto_enabled': False, 'ready_count': 0}, 0, [], 'idle', 'Idle: auto is off'),
        (
            {'paused': True, 'auto_enabled': False, 'active_runs': 0},
            0,
            [],
            'idle',
            'Idle: auto is off',
        ),  # the banner says paused
    ],
)
def test_the_status_says_what_the_loop_does(
    project: dict, running: int, issues: list[int], key: str, said: str
) -> None:
    view = CardView(project={'id': 'x', **project}, running=running, running_issues=issues)
    status = loop_status(view)
    assert (status.key, status.said(NOW), view.status) == (key, said, key)


def test_the_next_launch_is_counted_down_from_its_moment() -> None:
    view = CardView(project={'id': 'x', **LOOP_ON, 'ready_count': 2, 'afk_next_sweep_at': NEXT_SWEEP})
    status = loop_status(view)
    assert status.next_prefix == 'Waiting: 2 ready issues; next launch '  # the browser's countdown follows it
    assert status.title == "The loop's next sweep: 2031-05-04 10:42:00 UTC"
    assert status.said(datetime(2031, 5, 4, 10, 43, tzinfo=UTC)) == 'Waiting: 2 ready issues; next launch due now'


@pytest.mark.parametrize(
    'run, text',
    [
        (
            {'status': 'failed', 'exit_code': 1, 'error': None, 'issue_number': 4, 'issue_title': 'Fix login'},
            '#4 Fix login: failed (exit code 1)',
        ),
        (
            {
                'status': 'timed_out',
                'exit_code': None,
                'error': 'budget of 60 s exceeded',
                'issue_number': None,
                'branch_name': 'main',
            },
            'main: timed out (budget of 60 s exceeded)',
        ),
        (
            {'status': 'crashed', 'exit_code': None, 'error': None, 'issue_number': 2, 'issue_title': None},
            '#2: crashed',
        ),
    ],
)
def test_failure_cause(run: dict, text: str) -> None:
    assert failure_cause(run) == text


def test_paused_text_and_plain_form() -> None:
    assert paused_text(3) == 'Auto paused · 3 fails' and paused_text(1) == 'Auto paused · 1 fail'
    form = reset_form('proj', 'tok"en<')
    assert 'method="post" action="/afk/reset/proj"' in form and 'value="tok&quot;en&lt;"' in form


CANNOT_START = "launch_failed: could not start '/x': No such file or directory"


@pytest.mark.parametrize(
    ('project', 'may_reset', 'text'),
    [
        ({'auto_enabled': True, 'launch_error': None}, True, None),
        ({'auto_enabled': True}, False, None),
        (
            {'auto_enabled': True, 'launch_error': CANNOT_START},
            True,
            "Auto-loop waiting: could not start '/x': No such file or directory. "
            "Nothing was counted; fix the project's command, then Reset.",
        ),
        (
            {'auto_enabled': False, 'launch_error': 'launch_failed: checkout failed: bad ref'},
            True,
            "AFK launch failed: checkout failed: bad ref. Nothing was counted; fix the project's command, then Reset.",
        ),
        # a builder is not told to Reset (the API answers their Reset 403): told who can
        (
            {'auto_enabled': True, 'launch_error': CANNOT_START},
            False,
            "Auto-loop waiting: could not start '/x': No such file or directory. "
            "Nothing was counted; once the project's command is fixed, an operator can reset it.",
        ),
        (
            {'auto_enabled': False, 'launch_error': 'launch_failed: checkout failed: bad ref'},
            False,
            'AFK launch failed: checkout failed: bad ref. '
            "Nothing was counted; once the project's command is fixed, an operator can reset it.",
        ),
    ],
)
def test_the_card_says_why_nothing_launches(project: dict, may_reset: bool, text: str | None) -> None:
    assert launch_blocked_text(project, may_reset=may_reset) == text


@pytest.mark.parametrize(
    ('count', 'text'),
    [
        (0, None),
        (None, None),  # a server before approvals: no line
        (1, "1 run waits for an operator's approval"),
        (3, "3 runs wait for an operator's approval"),
    ],
)
def test_the_card_says_how_many_runs_wait_for_an_approval(count, text) -> None:  # noqa: ANN001
    assert awaiting_approval_text({'id': 'p', 'awaiting_approval': count}) == text
