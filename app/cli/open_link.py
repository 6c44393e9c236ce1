"""`runboard open`: the sign-in link of this machine's local Runboard (the one it printed at start), printed and
opened in the browser. It is read from the data dir, which only its owner can read (docs/security.md, "Local mode:
who is at the keyboard")."""

from __future__ import annotations

import os
import sys
import webbrowser
from typing import Annotated

import typer

from app import local_sign_in
from app.cli.admin import DataDirOpt, _settings


def can_open_a_browser() -> bool:
    """A graphical browser, not a console one taking over this terminal (webbrowser picks lynx without a display)."""
    return sys.platform in ('darwin', 'win32') or bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def open_ui(
    data_dir: DataDirOpt = None,
    no_browser: Annotated[bool, typer.Option('--no-browser', help='Only print the link.')] = False,
) -> None:
    """Print the local server's sign-in link and open it in the browser (local mode)."""
    settings = _settings(data_dir=data_dir)
    token = local_sign_in.read_token(settings.data_dir)
    if token is None:
        typer.echo(
            f'No local Runboard has started with the data dir {settings.data_dir} (or it is not yours to read). '
            'Start it with `runboard serve` (or scripts/start.sh); a team server asks you to sign in instead.',
            err=True,
        )
        raise typer.Exit(1)
    url = local_sign_in.sign_in_url(
        local_sign_in.read_server_url(settings.data_dir) or settings.effective_public_url, token
    )
    typer.echo(url)
    if not no_browser and can_open_a_browser():
        webbrowser.open(url)
