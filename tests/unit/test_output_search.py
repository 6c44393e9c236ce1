"""The log search's pure parts: which text a line shows (the same as the UI's ANSI decoder), which
queries are refused, and the LIKE patterns and SQL shortcut for ASCII needles."""

from __future__ import annotations

import pytest

from app.core.errors import DomainError
from app.services.runs.output_search import filters_for, holds, like_pattern, needle_of, shown_text
from app.state.ansi import plain_text

# line as stored -> what the viewer shows
SHOWN = [
    ('plain text', 'plain text'),
    ('\x1b[31merror\x1b[0m: x', 'error: x'),  # SGR colours
    ('\x1b[1;38;2;255;0;0mtrue\x1b[0mcolour', 'truecolour'),
    ('\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\', 'link'),  # OSC 8 hyperlink
    ('\x1b[2K\x1b[1Gcleared', 'cleared'),  # other CSI sequences are dropped
    ('\x1b(Bcharset', 'charset'),  # ESC ( B: a charset choice, one character more (as rich reads it)
    ('\x1b7saved\x1b8', 'saved'),
    ('old\r\x1b[32mnew\x1b[0m', 'new'),  # with escapes: what follows the last carriage return
    ('old 10%\rold 50%\rnew', 'new'),  # without escapes too: a progress meter ends as its last state
    ('broken \x1b[31', 'broken \x1b[31'),  # an unfinished sequence stays text
    ('<b>not markup</b> \x1b[1m&amp;\x1b[0m', '<b>not markup</b> &amp;'),
]


@pytest.mark.parametrize(('line', 'shown'), SHOWN)
def test_a_line_is_searched_as_the_viewer_shows_it(line: str, shown: str) -> None:
    assert shown_text(line) == shown
    assert shown_text(line) == plain_text(line)  # the UI's decoder (rich) agrees


@pytest.mark.parametrize(
    ('line', 'needle', 'found'),
    [
        ('\x1b[31mERR\x1b[0mOR here', 'error', True),  # across a colour change
        ('Straße', 'straße', True),
        ('\u212a', 'k', True),  # the Kelvin sign lowers to k
        ('[31m', '[31m', True),  # the characters themselves, when printed without ESC
        ('\x1b[31mred\x1b[0m', '[31m', False),
    ],
)
def test_holds_matches_any_case_as_shown(line: str, needle: str, found: bool) -> None:
    assert holds(line, needle) is found


@pytest.mark.parametrize(
    ('q', 'refused'),
    [
        (None, 'empty'),
        ('', 'empty'),
        ('  \t ', 'empty'),
        ('x' * 201, 'longer than 200'),
        ('a\nb', 'one line'),
        ('a\rb', 'one line'),
        ('a\x00', 'one line'),
    ],
)
def test_bad_queries_are_refused_with_a_reason(q: str | None, refused: str) -> None:
    with pytest.raises(DomainError) as caught:
        needle_of(q)
    assert caught.value.status == 422 and caught.value.error == 'validation' and refused in caught.value.detail


@pytest.mark.parametrize('q', ['x', ' padded ', 'x' * 200, 'ünïcode', '100%_\\'])
def test_a_query_is_kept_as_typed(q: str) -> None:
    assert needle_of(q) == q


@pytest.mark.parametrize(
    ('fragment', 'pattern'),
    [('abc', '%abc%'), ('100%', '%100\\%%'), ('a_b', '%a\\_b%'), ('c:\\x', '%c:\\\\x%')],
)
def test_like_patterns_take_wildcards_literally(fragment: str, pattern: str) -> None:
    assert like_pattern(fragment) == pattern


def test_the_sql_shortcut_is_for_ascii_needles_and_always_checks_special_lines() -> None:
    assert filters_for('crème') is None and filters_for('✓') is None
    plain = filters_for('error')
    assert plain is not None and 'fold_' not in plain.special  # no k, no i: only escape and \r lines are special
    assert plain.params['cr'] == '%\r%' and plain.candidates.count(' OR ') == 2
    kelvin = filters_for('kit')
    assert kelvin is not None and kelvin.params['fold_k'] == '%\u212a%' and kelvin.params['fold_i'] == '%\u0130%'
    assert kelvin.candidates.count(' OR ') == 4 and 'NOT (' in kelvin.plain_matches
