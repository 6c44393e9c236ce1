"""The picker's busy marks after a live run update (table)."""

from __future__ import annotations

import pytest

from app.state.branch_marks import busy_holder, marks_after_run

MAIN_FREE = {'name': 'main', 'busy_run_id': None}
MAIN_BUSY = {'name': 'main', 'busy_run_id': 'r1'}
OTHER = {'name': 'feature/x', 'busy_run_id': None}


@pytest.mark.parametrize(
    'branches, run, after',
    [
        # a run that ends frees the branch it held
        ([MAIN_BUSY, OTHER], {'id': 'r1', 'branch_name': 'main', 'status': 'succeeded'}, [MAIN_FREE, OTHER]),
        ([MAIN_BUSY], {'id': 'r1', 'branch_name': 'main', 'status': 'stopped'}, [MAIN_FREE]),
        # a run that starts marks its branch (queued already holds the lock)
        (
            [MAIN_FREE, OTHER],
            {'id': 'r2', 'branch_name': 'main', 'status': 'queued'},
            [{**MAIN_FREE, 'busy_run_id': 'r2'}, OTHER],
        ),
        # another run ending does not free a branch someone else holds
        ([MAIN_BUSY], {'id': 'r9', 'branch_name': 'main', 'status': 'failed'}, None),
        # an active run on a held branch leaves the holder as it is (the server decides who holds it)
        ([MAIN_BUSY], {'id': 'r2', 'branch_name': 'main', 'status': 'running'}, None),
        # still running: nothing changes
        ([MAIN_BUSY], {'id': 'r1', 'branch_name': 'main', 'status': 'running'}, None),
        # a branch the picker does not list
        ([MAIN_FREE], {'id': 'r3', 'branch_name': 'fix/y', 'status': 'queued'}, None),
    ],
)
def test_marks_follow_the_runs(branches: list, run: dict, after: list | None) -> None:
    assert marks_after_run(branches, run) == after


@pytest.mark.parametrize(
    'branches, chosen, holder',
    [
        ([MAIN_BUSY, OTHER], 'main', 'r1'),  # the Run form says before the click that main is held, and by what
        ([MAIN_BUSY, OTHER], 'feature/x', None),
        ([MAIN_FREE], 'main', None),
        ([MAIN_BUSY], 'gone', None),  # a branch the list does not hold: the server decides at Run
        ([MAIN_BUSY], None, None),
    ],
)
def test_busy_holder(branches, chosen, holder) -> None:  # noqa: ANN001
    assert busy_holder(branches, chosen) == holder
