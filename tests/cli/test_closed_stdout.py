"""`runboard runs logs RUN | head`: a reader that stops early ends the CLI with 141, quietly (app/cli/closed_stdout.py),
never with 1, which `--follow` means "the run did not succeed". A real process, as a shell pipes it."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.cli import served
from tests.helpers.runs import shell_script
from tests.helpers.servers import ROOT, ApiServer, clean_env

LINES = 20_000  # far more than a pipe holds: the CLI is still writing when its reader goes


def first_line_then_close(server: ApiServer, *args: str) -> tuple[int, str]:
    """`runboard ARGS | head -1`: the exit code and stderr of the CLI."""
    env = clean_env(RUNBOARD_SERVER=server.base_url, RUNBOARD_TOKEN=server.token)
    cli = subprocess.Popen(
        [sys.executable, '-m', 'app.cli', *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert cli.stdout is not None and cli.stderr is not None
    assert cli.stdout.readline()
    cli.stdout.close()
    stderr = cli.stderr.read().decode()
    return cli.wait(timeout=60), stderr


def test_a_reader_that_stops_early_ends_the_cli_with_141_and_nothing_on_stderr(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory, branches={'long': shell_script(f'seq 1 {LINES}')}) as (server, cli):
        trigger = ('runs', 'trigger', 'proj', '--branch', 'long', '--framework', 'python', '--follow', '--json')
        run = cli(*trigger).json()
        assert run['status'] == 'succeeded' and run['output_lines'] == LINES
        for shown in ([], ['--raw'], ['--follow'], ['--follow', '--json']):  # Rich's, bytes, a followed run's
            code, stderr = first_line_then_close(server, 'runs', 'logs', run['id'], *shown)
            assert (code, stderr) == (141, ''), shown
