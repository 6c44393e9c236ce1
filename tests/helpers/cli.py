"""Helpers for CLI tests: the CLI in this process against a real server, and a served project."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer.main
import typer.testing
from typer.testing import CliRunner

from app.cli.main import app
from tests.helpers.runs import create_project, shell_script
from tests.helpers.servers import ApiServer, api_server

# Succeeds, except at depth "deep" where it fails: both outcomes in a second.
PIPELINE = shell_script(
    'echo "start $RUNBOARD_BRANCH $RUNBOARD_DEPTH_LEVEL"\n'
    'echo "::stage:: work"\n'
    'if [ "$RUNBOARD_DEPTH_LEVEL" = deep ]; then echo "boom"; exit 3; fi\n'
    'echo "all good"'
)


def _command_built_once(typer_app: typer.Typer) -> Any:
    """typer's CliRunner builds the whole command tree again on every invoke: 0.13-0.17 s here, most of what a CLI
    call in a test costs (a `--help` page renders in less), over some 1,500 calls a run. The tree is the same each
    time (defaults and environment are read when a command is parsed, not when it is built), so it is built once."""
    key = id(typer_app)
    if key not in _BUILT:
        _BUILT[key] = (typer_app, typer.main.get_command(typer_app))
    return _BUILT[key][1]


_BUILT: dict[int, tuple[typer.Typer, Any]] = {}
assert typer.testing._get_command is typer.main.get_command, 'typer.testing no longer builds through get_command'
typer.testing._get_command = _command_built_once  # type: ignore[assignment]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_cli(
    server_url: str, token: str | None, *args: str, columns: int | None = 200, stdin: str | None = None
) -> CliResult:
    """The CLI in this process (typer's runner), talking HTTP to a real server, in a terminal `columns` wide (None:
    piped into another program, no width said)."""
    env = {'RUNBOARD_SERVER': server_url, 'RUNBOARD_TOKEN': token, 'COLUMNS': None if columns is None else str(columns)}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False, input=stdin)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@contextmanager
def served(
    settings_factory,
    repo_factory,
    *,
    branches: dict | None = None,  # noqa: ANN001
    **settings,
) -> Iterator[tuple[ApiServer, Any]]:  # noqa: ANN003
    """A server with project `proj` (branches main and feature/x, and any given) and a `cli(*args)` bound to it."""
    repo = repo_factory({'main': PIPELINE, 'feature/x': PIPELINE, **(branches or {})})
    with api_server(settings_factory(**settings)) as server, server.client() as client:
        create_project(client, repo)

        def cli(*args: str, url: str | None = None) -> CliResult:
            return run_cli(url or server.base_url, server.token, *args)

        yield server, cli
