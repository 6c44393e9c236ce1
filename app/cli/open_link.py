"""`runboard open`: the sign-in link of this machine's local Runboard (the one it printed at start), printed and
opened in the browser. It is read from the data dir, which only its owner can read (docs/security.md, "Local mode:
who is at the keyboard"). No local server to open (none started with the data dir, or the one that did no longer
answers) is exit 5, "could not reach the server", saying how to start it: the link of a stopped server opens nothing."""

from __future__ import annotations

import os
import shlex
import sys
import webbrowser
from pathlib import Path
from typing import Annotated

import httpx
import typer

from app import local_sign_in
from app.cli.admin import DataDirOpt, _settings
from app.cli.policy import Exit

PROBE_SECONDS = 3.0  # a local server answers its liveness probe at once; a stopped one refuses the connection


def can_open_a_browser() -> bool:
    """A graphical browser, not a console one taking over this terminal (webbrowser picks lynx without a display)."""
    return sys.platform in ('darwin', 'win32') or bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def answers(base_url: str) -> bool:
    """Does anything answer HTTP at the server's address? Any status counts (a server still starting answers 503)."""
    try:
        httpx.get(base_url.rstrip('/') + '/api/health/live', timeout=PROBE_SECONDS)
    except httpx.HTTPError:
        return False
    return True


def start_hint(data_dir: Path, given: Path | None) -> str:
    """Pure: the command that starts the local server of this data dir (`--data-dir` when one was given here)."""
    return 'runboard serve' + (f' --data-dir {shlex.quote(str(data_dir))}' if given is not None else '')


def open_ui(
    data_dir: DataDirOpt = None,
    no_browser: Annotated[bool, typer.Option('--no-browser', help='Only print the link.')] = False,
) -> None:
    """Print the local server's sign-in link and open it in the browser (local mode). Exit 5 when no local server
    of the data dir is running, saying how to start one."""
    settings = _settings(data_dir=data_dir)
    start = start_hint(settings.data_dir, data_dir)
    token = local_sign_in.read_token(settings.data_dir)
    if token is None:
        typer.echo(
            f'No local Runboard has started with the data dir {settings.data_dir} (or it is not yours to read). '
            f'Start it with `{start}` (or scripts/start.sh); a team server asks you to sign in instead.',
            err=True,
        )
        raise typer.Exit(int(Exit.UNREACHABLE))
    base_url = local_sign_in.read_server_url(settings.data_dir) or settings.effective_public_url
    if not answers(base_url):
        typer.echo(
            f'The local Runboard of the data dir {settings.data_dir} is not running: nothing answers at {base_url}. '
            f'Start it with `{start}` (or scripts/start.sh); it prints its sign-in link, and `runboard open` opens it '
            'from then on.',
            err=True,
        )
        raise typer.Exit(int(Exit.UNREACHABLE))
    url = local_sign_in.sign_in_url(base_url, token)
    typer.echo(url)
    if not no_browser and can_open_a_browser():
        webbrowser.open(url)
