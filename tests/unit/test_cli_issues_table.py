"""`runboard issues list` in a narrow terminal (app/cli/render.py issues_table): the claiming run's id and every
label are shown whole, however narrow the terminal, so they can be read and pasted."""

from __future__ import annotations

import pytest
from rich.console import Console

from app.cli.render import issues_table

RUN_ID = 'run_01m8czswdwave4ejg6b0610xda'
ISSUES = [
    {
        'number': 1,
        'title': 'Add a logout button to the settings page',
        'state': 'closed',
        'labels': ['ready-for-agent'],
        'ready': False,
        'claim': {'state': 'done', 'run_id': RUN_ID},
    },
    {'number': 2, 'title': 'Decide', 'state': 'open', 'labels': ['needs-discussion'], 'ready': False, 'claim': None},
]


@pytest.mark.parametrize('width', [80, 100, 160])
def test_the_claiming_run_and_the_labels_are_whole_at_any_width(width: int) -> None:
    console = Console(width=width, record=True, color_system=None)
    console.print(issues_table(ISSUES))
    shown = console.export_text()
    assert RUN_ID in shown
    assert '…' not in shown  # nothing cut short (a label too wide is folded onto the next line)
