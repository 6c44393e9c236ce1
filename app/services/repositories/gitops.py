"""Git plumbing: mirrors in the data dir, worktrees per run, branch listings.

Every git call gets an argv list; user text never reaches a shell.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.infra import children
from app.services.repositories.repo_url import classify, refusal_reason

# What git may see of the server's environment (docs/security.md, "The server's git and a run's checkout"): where
# programs are, whose they are, the locale and the temp dir. Nothing else: not RUNBOARD_SECRET_KEY,
# RUNBOARD_DATABASE_URL or a forge token, which a program git starts (a hook, a helper, a driver a repository's
# config names) could read.
PASSED_TO_GIT = ('PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'XDG_CONFIG_HOME')
# ... and what git talking to a remote needs besides: the ssh agent, proxies, CA certificates, a Kerberos ticket
PASSED_TO_REMOTE_GIT = (
    'SSH_AUTH_SOCK',
    'http_proxy',
    'https_proxy',
    'all_proxy',
    'no_proxy',
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'ALL_PROXY',
    'NO_PROXY',
    'SSL_CERT_FILE',
    'SSL_CERT_DIR',
    'KRB5CCNAME',
)


def passed_environment(names: Iterable[str] = PASSED_TO_GIT) -> dict[str, str]:
    """The server's variables among `names`, as a git child gets them."""
    return {name: os.environ[name] for name in names if name in os.environ}


GIT_ENV = {**passed_environment(), 'GIT_TERMINAL_PROMPT': '0', 'LC_ALL': 'C'}
# For git reading what a run made (objects, refs) in a repository of the server's: no system or global config
# either, so nothing configured outside the repository (a diff driver, an fsmonitor, a pager) can be named by the
# run's files (a .gitattributes) and started.
SEALED_GIT_ENV = {**GIT_ENV, 'GIT_CONFIG_NOSYSTEM': '1', 'GIT_CONFIG_GLOBAL': os.devnull}
_mirror_locks: dict[str, threading.Lock] = {}
_mirror_locks_guard = threading.Lock()


class GitError(RuntimeError):
    pass


def git(*args: str, cwd: str | Path | None = None, timeout: float = 120, env: Mapping[str, str] | None = None) -> str:
    """git's stdout, in GIT_ENV (or `env`); GitError when it fails or runs past `timeout` seconds."""
    try:
        done = children.run(['git', *args], cwd=cwd, env=GIT_ENV if env is None else env, timeout=timeout)
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
    """A path on this server's disk (not a URL, not scp-like `user@host:path`)."""

    try:
        return classify(repository.strip()).kind == 'path'
    except ValueError:
        return '://' not in repository and not repository.startswith('git@')


def unsupported_reason(repository: str) -> str | None:
    """Pure: why runs cannot use this repository value (None: they can). The same check guards project
    creation and admission. A local repository is an absolute path on this server; a remote one a URL
    whose transport projects may use (repo_url.refusal_reason: never ext::, fd:: or embedded secrets)."""

    return refusal_reason(repository.strip())


@dataclass(frozen=True)
class Branch:
    name: str
    commit: str
    committed_at: int  # unix seconds
    subject: str


def list_branches(repository: str) -> list[Branch]:
    """Every branch, newest commit first."""
    target = repository if is_local(repository) else None
    if target is None:
        raise GitError('only local repositories can be listed with git; use a forge source')
    return parse_branch_listing(git(*BRANCH_LISTING, cwd=target, timeout=30))


BRANCH_LISTING = (
    'for-each-ref',
    '--sort=-committerdate',
    '--format=%(refname:strip=2)%00%(objectname)%00%(committerdate:unix)%00%(contents:subject)',
    'refs/heads',
)


def parse_branch_listing(out: str) -> list[Branch]:
    """Pure: BRANCH_LISTING's output as branches, newest commit first."""
    branches = []
    for line in out.splitlines():
        parts = line.split('\0')
        if len(parts) == 4:
            branches.append(Branch(parts[0], parts[1], int(parts[2] or 0), parts[3]))
    return branches


def branch_commit(repository: str, branch: str) -> str | None:
    """The commit a branch points to, or None when there is no such branch: one exact ref lookup, whatever
    the number of branches (the check every trigger makes). `show-ref --verify` takes a full ref name only,
    so revision syntax such as `main^` or `main@{1}` never passes for a branch."""
    try:
        line = git('show-ref', '--verify', f'refs/heads/{branch}', cwd=repository, timeout=10).strip()
    except GitError:
        return None
    return line.split(' ', 1)[0] or None


