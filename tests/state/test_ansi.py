"""Table tests: ANSI colours in output lines become safe HTML spans; everything else stays text."""

from __future__ import annotations

import pytest

from app.state.ansi import ansi_html, plain_text


@pytest.mark.parametrize(
    ('line', 'html'),
    [
        ('plain line', None),  # no escape: shown as text, untouched
        ('\x1b[31merror: something broke\x1b[0m', '<span class="rb-ansi-1">error: something broke</span>'),
        ('ok \x1b[1;32mPASS\x1b[0m done', 'ok <span class="rb-ansi-2" style="font-weight: 700">PASS</span> done'),
        ('\x1b[38;5;208morange\x1b[0m', '<span style="color: #ff8700">orange</span>'),
        ('\x1b[38;2;1;2;3mrgb\x1b[0m', '<span style="color: #010203">rgb</span>'),
        (
            '\x1b[31m<script>alert(1)</script>\x1b[0m',
            '<span class="rb-ansi-1">&lt;script&gt;alert(1)&lt;/script&gt;</span>',
        ),
        ('a & b \x1b[2Kcleared', 'a &amp; b cleared'),  # other control sequences are dropped
        ('\x1b[4;3munder\x1b[0m', '<span style="font-style: italic; text-decoration: underline">under</span>'),
        ('\x1b[0m', ''),
    ],
)
def test_ansi_lines_become_escaped_spans(line: str, html: str | None) -> None:
    assert ansi_html(line) == html


def test_plain_text_drops_the_escapes() -> None:
    assert plain_text('\x1b[31merror\x1b[0m: x') == 'error: x'
    assert plain_text('no escapes') == 'no escapes'
