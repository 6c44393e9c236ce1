"""The text a person types for a command, a list and a duration, and back (app/state/form_text.py)."""

from __future__ import annotations

import pytest

from app.state.form_text import (
    command_text,
    duration_text,
    parse_command,
    parse_duration,
    split_names,
    switch_command_mode,
    whole_number,
)


@pytest.mark.parametrize(
    ('text', 'mode', 'argv'),
    [
        ('sh run.sh', 'line', ['sh', 'run.sh']),
        ('  pytest   -x  ', 'line', ['pytest', '-x']),
        ("sh -c 'make test && make lint'", 'line', ['sh', '-c', 'make test && make lint']),
        ('echo "a b" c\\ d', 'line', ['echo', 'a b', 'c d']),
        ('echo $HOME; rm -rf /', 'line', ['echo', '$HOME;', 'rm', '-rf', '/']),  # no shell: just words
        ('echo # not a comment', 'line', ['echo', '#', 'not', 'a', 'comment']),
        ('', 'line', []),
        ('sh\n-c\nmake test && make lint\n', 'lines', ['sh', '-c', 'make test && make lint']),
        ('python\n\n  \nscript.py', 'lines', ['python', 'script.py']),  # blank lines are no arguments
        ('echo\n "quoted" ', 'lines', ['echo', ' "quoted" ']),  # a line is taken exactly as typed
    ],
)
def test_a_command_is_split_into_its_argv(text: str, mode, argv: list[str]) -> None:  # noqa: ANN001
    assert parse_command(text, mode) == argv


@pytest.mark.parametrize('text', ["echo 'unclosed", 'echo "half', 'trailing\\'])
def test_a_line_that_does_not_split_says_how_to_fix_it(text: str) -> None:
    with pytest.raises(ValueError, match='close the quote or escape it'):
        parse_command(text, 'line')


@pytest.mark.parametrize(
    'argv',
    [['sh', 'run.sh'], ['sh', '-c', 'make test && make lint'], ["it's", 'a "b"', ''], ['multi\nline', 'x']],
)
def test_an_argv_written_as_a_line_reads_back_the_same(argv: list[str]) -> None:
    assert parse_command(command_text(argv, 'line'), 'line') == argv


@pytest.mark.parametrize(
    ('text', 'old', 'new', 'expected'),
    [
        ("sh -c 'make test'", 'line', 'lines', 'sh\n-c\nmake test'),
        ('sh\n-c\nmake test', 'lines', 'line', "sh -c 'make test'"),
        ("echo 'unclosed", 'line', 'lines', "echo 'unclosed"),  # does not parse: left for the person to fix
        ("printf 'a\nb'", 'line', 'lines', "printf 'a\nb'"),  # an argument with a line break needs a line
        ('same', 'line', 'line', 'same'),
    ],
)
def test_switching_the_command_mode_rewrites_the_same_argv(text: str, old, new, expected: str) -> None:  # noqa: ANN001
    assert switch_command_mode(text, old, new) == expected


@pytest.mark.parametrize(
    ('text', 'names'),
    [
        ('shallow, standard, deep', ['shallow', 'standard', 'deep']),
        ('linux,gpu', ['linux', 'gpu']),
        (' a ,, b ,\n c', ['a', 'b', 'c']),
        ('', []),
        ('a, a', ['a', 'a']),  # duplicates are the server's to refuse, with its own message
    ],
)
def test_names_are_comma_separated(text: str, names: list[str]) -> None:
    assert split_names(text) == names


@pytest.mark.parametrize(
    ('text', 'seconds'),
    [('', None), ('  ', None), ('90', 90), ('90s', 90), ('10m', 600), ('2h', 7200), ('1d', 86400)]
    + [('1h30m', 5400), ('1H 30M', 5400), ('2h0m5s', 7205)],
)
def test_durations_read_as_seconds(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ('text', 'message'),
    [('soon', 'Write a duration'), ('1.5h', 'Write a duration'), ('h', 'Write a duration'), ('-5', 'Write')]
    + [('0', 'longer than 0'), ('0m', 'longer than 0')],
)
def test_a_duration_that_is_not_one_says_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ('seconds', 'text'), [(None, ''), (45, '45s'), (600, '10m'), (7200, '2h'), (5400, '1h30m'), (90061, '1d1h1m1s')]
)
def test_seconds_are_written_as_the_shortest_duration_that_reads_back(seconds: int | None, text: str) -> None:
    assert duration_text(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(('value', 'number'), [(None, None), ('', None), (3, 3), (3.0, 3), ('4', 4), (0, 0), (-1, -1)])
def test_a_number_box_holds_a_whole_number(value, number: int | None) -> None:  # noqa: ANN001
    assert whole_number(value) == number  # 0 and -1 are the server's to refuse (at least 1)


@pytest.mark.parametrize('value', [2.5, 'two', 'nan'])
def test_a_fraction_or_text_is_not_a_whole_number(value) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match='whole number'):
        whole_number(value)
