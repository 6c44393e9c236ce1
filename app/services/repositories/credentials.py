"""Credentials for one git child process, handed over through its environment only.

A token travels as an `http.extraHeader` set through GIT_CONFIG_COUNT/KEY/VALUE: never in argv (other
users can read /proc/<pid>/cmdline), never in the URL (git writes it into the mirror's config), never in a
file. An ssh key exists on disk (ssh needs a file) only while the process runs, mode 0600.
"""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from app.services.repositories.gitops import PASSED_TO_GIT, PASSED_TO_REMOTE_GIT, passed_environment

CredentialKind = Literal['token', 'ssh_key']
REDACTED = '***'


@dataclass(frozen=True)
class Credentials:
    kind: CredentialKind
    username: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ('token', 'ssh_key'):
            raise ValueError(f'unknown credential kind {self.kind!r}')
        if not self.secret.strip():
            raise ValueError('the credential secret is empty')
        if ':' in self.username or any(ord(c) < 32 or c.isspace() for c in self.username):
            raise ValueError('the credential username must not contain a colon, whitespace or control characters')


def basic_header_value(credentials: Credentials) -> str:
    """`Basic base64(user:token)`; forges accept any user name with a token, so a blank one becomes git's."""
    pair = f'{credentials.username or "git"}:{credentials.secret}'
    return 'Basic ' + base64.b64encode(pair.encode()).decode()


def base_environment(allowed_protocols: str) -> dict[str, str]:
    """Only what git and its ssh, proxy and credential helpers need of the server's environment (gitops): never its
    secrets, nor an inherited variable that would redirect or prompt a git child (GIT_DIR, GIT_CONFIG_*, GIT_SSH*,
    askpass)."""
    env = passed_environment((*PASSED_TO_GIT, *PASSED_TO_REMOTE_GIT))
    env.update(
        GIT_TERMINAL_PROMPT='0',
        LC_ALL='C',
        GIT_ALLOW_PROTOCOL=allowed_protocols,
        GIT_CONFIG_NOSYSTEM='1',
    )
    return env


def _config_env(pairs: list[tuple[str, str]]) -> dict[str, str]:
    env = {'GIT_CONFIG_COUNT': str(len(pairs))}
    for index, (key, value) in enumerate(pairs):
        env[f'GIT_CONFIG_KEY_{index}'] = key
        env[f'GIT_CONFIG_VALUE_{index}'] = value
    return env


def ssh_command(known_hosts: Path, key_file: Path | None) -> str:
    """BatchMode: ssh must never ask anything, even when the server was started from a terminal. A host seen
    for the first time is remembered in `known_hosts`; a changed host key is refused."""
    # ssh splits an -o value on whitespace unless it is double-quoted inside the option itself
    parts = ['ssh']
    if key_file is not None:
        parts += ['-i', shlex.quote(str(key_file)), '-o', 'IdentitiesOnly=yes']
    parts += ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new']
    parts += ['-o', shlex.quote(f'UserKnownHostsFile="{known_hosts}"')]
    return ' '.join(parts)


def _key_text(secret: str) -> str:
    # OpenSSH refuses a key file without its final newline or with CRLF line ends
    return secret.replace('\r\n', '\n').strip() + '\n'


@contextmanager
def git_environment(
    credentials: Credentials | None, *, known_hosts: Path, allowed_protocols: str
) -> Iterator[dict[str, str]]:
    """The environment for ONE git child process. Without credentials git uses what this server's user has
    (ssh agent and keys, global credential helpers) but never prompts."""
    env = base_environment(allowed_protocols)
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    if credentials is None:
        env['GIT_SSH_COMMAND'] = ssh_command(known_hosts, None)
        yield env
        return
    if credentials.kind == 'token':
        # an empty credential.helper clears inherited helpers: a rejected token fails, it is not replaced
        # by whatever this server's user has stored for the host
        pairs = [('http.extraHeader', f'Authorization: {basic_header_value(credentials)}'), ('credential.helper', '')]
        env.update(_config_env(pairs))
        env['GIT_SSH_COMMAND'] = ssh_command(known_hosts, None)
        yield env
        return
    key_dir = Path(tempfile.mkdtemp(prefix='runboard-ssh-'))  # mode 0700
    try:
        key_file = key_dir / 'id'
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as out:
            out.write(_key_text(credentials.secret))
        env['GIT_SSH_COMMAND'] = ssh_command(known_hosts, key_file)
        yield env
    finally:
        shutil.rmtree(key_dir, ignore_errors=True)


def _secret_forms(credentials: Credentials) -> list[str]:
    secret = credentials.secret
    forms = {secret, quote(secret, safe=''), basic_header_value(credentials).removeprefix('Basic ')}
    if credentials.kind == 'ssh_key':
        forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 16)
    return sorted((form for form in forms if form), key=len, reverse=True)


def redact(text: str, credentials: Credentials | None) -> str:
    """`text` with the secret, its URL-quoted and Basic-header forms (and each line of an ssh key) replaced."""
    if credentials is None:
        return text
    for form in _secret_forms(credentials):
        text = text.replace(form, REDACTED)
    return text