def read_heads(repository: str) -> dict[str, str]:
    """Every branch's commit, in one call (no sorting, no subjects: cheap even with 40,000 branches)."""
    return parse_heads(heads_listing(repository))


def heads_listing(repository: str) -> str:
    return git('for-each-ref', '--format=%(objectname) %(refname:strip=2)', 'refs/heads', cwd=repository, timeout=30)


def parse_heads(listing: str) -> dict[str, str]:
    return {name: commit for commit, _, name in (line.partition(' ') for line in listing.splitlines()) if name}


def listing_digest(listing: str) -> bytes:
    return hashlib.blake2b(listing.encode(), digest_size=16).digest()


def search_branches(branches: list[Branch], query: str, limit: int, base: str | None = None) -> list[Branch]:
    """Pure: the picker's top matches: names containing `query` (case-insensitive), newest commit first, at
    most `limit`; the base branch, when it matches, is always among them."""
    needle = query.strip().lower()
    matches = sorted((b for b in branches if needle in b.name.lower()), key=lambda b: (-b.committed_at, b.name))
    top = matches[:limit]
    base_branch = next((b for b in matches if b.name == base), None)
    if base_branch is not None and base_branch not in top and top:
        top[-1] = base_branch
    return top


RefStamp = tuple[tuple[int, int, int] | None, tuple[int, int, int] | None]


def refs_home(repository: str) -> Path | None:
    """The directory whose `refs/heads` and `packed-refs` hold a repository's branches (`.git` of a work tree, the
    repository itself when bare), or None where Runboard cannot tell a branch moved by looking (a URL, a linked
    worktree, the reftable format): those are asked again after a few seconds instead."""
    path = Path(repository)
    for candidate in (path / '.git', path):
        if (
            (candidate / 'HEAD').is_file()
            and (candidate / 'objects').is_dir()
            and (candidate / 'refs' / 'heads').is_dir()
            and not (candidate / 'reftable').exists()
        ):
            return candidate
    return None


def _file_stamp(path: str) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def ref_stamp(home: Path, branch: str) -> RefStamp | None:
    """What git changes when `branch` moves: its loose ref, written anew (a new inode) at every update, and
    `packed-refs`, where `git pack-refs` or a fetch may put it. None for a name that is no path under refs/heads
    (the exact lookup refuses it). Asked at every admission, so plain strings: pathlib's joins cost more than
    the two stat calls."""
    if not branch or branch.startswith('/') or '..' in branch or '\0' in branch:
        return None
    home_text = str(home)
    return _file_stamp(f'{home_text}/refs/heads/{branch}'), _file_stamp(f'{home_text}/packed-refs')


