"""The rows the log viewer draws for workflow-command events (app/state/log_rows.py): an annotation as its level,
title, message and place, all escaped; a group's title and an endgroup as they are; a line that only looks like an
annotation (an older run's) as text; a line rewritten by carriage returns as its last state."""

from __future__ import annotations

import pytest

from app.state.log_rows import row
from app.state.timeline import Line


@pytest.mark.parametrize(
    ('kind', 'text', 'drawn'),
    [
        (
            'annotation',
            '::error file=app.py,line=3::boom',
            [
                'annotation',
                '<span class="rb-level rb-level-error">Error</span> boom <span class="rb-ann-place">app.py:3</span>',
            ],
        ),
        (
            'annotation',
            '::warning title=<b>::a & b',
            [
                'annotation',
                '<span class="rb-level rb-level-warning">Warning</span> '
                '<span class="rb-ann-title">&lt;b&gt;</span>: a &amp; b',
            ],
        ),
        ('annotation', 'not a command <i>', ['output', 'not a command &lt;i&gt;']),
        ('group', 'Install <deps>', ['group', 'Install &lt;deps&gt;']),
        ('endgroup', '', ['endgroup', '']),
        # a progress meter rewrote its line with carriage returns: the row is what a terminal ends up showing
        ('output', 'get 10%\rget 50%\rget <100%>', ['output', 'get &lt;100%&gt;']),
        ('output', 'get 10%\r\x1b[32mdone\x1b[0m', ['output', '<span class="rb-ansi-2">done</span>']),
        # the run's outcome line in its outcome's colour; the other status lines as they are
        ('status', 'failed: exit 1', ['status', '<span class="rb-outcome rb-outcome-failed">failed: exit 1</span>']),
        ('status', 'succeeded', ['status', '<span class="rb-outcome rb-outcome-succeeded">succeeded</span>']),
        ('status', 'running', ['status', 'running']),
        ('status', 'stopped by <b>', ['status', 'stopped by &lt;b&gt;']),
    ],
)
def test_rows_of_workflow_command_events(kind: str, text: str, drawn: list[str]) -> None:
    assert row(Line(7, kind, text, 'at'))[1:3] == drawn
