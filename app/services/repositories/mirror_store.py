"""Bare mirrors of project repositories (local or remote) in the data dir, fetched on demand.

One fetch per mirror at a time across threads (a lock per mirror) and server processes (flock on
`<mirror>.lock`); a caller that arrives while a fetch runs waits and takes that fetch's result. Mirrors
never wait for each other: a dead remote blocks only its own mirror, and only until `fetch_timeout`.
"""

from __future__ import annotations

import fcntl
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from app.services.repositories.credentials import Credentials, base_environment, git_environment
from app.services.repositories.git_process import run_git
from app.services.repositories.gitops import BRANCH_LISTING, Branch, GitError, mirror_path, parse_branch_listing
from app.services.repositories.mirror_state import (
    MirrorRecord,
    MirrorState,
    decide,
    fingerprint,
    read_record,
    same_credentials,
    state_of,
    write_record,
)
from app.services.repositories.repo_url import DEFAULT_ALLOWED, allow_protocol_env, classify, refusal_reason

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
LOCAL_READ_TIMEOUT = 30.0


def _thread_lock(mirror: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(mirror), threading.Lock())


@contextmanager
def _file_lock(mirror: Path) -> Iterator[None]:
    with open(mirror.with_name(mirror.name + '.lock'), 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed, also if the process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class MirrorStore:
    def __init__(
        self,
        mirrors_dir: Path,
        *,
        fetch_timeout: float = 120,
        known_hosts: Path | None = None,
        allowed: frozenset[str] = DEFAULT_ALLOWED,
    ) -> None:
        self.mirrors_dir = mirrors_dir
        self.fetch_timeout = fetch_timeout
        self.known_hosts = known_hosts or mirrors_dir / 'known_hosts'
        self.allowed = allowed
        self._allow_env = allow_protocol_env(allowed)

    def path(self, repository: str) -> Path:
        return mirror_path(self.mirrors_dir, repository)

    @contextmanager
    def locked(self, repository: str) -> Iterator[Path]:
        """Hold the mirror as a fetch does (thread and file lock): e.g. while a worktree is added from it."""
        path = self.path(repository)
        with _thread_lock(path), _file_lock(path):
            yield path

    def state(self, repository: str) -> MirrorState:
        """What the UI shows: when the mirror was last fetched, the last error. Never runs git."""
        path = self.path(repository)
        return state_of(path, read_record(path))

    def ensure(self, repository: str, credentials: Credentials | None, *, max_age: float = 0) -> MirrorState:
        """The mirror of `repository`, cloned or fetched unless a fetch with these credentials is younger than
        `max_age` seconds. GitError (redacted) when the repository is refused or git fails."""
        reason = refusal_reason(repository, self.allowed)
        if reason is not None:
            raise GitError(reason)
        path = self.path(repository)
        asked_at = time.time()
        self.mirrors_dir.mkdir(parents=True, exist_ok=True)
        with _thread_lock(path), _file_lock(path):
            record = read_record(path)
            exists = (path / 'HEAD').exists()
            decision = decide(
                record,
                mirror_exists=exists,
                asked_at=asked_at,
                now=time.time(),
                max_age=max_age,
                attempted_by_same=record is not None and same_credentials(record.attempt_auth, credentials),
                fetched_by_same=record is not None and same_credentials(record.fetch_auth, credentials),
            )
            if decision == 'fresh':
                return state_of(path, record)
            if decision == 'joined' and record is not None:
                if record.last_error:
                    raise GitError(record.last_error)
                return state_of(path, record)
            return self._fetch(path, repository, credentials, record or MirrorRecord(), exists)

    def _fetch(
        self, path: Path, repository: str, credentials: Credentials | None, record: MirrorRecord, exists: bool
    ) -> MirrorState:
        started = time.monotonic()
        auth = fingerprint(credentials)
        try:
            with git_environment(credentials, known_hosts=self.known_hosts, allowed_protocols=self._allow_env) as env:
                if exists:
                    self._run_fetch(path, repository, credentials, env)
                else:
                    self._run_clone(path, repository, credentials, env)
        except GitError as exc:
            failed = replace(
                record,
                last_error=str(exc),
                fetch_seconds=round(time.monotonic() - started, 3),
                last_attempt_at=time.time(),
                attempt_auth=auth,
            )
            write_record(path, failed)
            raise
        now = time.time()
        done = MirrorRecord(
            last_fetch_at=now,
            last_error=None,
            fetch_seconds=round(time.monotonic() - started, 3),
            last_attempt_at=now,
            fetch_auth=auth,
            attempt_auth=auth,
        )
        write_record(path, done)
        return state_of(path, done)

    def _run_clone(self, path: Path, repository: str, credentials: Credentials | None, env: dict[str, str]) -> None:
        # cloned beside the mirror and renamed: a half-done clone is never taken for a mirror
        tmp = path.with_name(path.name + '.tmp')
        shutil.rmtree(tmp, ignore_errors=True)
        action = f'git clone of {classify(repository).display}'
        try:
            run_git(
                ['clone', '--mirror', '--quiet', '--', repository, str(tmp)],
                env=env,
                action=action,
                timeout=self.fetch_timeout,
                credentials=credentials,
            )
            tmp.rename(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _run_fetch(self, path: Path, repository: str, credentials: Credentials | None, env: dict[str, str]) -> None:
        run_git(
            ['fetch', '--prune', '--quiet', 'origin'],
            env=env,
            cwd=path,
            action=f'git fetch of {classify(repository).display}',
            timeout=self.fetch_timeout,
            credentials=credentials,
        )


def _read_mirror(mirror: Path, *args: str) -> str:
    if not (mirror / 'HEAD').exists():
        raise GitError(f'{mirror} is not a mirror (ensure() it first)')
    return run_git(args, env=base_environment('file'), cwd=mirror, action=f'git {args[0]}', timeout=LOCAL_READ_TIMEOUT)


def branch_commit(mirror: Path, branch: str) -> str | None:
    """The commit `branch` points to in the mirror, None when there is no such branch. `show-ref --verify`
    takes a full ref name only, so revision syntax such as `main^` never passes for a branch."""
    try:
        line = _read_mirror(mirror, 'show-ref', '--verify', f'refs/heads/{branch}').strip()
    except GitError:
        if not (mirror / 'HEAD').exists():
            raise
        return None
    return line.split(' ', 1)[0] or None


def list_branches(mirror: Path) -> list[Branch]:
    """Every branch of the mirror, newest commit first."""
    return parse_branch_listing(_read_mirror(mirror, *BRANCH_LISTING))
