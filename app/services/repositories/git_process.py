"""One git command that talks to a remote: a hard deadline (app/infra/children.py kills its whole process group, so a
helper it started, git-remote-https or ssh, cannot outlive it holding a pipe or a lock) and a redacted error."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.infra import children
from app.services.repositories.credentials import Credentials, redact
from app.services.repositories.git_failure import describe_failure
from app.services.repositories.gitops import GitError


def run_git(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    action: str,
    timeout: float,
    cwd: Path | None = None,
    credentials: Credentials | None = None,
) -> str:
    """git's stdout; GitError (message redacted) when git fails or runs past `timeout` seconds."""
    try:
        done = children.run(['git', *args], cwd=cwd, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise GitError(f'{action} timed out after {timeout:g} s (the remote did not answer in time)') from exc
    if done.returncode != 0:
        raise GitError(redact(describe_failure(action, done.stderr or done.stdout, done.returncode), credentials))
    return done.stdout
