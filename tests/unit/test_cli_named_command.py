"""Which part of the CLI a command line needs built (app/cli/main.py named_command)."""

from __future__ import annotations

import pytest

from app.cli.main import named_command


@pytest.mark.parametrize(
    ('args', 'named'),
    [
        (['runs', 'list'], 'runs'),
        (['runs'], 'runs'),
        (['quota', '--json'], 'quota'),
        (['--server', 'http://x:8080', 'runs', 'show', 'run_1'], 'runs'),  # the root's option and its value
        (['--server=http://x:8080', 'projects', 'list'], 'projects'),
        (['--server', 'runs', 'afk', 'status'], 'afk'),  # 'runs' is --server's value here
        (['--version'], ''),  # the root alone
        (['--help'], None),  # the whole app: it lists every group
        ([], None),
        (['nope'], None),  # click says so, naming the commands it knows
        (['runs', '--help'], 'runs'),  # help of a group: the group alone
    ],
)
def test_named_command(args: list[str], named: str | None) -> None:
    assert named_command(args) == named
