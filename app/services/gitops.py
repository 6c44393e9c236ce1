"""Git plumbing: mirrors in the data dir, worktrees per run, branch listings.

Every git call gets an argv list; user text never reaches a shell.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {**os.environ, 'GIT_TERMINAL_PROMPT': '0', 'LC_ALL': 'C'}
_mirror_locks: dict[str, threading.Lock] = {}
_mirror_locks_guard = threading.Lock()


class GitError(RuntimeError):
    pass


def git(*args: str, cwd: str | Path | None = None, timeout: float = 120) -> str:
    try:
        done = subprocess.run(['git', *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise GitError(f'git {args[0]} timed out after {timeout:.0f}s') from exc
    if done.returncode != 0:
        raise GitError((done.stderr or done.stdout).strip() or f'git {args[0]} failed ({done.returncode})')
    return done.stdout


def repository_key(repository: str) -> str:
    """Normalise a repository reference so projects sharing one repository share its limits."""
    repo = repository.strip()
    if '://' not in repo and not repo.startswith('git@'):
        return str(Path(repo).expanduser().resolve())
    return repo.rstrip('/').removesuffix('.git').lower()


def team_repository_key(team_id: str, repository: str) -> str:
    """The scope of a repository's locks and concurrency slots: per team. Projects of one team that share
    a repository share its limits and PR locks; another team's projects on the same repository never see
    or limit them (tenants are isolated, also on one repository)."""
    return f'{team_id}:{repository_key(repository)}'


def is_local(repository: str) -> bool:
    return '://' not in repository and not repository.startswith('git@')


@dataclass(frozen=True)
class Branch:
    name: str
    commit: str
    committed_at: int  # unix seconds
    subject: str


def list_branches(repository: str) -> list[Branch]:
    """Every branch, newest commit first."""
    fmt = '%(refname:strip=2)%00%(objectname)%00%(committerdate:unix)%00%(contents:subject)'
    target = repository if is_local(repository) else None
    if target is None:
        raise GitError('only local repositories can be listed with git; use a forge source')
    out = git('for-each-ref', '--sort=-committerdate', f'--format={fmt}', 'refs/heads', cwd=target, timeout=30)
    branches = []
    for line in out.splitlines():
        parts = line.split('\0')
        if len(parts) == 4:
            branches.append(Branch(parts[0], parts[1], int(parts[2] or 0), parts[3]))
    return branches


class BranchCache:
    """Short-lived cache of branch names per repository: admission checks must not fork git each time.

    A refresh is single-flight per repository (concurrent callers share one listing), and membership
    is a set lookup, so a repository with thousands of branches costs nothing per request."""

    def __init__(self, ttl_seconds: float = 5.0) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, list[Branch], frozenset[str]]] = {}
        self._lock = threading.Lock()
        self._refreshing: dict[str, threading.Lock] = {}

    def _refresh(self, repository: str, asked_at: float) -> tuple[float, list[Branch], frozenset[str]]:
        with self._lock:
            lock = self._refreshing.setdefault(repository, threading.Lock())
        with lock:
            entry = self._entries.get(repository)
            if entry and entry[0] >= asked_at:  # listed by another caller while this one waited
                return entry
            listed_at = time.monotonic()
            branches = list_branches(repository)
            entry = (listed_at, branches, frozenset(b.name for b in branches))
            self._entries[repository] = entry
            return entry

    def get(self, repository: str, *, fresh: bool = False) -> list[Branch]:
        now = time.monotonic()
        entry = self._entries.get(repository)
        if entry and not fresh and now - entry[0] < self._ttl:
            return entry[1]
        return self._refresh(repository, now)[1]

    def exists(self, repository: str, branch: str) -> bool:
        now = time.monotonic()
        entry = self._entries.get(repository)
        if entry and now - entry[0] < self._ttl and branch in entry[2]:
            return True
        return branch in self._refresh(repository, now)[2]  # expired, or maybe just created


def _mirror_lock(key: str) -> threading.Lock:
    with _mirror_locks_guard:
        return _mirror_locks.setdefault(key, threading.Lock())


def mirror_path(mirrors_dir: Path, repository: str) -> Path:
    digest = hashlib.sha256(repository_key(repository).encode()).hexdigest()[:16]
    return mirrors_dir / f'{digest}.git'


def refresh_mirror(mirrors_dir: Path, repository: str) -> Path:
    """Clone once, then fetch every branch before each run."""
    path = mirror_path(mirrors_dir, repository)
    with _mirror_lock(str(path)):
        if not (path / 'HEAD').exists():
            mirrors_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f'.tmp{os.getpid()}')
            shutil.rmtree(tmp, ignore_errors=True)
            git('clone', '--mirror', '--quiet', repository, str(tmp))
            tmp.rename(path)
        else:
            git('fetch', '--prune', '--quiet', 'origin', cwd=path)
    return path


def add_worktree(mirror: Path, worktree: Path, ref: str) -> str:
    """Check out `ref` (a branch of the mirror) detached into a fresh worktree; returns the commit."""
    commit = git('rev-parse', '--verify', '--quiet', f'refs/heads/{ref}^{{commit}}', cwd=mirror).strip()
    worktree.parent.mkdir(parents=True, exist_ok=True)
    with _mirror_lock(str(mirror)):
        git('worktree', 'add', '--detach', '--quiet', str(worktree), commit, cwd=mirror)
    return commit


def remove_worktree(worktree: Path) -> None:
    mirror = None
    gitfile = worktree / '.git'
    if gitfile.is_file():
        text = gitfile.read_text().strip()
        if text.startswith('gitdir:'):
            mirror = Path(text.split(':', 1)[1].strip()).parent.parent
    shutil.rmtree(worktree, ignore_errors=True)
    if mirror and mirror.exists():
        with _mirror_lock(str(mirror)):
            try:
                git('worktree', 'prune', cwd=mirror)
            except GitError:
                pass


def remove_stale_worktrees(worktrees_dir: Path, *, older_than_seconds: float, keep: set[str]) -> list[Path]:
    """Cleanup job: remove kept worktrees past their retention, never those of active runs."""
    removed = []
    if not worktrees_dir.exists():
        return removed
    cutoff = time.time() - older_than_seconds
    for path in worktrees_dir.iterdir():
        if path.name in keep or not path.is_dir():
            continue
        if path.stat().st_mtime < cutoff:
            remove_worktree(path)
            removed.append(path)
    return removed
