"""What the log viewer sends the browser for each line (pure).

A line travels as a compact row: [seq, kind, html, at]. The html is safe to insert as it is: every
character of the text is escaped, and the only markup is app/state/ansi.py's own colour spans. The
browser adds the gutter (line number, time), the copy button, search marks and stage folding.
"""

from __future__ import annotations

from html import escape

from app.state.ansi import ansi_html
from app.state.timeline import Line


def row(line: Line) -> list[int | str]:
    html = ansi_html(line.text) if line.kind == 'output' else None
    return [line.seq, line.kind, html if html is not None else escape(line.text, quote=False), line.at]


def rows(lines: list[Line]) -> list[list[int | str]]:
    return [row(line) for line in lines]
