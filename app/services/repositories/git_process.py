"""One git child process with a hard deadline: on timeout its whole process group is killed, so a helper
it started (git-remote-https, ssh) cannot outlive it and keep a pipe or a lock open."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.services.repositories.credentials import Credentials, redact
from app.services.repositories.git_failure import describe_failure
from app.services.repositories.gitops import GitError


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


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
    proc = subprocess.Popen(
        ['git', *args],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding='utf-8',
        errors='replace',
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        proc.communicate()
        raise GitError(f'{action} timed out after {timeout:g} s (the remote did not answer in time)') from exc
    except BaseException:
        _kill_group(proc)
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise GitError(redact(describe_failure(action, err or out, proc.returncode), credentials))
    return out