def refs_fingerprint(home: Path) -> tuple:
    """What changes whenever any branch of the repository is made, moved or deleted: the time of each directory
    under refs/heads (git writes a lock file beside the ref and renames it into place, so the directory changes)
    and packed-refs' stamp. A stat per directory, not per branch."""
    stamps: list[tuple[str, int]] = []
    pending = [f'{home}/refs/heads']
    while pending:
        directory = pending.pop()
        try:
            stamps.append((directory, os.stat(directory).st_mtime_ns))
            with os.scandir(directory) as entries:
                pending.extend(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while looked at: the parent's time says so
    return tuple(sorted(stamps)), _file_stamp(f'{home}/packed-refs')


def stamp_written_ns(stamp: RefStamp) -> int:
    return max((part[1] for part in stamp if part is not None), default=0)


class BranchCache:
    """Branch knowledge per repository, shaped so a repository with 40,000 branches never stalls anyone.

    - commit()/exists(): from a snapshot of all heads read at most every EXISTS_TTL; a name it lacks gets one
      exact lookup, remembered briefly (found: EXISTS_TTL; not found: MISSING_TTL, so a client repeating
      unknown names cannot keep the server forking git). In a repository on this disk (a local project, a
      mirror) a branch's answer is kept only while its ref files are unchanged: a run triggered right after
      `git commit` runs that commit, not the one the snapshot saw.
    - get(): the listing for the picker. A small repository is simply listed again; a large one (a listing
      slower than QUICK_LISTING_SECONDS) is served from memory, and once that copy is older than the TTL one
      background refresh (single-flight per repository) reads it again: only its first listing is waited for.
    """

    EXISTS_TTL = 5.0
    MISSING_TTL = 2.0
    # A snapshot answers for a branch whose ref files were written this long before the snapshot was read, at
    # least: a file's time is the kernel's coarse clock at its write, and git renames the written file into place
    # a little later (a push of many refs: later still)
    WRITTEN_BEFORE_NS = 2_000_000_000
    QUICK_LISTING_SECONDS = 0.2  # a repository listed faster than this is simply listed again when stale

    def __init__(self, ttl_seconds: float = 5.0) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, list[Branch]]] = {}
        self._listing_seconds: dict[str, float] = {}
        self._known: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._lock = threading.Lock()
        self._refreshing: dict[str, threading.Lock] = {}
        # repository -> (read at, head -> commit, digest of the listing it was parsed from, wall clock ns before the
        # listing was asked for)
        self._heads: dict[str, tuple[float, dict[str, str], bytes, int]] = {}
        self._reading_heads: dict[str, threading.Lock] = {}
        self._refs_homes: dict[str, Path] = {}
        # (repository, branch) -> (its ref files' stamp, the commit they held)
        self._by_stamp: dict[tuple[str, str], tuple[RefStamp, str | None]] = {}

    def _refresh(self, repository: str) -> tuple[float, list[Branch]]:
        with self._lock:
            lock = self._refreshing.setdefault(repository, threading.Lock())
        asked_at = time.monotonic()
        with lock:
            entry = self._entries.get(repository)
            if entry and entry[0] >= asked_at:  # listed by another caller while this one waited
                return entry
            started = time.monotonic()
            entry = (started, list_branches(repository))
            self._listing_seconds[repository] = time.monotonic() - started
            self._entries[repository] = entry
            return entry

    def _refresh_in_background(self, repository: str) -> None:
        with self._lock:
            lock = self._refreshing.setdefault(repository, threading.Lock())
        if lock.locked():
            return  # one refresh at a time per repository

        def work() -> None:
            try:
                self._refresh(repository)
            except (GitError, OSError):
                pass  # the stale listing stays; the next request tries again

        threading.Thread(target=work, name='branch-listing', daemon=True).start()

    def get(self, repository: str) -> list[Branch]:
        entry = self._entries.get(repository)
        if entry is None or self._listing_seconds.get(repository, 0.0) < self.QUICK_LISTING_SECONDS:
            return self._refresh(repository)[1]  # small repository: fresh is cheap, a new branch shows at once
        if time.monotonic() - entry[0] >= self._ttl:
            self._refresh_in_background(repository)
        return entry[1]

    def search(self, repository: str, query: str, limit: int, base: str | None = None) -> list[Branch]:
        return search_branches(self.get(repository), query, limit, base)

    def exists(self, repository: str, branch: str) -> bool:
        return self.commit(repository, branch) is not None

    def commit(self, repository: str, branch: str) -> str | None:
        """The branch's commit (None: no such branch), remembered briefly: from a snapshot of every head
        (one `git for-each-ref`, read again once it is EXISTS_TTL old), so admissions do not fork git one
        by one; a name the snapshot lacks (pushed since) is looked up exactly, as before. On this disk, by the
        branch's ref files instead (the class's docstring)."""
        home = self._refs_home(repository)
        stamp = ref_stamp(home, branch) if home is not None else None
        if stamp is not None:
            return self._commit_by_stamp(repository, branch, stamp)
        now = time.monotonic()
        heads = self._heads_snapshot(repository, now)
        if heads is not None and branch in heads:
            return heads[branch]
        known = self._known.get((repository, branch))
        if known and now - known[0] < (self.EXISTS_TTL if known[1] else self.MISSING_TTL):
            return known[1]
        commit = branch_commit(repository, branch)
        if len(self._known) > 100_000:  # bounded memory, whatever clients send
            self._known.clear()
        self._known[(repository, branch)] = (now, commit)
        return commit

    def _refs_home(self, repository: str) -> Path | None:
        home = self._refs_homes.get(repository)
        if home is None:
            home = refs_home(repository)  # not kept when missing: a repository made (or mounted) later is seen
            if home is not None:
                self._refs_homes[repository] = home
        return home

    def _commit_by_stamp(self, repository: str, branch: str, stamp: RefStamp) -> str | None:
        """The commit the branch's ref files hold: as last answered while they are unchanged, else from the heads
        snapshot when it was read well after they were written, else one exact lookup."""
        known = self._by_stamp.get((repository, branch))
        if known is not None and known[0] == stamp:
            return known[1]
        written = stamp_written_ns(stamp)
        # written a moment ago (a commit just made): no snapshot, not even one read now, may answer for it
        heads = (
            None
            if written >= time.time_ns() - self.WRITTEN_BEFORE_NS
            else self._heads_snapshot(repository, time.monotonic())
        )
        snapshot = self._heads.get(repository)
        if heads is not None and snapshot is not None and written < snapshot[3] - self.WRITTEN_BEFORE_NS:
            commit = heads.get(branch)
        else:
            commit = branch_commit(repository, branch)
        if len(self._by_stamp) > 100_000:  # bounded memory, whatever clients send
            self._by_stamp.clear()
        # the stamp was taken before the commit was read: a move in between is seen as a change next time
        self._by_stamp[(repository, branch)] = (stamp, commit)
        return commit

    def _heads_snapshot(self, repository: str, now: float) -> dict[str, str] | None:
        snapshot = self._heads.get(repository)
        if snapshot is not None and now - snapshot[0] < self.EXISTS_TTL:
            return snapshot[1]
        with self._lock:
            lock = self._reading_heads.setdefault(repository, threading.Lock())
        return self._read_heads(repository, lock, now)

    def _read_heads(self, repository: str, lock: threading.Lock, asked_at: float) -> dict[str, str] | None:
        with lock:  # one reader per repository; the others take what it read
            snapshot = self._heads.get(repository)
            if snapshot is not None and asked_at - snapshot[0] < self.EXISTS_TTL:
                return snapshot[1]
            asked_ns = time.time_ns()
            try:
                listing = heads_listing(repository)
            except (GitError, OSError):
                return None  # the exact lookup answers (and reports) instead
            digest = listing_digest(listing)
            # unchanged since the last read: the same dict is kept. A new one every few seconds (150,000 names in
            # the memory bench) left the interpreter's small-object arenas fragmented: RSS grew 16 MB over 50,000
            # admissions (bench/memory.py), and stayed
            heads = snapshot[1] if snapshot is not None and snapshot[2] == digest else parse_heads(listing)
            self._heads[repository] = (time.monotonic(), heads, digest, asked_ns)
            return heads

    def forget(self, repository: str) -> None:
        """The repository changed (a mirror was fetched): the next question reads it again."""
        with self._lock:
            self._entries.pop(repository, None)
            self._heads.pop(repository, None)
            for key in [k for k in self._known if k[0] == repository]:
                self._known.pop(key, None)
            for key in [k for k in self._by_stamp if k[0] == repository]:
                self._by_stamp.pop(key, None)


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


