"""Text a run wrote, shown as code (an artifact's preview, a test's trace), stays one code block whatever it holds:
rendered as NiceGUI's ui.code renders it (markdown2, raw HTML allowed), nothing of it becomes markup of the page."""

from __future__ import annotations

import html
import re

import pytest
from nicegui.elements.markdown import prepare_content

from app.state.markdown import fenced_code

BREAKOUT = '<h1 id="injected">x</h1><form action="https://evil.example/"><input name="token"></form>'


def rendered(markdown: str) -> str:
    return prepare_content(markdown, 'fenced-code-blocks')  # ui.code's own Markdown element


def shown_text(page_html: str) -> str:
    return html.unescape(re.sub(r'<[^>]+>', '', page_html))


@pytest.mark.parametrize(
    'text',
    [
        # a fence on a line of its own ends ui.code's ``` block
        f'first line\n```\n{BREAKOUT}\n```',
        # so does one at the end of any line
        f'echo ```\n{BREAKOUT}',
        # longer runs of backticks, before and after
        f'````\n{BREAKOUT}\n`````\n',
        # a fence with trailing blanks
        f'```   \n{BREAKOUT}',
        # nothing to break out of
        'plain <b>bold</b> & "quotes"',
        '',
    ],
)
@pytest.mark.parametrize('language', ['python', 'xml', None])
def test_the_text_is_one_code_block_shown_as_written(text: str, language: str | None) -> None:
    page = rendered(fenced_code(text, language))
    assert page.count('<pre') == 1, page
    assert not re.search(r'<(h1|form|input|b)[\s>]', page), page
    assert shown_text(page).strip('\n') == text.strip('\n')


def test_the_fence_outgrows_the_longest_run_of_backticks() -> None:
    assert fenced_code('a ` b `` c', 'python') == '```python\na ` b `` c\n```'
    assert fenced_code('x\n```\ny', None) == '````\nx\n```\ny\n````'
    assert fenced_code('`' * 7, 'xml').startswith('`' * 8 + 'xml\n')
