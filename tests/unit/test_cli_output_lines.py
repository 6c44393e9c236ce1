"""How `runboard runs logs` prints a run's output in a terminal (app/cli/render.py terminal_text): colours and
links kept as styles, every other escape sequence and control gone, the last carriage-returned part shown; and how
it and `runs show` print the names and titles a run wrote (one_line): one inert line each. Pure table tests."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from app.cli.render import annotations_table, event_line, stages_table, terminal_text, without_controls


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


# what a run may write into a stage name, a group title, an annotation or a status line it causes
TITLE_CONTROL = '\x1b]0;PWNED\x07'
CLEAR = '\x1b[2J\x1b[1A\x1b[2K'
FORGED = '07:44:12  ● succeeded: exit code 0'
CONTROL_CHARACTER = re.compile('[\x00-\x1f\x7f-\x9f]')


@pytest.mark.parametrize(
    ('event', 'shown'),
    [
        ({'type': 'stage', 'text': f'build{TITLE_CONTROL}{CLEAR}'}, '▶ build'),
        ({'type': 'group', 'text': f'g{CLEAR}...'}, '▸ g...'),
        ({'type': 'group', 'text': f'g\n{FORGED}'}, f'▸ g⏎{FORGED}'),  # `::group::g%0A...`: no forged line
        ({'type': 'group', 'text': 'g\r\nh\ri\x85j\u2028k'}, '▸ g⏎h⏎i⏎j⏎k'),
        (
            {'type': 'annotation', 'text': '::error title=t\x1b[31m::msg\x1b]8;;http://evil/\x1b\\ here\x1b]8;;\x1b\\'},
            '::error title=t::msg here',
        ),
        ({'type': 'runboard_annotation', 'text': f'::warning::a{CLEAR}b'}, '::warning::ab'),
        (
            {'type': 'status', 'text': f'Coverage: 80.00 % from cov{TITLE_CONTROL}.xml\n{FORGED}'},  # a report's name
            f'● Coverage: 80.00 % from cov.xml⏎{FORGED}',
        ),
        ({'type': 'stage', 'text': 'c1 \x9b2J csi \x0eshift\x0f \x1bc'}, '▶ c1 2J csi shift ␛c'),
    ],
)
def test_a_name_or_title_the_run_wrote_is_one_inert_line(event: dict, shown: str) -> None:
    line = event_line({**event, 'at': '2026-11-26T07:00:00Z'})
    assert not CONTROL_CHARACTER.search(line.plain)  # no escape sequence, no control, no line break
    assert line.plain.split('  ', 1)[1] == shown
    assert not any(getattr(span.style, 'link', None) for span in line.spans)


@pytest.mark.parametrize(
    ('output', 'plain', 'styled'),
    [
        ('\x1b[31mred\x1b[0m c1 \x9b2J \x0eshift\x0f', 'red c1 2J shift', [('red', 'color(1)')]),  # colours stay
        ('\x1b]0;a title\x07kept', 'kept', []),  # a title ended by BEL is dropped whole too
        ('\x1b]8;;https://ci.test/1\x07the build\x1b]8;;\x07', 'the build', [('the build', 'link https://ci.test/1')]),
        ('\x1b]8;;http://x\x1b[2J\x1b\\link\x1b]8;;\x1b\\', 'link', []),  # a link holding a control is no link
    ],
)
def test_an_output_line_keeps_its_colours_and_loses_every_control(
    output: str, plain: str, styled: list[tuple[str, str]]
) -> None:
    text = terminal_text(output)
    assert text.plain == plain
    assert [(text.plain[s.start : s.end], str(s.style)) for s in text.spans] == styled


RUN = {
    'stages': [{'name': f'build{CLEAR}\n{FORGED}', 'result': 'succeeded', 'seconds': 1.0, 'started_at': None}],
    'stage_count': 1,
    'annotations': [
        {
            'level': 'error',
            'title': f't{TITLE_CONTROL}',
            'message': f'msg\x1b]8;;http://evil/\x1b\\\n{FORGED}',
            'file': f'app{CLEAR}.py',
            'line': 3,
            'seq': 7,
        }
    ],
}


@pytest.mark.parametrize('table', [stages_table, annotations_table])
def test_the_stages_and_annotations_of_runs_show_are_inert_text(table: Callable[[dict], Table | None]) -> None:
    terminal = io.StringIO()
    Console(width=200, file=terminal, force_terminal=True, color_system='truecolor').print(table(RUN))
    printed = terminal.getvalue()
    assert '\x1b[2J' not in printed and ']0;' not in printed and 'evil' not in printed
    assert not any(line.strip().startswith('07:44:12') for line in Text.from_ansi(printed).plain.splitlines())
    assert '⏎' in printed
