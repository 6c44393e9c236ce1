"""`runboard quota`: how many runs you may still start in the current rate-limit window."""

from __future__ import annotations

from app.cli import render
from app.cli.context import Cli, JsonOpt, ServerOpt


def quota(json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Show how many runs you may still start in the current rate-limit window."""
    Cli.make(server, json_output).show(lambda client: client.quota(), render.quota_table)
