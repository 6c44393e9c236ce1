"""Pure parts of the project cards' state."""

from __future__ import annotations

import pytest

from app.pages.afk_controls import paused_text, reset_form
from app.state.projects_store import CardView, awaiting_approval_text, failure_cause, launch_blocked_text


@pytest.mark.parametrize(
    'project, running, status',
    [
        ({'paused': True, 'auto_enabled': True, 'active_runs': 0}, 0, 'paused'),
        ({'paused': True, 'auto_enabled': True, 'active_runs': 1}, 1, 'paused'),  # paused wins: it needs a person
        ({'paused': True, 'auto_enabled': False, 'active_runs': 0}, 0, 'idle'),
        ({'paused': False, 'auto_enabled': True, 'active_runs': 2}, 1, 'running'),
        ({'paused': False, 'auto_enabled': True, 'active_runs': 1}, 0, 'queued'),
        ({'paused': False, 'auto_enabled': False, 'active_runs': 0}, 0, 'idle'),
    ],
)
def test_card_status(project: dict, running: int, status: str) -> None:
    assert CardView(project={'id': 'x', **project}, running=running).status == status


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