def has_commit(git_dir: str | Path, commit: str) -> bool:
    try:
        git('cat-file', '-e', f'{commit}^{{commit}}', cwd=git_dir, timeout=10)
    except GitError:
        return False
    return True


def remove_worktree(worktree: Path) -> None:
    mirror = None
    gitfile = worktree / '.git'
    if gitfile.is_file() and not gitfile.is_symlink():  # a `git worktree` of an earlier version: its mirror keeps
        # an entry to prune. The file is the run's to write, so git goes only to a mirror of this data dir's
        text = gitfile.read_text(errors='replace')[:4096].strip()
        if text.startswith('gitdir:'):
            mirror = _data_dir_mirror(worktree, Path(text.split(':', 1)[1].strip()).parent.parent)
    shutil.rmtree(worktree, ignore_errors=True)
    if mirror and mirror.exists():
        with _mirror_lock(str(mirror)):
            try:
                git('worktree', 'prune', cwd=mirror)
            except GitError:
                pass


def _data_dir_mirror(worktree: Path, named: Path) -> Path | None:
    """`named` if it is a mirror of the data dir holding `worktree` (`<data dir>/worktrees/<run id>`), else None."""
    mirrors = (worktree.parent.parent / 'mirrors').resolve()
    try:
        found = named.resolve()
    except (OSError, RuntimeError):
        return None
    if found.parent != mirrors or not _MIRROR_NAME.fullmatch(found.name):
        return None
    return found


_MIRROR_NAME = re.compile(r'[0-9a-f]{16}\.git')


def remove_stale_worktrees(worktrees_dir: Path, *, older_than_seconds: float, keep: set[str]) -> list[Path]:
    """Cleanup job: remove kept worktrees past their retention, never those of active runs."""
    removed: list[Path] = []
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
