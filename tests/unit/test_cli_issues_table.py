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


def test_an_issue_title_is_shown_as_written_never_as_markup_or_escapes() -> None:
    """Anyone who files an issue writes its title: rich markup in it is text, escapes and line breaks do nothing."""
    title = '[bold red]Fix[/] [link=http://evil.example]login[/link]\x1b]0;PWNED\x07\nline two'
    console = Console(width=160, record=True, force_terminal=True)
    console.print(issues_table([{**ISSUES[1], 'title': title}]))
    shown = console.export_text(styles=False)
    assert '[bold red]Fix[/] [link=http://evil.example]login[/link]⏎line two' in shown
    assert 'PWNED' not in shown and '\x1b]' not in console.export_text(styles=True)
