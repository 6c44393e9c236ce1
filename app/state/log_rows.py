"""What the log viewer sends the browser for each line (pure).

A line travels as a compact row: [seq, kind, html, at]. The html is safe to insert as it is: every
character of the text is escaped, and the only markup is app/state/ansi.py's own colour spans and the span that
colours a run's outcome line (`failed: exit code 1` red, `succeeded` green). The
browser adds the gutter (line number, time), the copy button, search marks, stage folding and the
`::group::` folds (kinds `group` and `endgroup`, app/core/workflow_commands.py). An `annotation` line (`::error
file=app.py,line=3::boom`) is drawn as what it says: its level, title, message and place.
"""

from __future__ import annotations

from html import escape

from app.core.workflow_commands import MAX_ANNOTATIONS, annotation_of
from app.state.ansi import ansi_html, terminal_shown
from app.state.timeline import Line

LEVEL_WORDS = {'error': 'Error', 'warning': 'Warning', 'notice': 'Notice'}
OUTCOMES = ('succeeded', 'failed', 'timed_out', 'crashed')  # the status lines drawn in their outcome's colour


def annotations_note(count: int) -> str | None:
    """Under the run page's annotations: the API lists a run's first MAX_ANNOTATIONS (in log order) and says
    nothing of the rest, so a full list says where any more are (None below that: all are listed)."""
    if count < MAX_ANNOTATIONS:
        return None
    return (
        f'The first {MAX_ANNOTATIONS} annotations are listed: any later ones are marked in the log only '
        '(search it for ::error, ::warning or ::notice).'
    )


def annotation_html(text: str) -> str | None:
    """`<b>Error</b> T: boom · app.py:3` as safe HTML, or None when the text is not an annotation."""
    annotation = annotation_of(text)
    if annotation is None:
        return None
    parts = [f'<span class="rb-level rb-level-{annotation.level}">{LEVEL_WORDS[annotation.level]}</span> ']
    if annotation.title:
        parts.append(f'<span class="rb-ann-title">{escape(annotation.title, quote=False)}</span>: ')
    parts.append(escape(annotation.message, quote=False))
    if annotation.place:
        parts.append(f' <span class="rb-ann-place">{escape(annotation.place, quote=False)}</span>')
    return ''.join(parts)


def outcome_html(text: str) -> str | None:
    """The run's outcome line (`failed: exit code 1`) in a span naming the outcome, or None for other status lines."""
    word = text.split(' ', 1)[0].rstrip(':,.')
    if word not in OUTCOMES:
        return None
    return f'<span class="rb-outcome rb-outcome-{word}">{escape(text, quote=False)}</span>'


def row(line: Line) -> list[int | str]:
    html: str | None = None
    kind, text = line.kind, line.text
    if kind == 'output':
        text = terminal_shown(text)
        html = ansi_html(text)
    elif kind in ('annotation', 'runboard_annotation'):
        kind, html = 'annotation', annotation_html(text)  # Runboard's own are shown as the run's are
        if html is None:  # (not written by this version's ingest) shown as the line it is
            kind, text = 'output', terminal_shown(text)
            html = ansi_html(text)
    elif kind == 'status':
        html = outcome_html(text)
    return [line.seq, kind, html if html is not None else escape(text, quote=False), line.at]


def rows(lines: list[Line]) -> list[list[int | str]]:
    return [row(line) for line in lines]
