"""Bare mirrors of project repositories (local or remote) in the data dir, fetched on demand.

One fetch per mirror at a time across threads (a lock per mirror) and server processes (flock on
`<mirror>.lock`); a caller that needs a fetch and arrives while one runs waits and takes that fetch's result,
a caller the mirror is fresh enough for does not wait. Mirrors never wait for each other: a dead remote blocks
only its own mirror's fetches, until `fetch_timeout` or until the waiting caller is stopped.
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

from app.infra import children
from app.services.repositories.credentials import Credentials, base_environment, git_environment
from app.services.repositories.git_process import run_git
from app.services.repositories.gitops import BRANCH_LISTING, Branch, GitError, mirror_path, parse_branch_listing
from app.services.repositories.mirror_state import (
    Decision,
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
LOCK_POLL_SECONDS = 0.2  # how soon a caller waiting for a mirror notices it was stopped


def _thread_lock(mirror: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(mirror), threading.Lock())


@contextmanager
def _held(mirror: Path) -> Iterator[None]:
    """The mirror to this caller alone: a lock for this process's threads, flock on `<mirror>.lock` for other
    processes (released when the file is closed, also if the process dies). A caller whose owner stops while it
    waits (a run's Stop, while another fetch holds the mirror) gives up waiting: ChildStopped."""
    lock = _thread_lock(mirror)
    while not lock.acquire(timeout=LOCK_POLL_SECONDS):
        children.raise_if_stopped()
    try:
        with open(mirror.with_name(mirror.name + '.lock'), 'a') as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:  # another server process fetches it
                    children.raise_if_stopped()
                    time.sleep(LOCK_POLL_SECONDS / 4)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        lock.release()


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
        with _held(path):
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

        def decision_now() -> tuple[Decision, MirrorRecord | None, bool]:
            record = read_record(path)  # written whole (os.replace): readable while a fetch holds the mirror
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
            return decision, record, exists

        # fresh enough is answered without waiting: a fetch under way (from a remote that hangs) holds the mirror
        # against other fetches, not against the branch questions the mirror it has already answers
        decision, record, exists = decision_now()
        if decision == 'fresh':
            return state_of(path, record)
        self.mirrors_dir.mkdir(parents=True, exist_ok=True)
        with _held(path):
            decision, record, exists = decision_now()
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
