"""Links into a log and the rows the browser draws (app/state/log_links.py, app/state/log_rows.py; no I/O)."""

from __future__ import annotations

import pytest

from app.state.log_links import download_name, download_path, is_run_id, line_from_hash, line_hash, reachable_line
from app.state.log_rows import row
from app.state.timeline import Line


@pytest.mark.parametrize(
    ('fragment', 'line'),
    [
        ('#L500', 500),
        ('L7', 7),
        (' #L12 ', 12),
        ('#L0', None),  # lines start at 1
        ('#L-3', None),
        ('#L05', None),
        ('#l5', None),
        ('#L5-L9', None),
        ('#L1234567890123', None),  # absurdly long
        ('#top', None),
        ('', None),
        (None, None),
    ],
)
def test_the_line_a_fragment_links_to(fragment: str | None, line: int | None) -> None:
    assert line_from_hash(fragment) == line


def test_a_line_link_round_trips() -> None:
    assert line_hash(123) == '#L123' and line_from_hash(line_hash(123)) == 123


@pytest.mark.parametrize(('requested', 'newest', 'shown'), [(5, 10, 5), (50, 10, 10), (1, 1, 1), (3, 0, None)])
def test_a_link_past_the_end_shows_the_last_line(requested: int, newest: int, shown: int | None) -> None:
    assert reachable_line(requested, newest) == shown


@pytest.mark.parametrize(
    ('text', 'ok'),
    [
        ('run_01m83n9xdqdw9s78v3r0d3257v', True),
        ('run-1.a', True),
        ('..', False),
        ('a..b', False),
        ('a?b', False),
        ('a/b', False),
        ('', False),
        ('.hidden', False),
        ('x' * 129, False),
    ],
)
def test_only_run_ids_are_sent_on_to_the_api(text: str, ok: bool) -> None:
    assert is_run_id(text) is ok


def test_download_address_and_file_name() -> None:
    assert download_path('run_1') == '/run-logs/run_1.log' and download_name('run_1') == 'run_1.log'


@pytest.mark.parametrize(
    ('line', 'expected'),
    [
        (
            Line(1, 'output', 'plain <b>text</b> & more', 'T'),
            [1, 'output', 'plain &lt;b&gt;text&lt;/b&gt; &amp; more', 'T'],
        ),
        (
            Line(2, 'output', '\x1b[31mred\x1b[0m <i>', ''),
            [2, 'output', '<span class="rb-ansi-1">red</span> &lt;i&gt;', ''],
        ),
        (Line(3, 'stage', '<build>', ''), [3, 'stage', '&lt;build&gt;', '']),
        (Line(4, 'status', '\x1b[31mnot decoded\x1b[0m', ''), [4, 'status', '\x1b[31mnot decoded\x1b[0m', '']),
    ],
)
def test_rows_carry_escaped_html(line: Line, expected: list) -> None:
    assert row(line) == expected
