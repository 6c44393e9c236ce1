"""Git credentials from the command line, without the secret ever being an argument: a token read from an
environment variable (--token-env VAR) or from stdin (--token-stdin), or an SSH private key read from a
file (--ssh-key-file). argv is visible to every user of the machine (ps, /proc); these are not."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

TokenEnvOpt = Annotated[
    Optional[str],
    typer.Option('--token-env', metavar='VAR', help='Read an https access token from this environment variable.'),
]
TokenStdinOpt = Annotated[bool, typer.Option('--token-stdin', help='Read an https access token from stdin.')]
SshKeyOpt = Annotated[
    Optional[Path],
    typer.Option('--ssh-key-file', metavar='PATH', help='Read an SSH private key (a deploy key) from this file.'),
]
UsernameOpt = Annotated[
    Optional[str],
    typer.Option('--username', help="User name for the token or key (default 'git'; GitHub: 'x-access-token')."),
]


def credentials_from_options(
    *, token_env: str | None, token_stdin: bool, ssh_key_file: Path | None, username: str | None
) -> dict[str, Any] | None:
    """The API's write-only `credentials` object, or None when no credential option was given."""
    chosen = [
        flag
        for flag, given in (
            ('--token-env', token_env),
            ('--token-stdin', token_stdin),
            ('--ssh-key-file', ssh_key_file),
        )
        if given
    ]
    if len(chosen) > 1:
        raise typer.BadParameter(f'give one of {", ".join(chosen)}, not several')
    if not chosen:
        if username:
            raise typer.BadParameter('--username goes with --token-env, --token-stdin or --ssh-key-file')
        return None
    if ssh_key_file is not None:
        try:
            secret = ssh_key_file.read_text()
        except OSError as exc:
            raise typer.BadParameter(
                f'cannot read {ssh_key_file}: {exc.strerror or exc}', param_hint='--ssh-key-file'
            ) from exc
        kind = 'ssh_key'
    elif token_env is not None:
        secret = os.environ.get(token_env, '')
        if not secret:
            raise typer.BadParameter(
                f'the environment variable {token_env} is empty or not set', param_hint='--token-env'
            )
        kind = 'token'
    else:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise typer.BadParameter('no token on stdin', param_hint='--token-stdin')
        kind = 'token'
    return {'kind': kind, 'username': username or 'git', 'secret': secret.strip() if kind == 'token' else secret}
