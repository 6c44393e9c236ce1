"""What `runboard runs list` and `runs show` say of a run that waits for an operator, of one approved but held
back by its branch's lock, and of an ended run whose automatic retry waits (app/cli/render.py): the status names the
wait, and `show` says why and that the time given is only its next try, not when it runs."""

from __future__ import annotations

import pytest
from rich.console import Console

from app.cli.render import run_details, run_status_text

RUN = {
    'id': 'run_1',
    'project_id': 'proj',
    'status': 'delayed',
    'kind': 'manual',
    'branch_name': 'main',
    'depth_level': 'shallow',
    'target_framework': 'python',
    'run_at': '2026-11-27T12:00:05Z',
}
WAITING = {**RUN, 'approval': 'waiting'}
HELD_BACK = {
    **RUN,
    'approval': 'approved',
    'approved_by': 'ann',
    'approved_at': '2026-11-27T12:00:00Z',
    'waits_for': "Branch 'main' is locked by active run run_0.",
}


@pytest.mark.parametrize(
    ('run', 'status'),
    [
        (WAITING, 'awaiting approval'),
        (HELD_BACK, 'approved, waits'),
        ({**HELD_BACK, 'waits_for': None}, 'delayed'),  # approved, due: nothing holds it back
        ({**HELD_BACK, 'status': 'queued', 'waits_for': None}, 'queued'),
        (RUN, 'delayed'),  # delayed to a time of its own
    ],
)
def test_the_list_names_the_wait(run: dict, status: str) -> None:
    assert run_status_text(run).plain == status


def shown(run: dict) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(run_details(run))
    return console.export_text()


def test_show_says_why_a_held_back_run_waits_and_when_it_is_tried_again() -> None:
    held = shown(HELD_BACK)
    assert 'approved by ann' in held and "waits: Branch 'main' is locked by active run run_0." in held
    assert 'Tried again' in held and 'Runs at' not in held
    due = shown({**HELD_BACK, 'waits_for': None})
    assert 'Runs at' in due and 'waits:' not in due


def test_show_says_a_retry_is_planned_and_why_it_waits() -> None:
    failed = {**RUN, 'status': 'failed', 'run_at': None}
    planned = {'attempt': 2, 'of': 3, 'waits': 'Run limit reached: 1 run per 60 s.'}
    said = shown({**failed, 'retry_planned': planned})
    assert 'to be retried automatically (attempt 2 of 3); it waits: Run limit reached: 1 run per 60 s.' in said
    assert 'Retry ' not in shown(failed)


def test_show_names_the_afk_run_that_took_up_a_crashed_runs_issue() -> None:
    """Its Retry would be refused (issue_busy): `show` says which run to follow instead, as the run page does."""
    crashed = {**RUN, 'status': 'crashed', 'kind': 'auto', 'issue_number': 7, 'issue_taken_up_by': 'run_9'}
    assert 'Issue taken up by  run_9' in shown(crashed)
    assert 'taken up' not in shown({**crashed, 'issue_taken_up_by': None})
