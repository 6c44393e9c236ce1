"""How `runboard runs logs` prints a run's output in a terminal (app/cli/render.py terminal_text): colours and
links kept as styles, every other escape sequence gone, the last carriage-returned part shown. Pure table test."""

from __future__ import annotations

import pytest

from app.cli.render import event_line, terminal_text, without_controls


@pytest.mark.parametrize(
    ('output', 'plain', 'styled'),
    [
        ('plain words [red]not markup[/red]', 'plain words [red]not markup[/red]', []),
        ('\x1b[1;32mgreen bold\x1b[0m done', 'green bold done', [('green bold', 'bold color(2)')]),
        (
            '\x1b]8;;https://ci.test/1\x1b\\the build\x1b]8;;\x1b\\',
            'the build',
            [('the build', 'link https://ci.test/1')],
        ),
        ('progress 10%\rprogress 50%\rprogress 100%', 'progress 100%', []),  # what a terminal ends up showing
        ('cursor \x1b[2K\x1b[1Gerased', 'cursor erased', []),  # cursor moves and erases: dropped
        ('\x1b]0;a new title\x1b\\title kept', 'title kept', []),  # a window title: dropped
        ('broken \x1b[31', 'broken ␛[31', []),  # an unfinished sequence is shown, never sent to the terminal
    ],
)
def test_output_reads_as_the_run_page_shows_it(output: str, plain: str, styled: list[tuple[str, str]]) -> None:
    text = terminal_text(output)
    assert text.plain == plain
    assert '\x1b' not in text.plain
    assert [(text.plain[s.start : s.end], str(s.style)) for s in text.spans] == styled


def test_an_output_event_is_its_time_then_its_text() -> None:
    line = event_line({'type': 'output', 'text': '\x1b[31mFAILED\x1b[0m test_login', 'at': '2026-11-26T07:00:00Z'})
    assert line.plain.endswith('  FAILED test_login')
    assert any(str(span.style) == 'color(1)' for span in line.spans)


@pytest.mark.parametrize(
    ('written', 'printed'),
    [
        ('### Coverage\n\n| a | b |\t', '### Coverage\n\n| a | b |\t'),  # newlines and tabs stay
        ('\x1b]0;renamed\x07done', ']0;renameddone'),  # a title change: its controls gone, its words inert text
        ('\x1b[2Jcleared?', '[2Jcleared?'),
        ('bell\x07 del\x7f c1\x9b', 'bell del c1'),
        ('naïve ünïcode ✓', 'naïve ünïcode ✓'),
    ],
)
def test_a_summary_reaches_the_terminal_without_controls(written: str, printed: str) -> None:
    assert without_controls(written) == printed
