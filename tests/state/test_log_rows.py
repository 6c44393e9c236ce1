"""The rows the log viewer draws for workflow-command events (app/state/log_rows.py): an annotation as its level,
title, message and place, all escaped; a group's title and an endgroup as they are; a line that only looks like an
annotation (an older run's) as text."""

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
    ],
)
def test_rows_of_workflow_command_events(kind: str, text: str, drawn: list[str]) -> None:
    assert row(Line(7, kind, text, 'at'))[1:3] == drawn
