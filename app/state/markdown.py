"""Markdown somebody else wrote (an issue's body, a run's summary) as HTML for a page: markdown2 with
`safe_mode='escape'` (raw HTML shown as text, `javascript:` links dropped); the page hands the result to DOMPurify as
well. Pure: no NiceGUI."""

from __future__ import annotations

import markdown2

EXTRAS = ['fenced-code-blocks', 'tables', 'strike', 'task_list', 'cuddled-lists', 'code-friendly']


def markdown_html(body: str) -> str:
    """The Markdown as HTML with no HTML of the author's: tags are text, unsafe links go nowhere."""
    if not body.strip():
        return ''
    rendered = str(markdown2.markdown(body, safe_mode='escape', extras=EXTRAS))
    # a task list's boxes are read-only marks: name each, so a screen reader says more than "checkbox"
    rendered = rendered.replace(
        'class="task-list-item-checkbox" checked', 'class="task-list-item-checkbox" aria-label="done" checked'
    )
    return rendered.replace(
        'class="task-list-item-checkbox" disabled', 'class="task-list-item-checkbox" aria-label="to do" disabled'
    )
