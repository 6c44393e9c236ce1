"""Markdown somebody else wrote (an issue's body, a run's summary) as HTML for a page: markdown2 with
`safe_mode='escape'` (raw HTML shown as text, `javascript:` links dropped); the page hands the result to DOMPurify as
well. And text somebody else wrote shown as code (a preview of a run's file, a test's trace) fenced so that nothing in
it can end the fence. Pure: no NiceGUI."""

from __future__ import annotations

import re

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


_BACKTICKS = re.compile('`+')


def fenced_code(text: str, language: str | None) -> str:
    """`text` as one Markdown code block, fenced with more backticks than any run of them in it. markdown2 (which
    NiceGUI's ui.code renders its ```-fence with, raw HTML allowed) ends a fence at the first run of as many backticks
    followed by the end of a line, anywhere in a line: with a ``` fence, a file holding ``` would end the block there
    and the rest would reach the page as Markdown and HTML (a form, a link, styles over the page)."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = '`' * max(3, longest + 1)
    return f'{fence}{language or ""}\n{text}\n{fence}'
