"""Where an AFK run's branch outlives its checkout (docs/afk.md, "Reviewing an AFK run"): a project without a forge
has nowhere to push `afk/<N>` from the sandbox (the data dir, with the mirror, is out of its reach), and a succeeded
run's checkout is removed. So before the engine tidies the checkout away, the server copies `afk/<N>` into a bare
repository of the data dir, one per repository (`afk-branches/<key>.git`), where the run page's diff reads it.
The mirror is not the place: its fetch prunes every ref its origin does not have.

The checkout is the run's: its `.git` (config, hooks, refs, `objects/info/alternates`) is whatever the agent wrote,
so the server never runs git there (docs/security.md, "The server's git and a run's checkout"). Python reads the
branch's commit id from the ref file (or `packed-refs`) and copies the object files, regular files only, into a
repository the server makes (`afk-branches/incoming/`, its own config, its alternates to the mirror the checkout
borrowed from); the store fetches the branch from there, and the fetch checks every object it receives (index-pack
names each one by its content) and that the commit is whole. A run whose branch cannot be kept this way gets the
reason written (`afk-branches/not-kept/<run id>`), and its review says it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any

from app.services.repositories import gitops
from app.services.repositories.issue_sources import afk_branch, is_forge

log = logging.getLogger(__name__)
COMMIT_ID = re.compile(r'[0-9a-f]{40}')
_BRANCH = re.compile(r'afk/[0-9]+')
_RUN_ID = re.compile(r'[A-Za-z0-9_-]{1,100}')
_LOOSE_DIR = re.compile(r'[0-9a-f]{2}')
_LOOSE_OBJECT = re.compile(r'[0-9a-f]{38}')
_PACK = re.compile(r'pack-[0-9a-f]{40}\.(pack|idx)')
MAX_REF_FILE_BYTES = 4096
MAX_PACKED_REFS_BYTES = 64 * 1024 * 1024
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # never a link; a FIFO does not block the open


class NotKept(Exception):
    """Why a run's branch could not be kept (said on its review)."""


def store_path(data_dir: Path, repository: str) -> Path:
    digest = hashlib.sha256(gitops.repository_key(repository).encode()).hexdigest()[:16]
    return data_dir / 'afk-branches' / f'{digest}.git'


def not_kept_path(data_dir: Path, run_id: str) -> Path | None:
    return data_dir / 'afk-branches' / 'not-kept' / run_id if _RUN_ID.fullmatch(run_id) else None


def why_not_kept(data_dir: Path, run_id: str) -> str | None:
    """The reason written when the run's branch could not be kept, or None (kept, never tried, or not yet)."""
    path = not_kept_path(data_dir, run_id)
    try:
        return path.read_text(errors='replace').strip() if path is not None else None
    except OSError:
        return None


# ---------------------------------------------------------------- reading the run's checkout (Python only)
def _open_regular(path: Path) -> int:
    """A file descriptor of `path`, which must be a regular file and not a link (the run made it)."""
    fd = os.open(path, _READ)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotKept(f'{path.name} in the checkout is not a regular file')
    return fd


def _real_directory(path: Path, what: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise NotKept(f'the checkout has no {what}') from None
    if not stat.S_ISDIR(mode):  # lstat: a link to a directory elsewhere is not one
        raise NotKept(f"the checkout's {what} is not a directory of the checkout (a link or a file)")


def git_dir_of(checkout: Path) -> Path:
    """The checkout's `.git`, a directory of its own (not a link, not a `gitdir:` file)."""
    git_dir = checkout / '.git'
    _real_directory(git_dir, '.git')
    return git_dir


def objects_dir_of(checkout: Path, git_dir: Path) -> Path:
    """`.git/objects`, a directory inside the checkout: never one a link leads to (another repository's on the
    server's disk, whose objects the run would have the server copy)."""
    objects = git_dir / 'objects'
    _real_directory(objects, 'object store (.git/objects)')
    if not objects.resolve().is_relative_to(checkout.resolve()):
        raise NotKept("the checkout's object store (.git/objects) is not inside the checkout")
    return objects


def read_branch(git_dir: Path, branch: str) -> str:
    """The commit id `refs/heads/<branch>` holds, read as git would (the loose ref file, else `packed-refs`), without
    following links; a commit id (40 hex digits), or NotKept."""
    parts = ['refs', 'heads', *branch.split('/')]
    here = git_dir
    for i, part in enumerate(parts):
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            return _packed_ref(git_dir, branch)
        last = i == len(parts) - 1
        if stat.S_ISLNK(mode):
            raise NotKept(f'{branch} in the checkout is a link')
        if not last and not stat.S_ISDIR(mode):
            return _packed_ref(git_dir, branch)
    fd = _open_regular(here)
    with os.fdopen(fd, 'rb') as ref:
        value = ref.read(MAX_REF_FILE_BYTES).decode('ascii', errors='replace').strip()
    if value.startswith('ref:'):
        raise NotKept(f'{branch} in the checkout is a symbolic ref, not a branch')
    return _commit_id(value, branch)


def _packed_ref(git_dir: Path, branch: str) -> str:
    path = git_dir / 'packed-refs'
    try:
        fd = _open_regular(path)
    except FileNotFoundError:
        raise NotKept(f'the checkout has no branch {branch} (the agent made none)') from None
    name = f'refs/heads/{branch}'.encode()
    with os.fdopen(fd, 'rb') as packed:
        if os.fstat(packed.fileno()).st_size > MAX_PACKED_REFS_BYTES:
            raise NotKept("the checkout's packed-refs is too large to read")
        for line in packed:
            value, _, ref = line.rstrip(b'\n').partition(b' ')
            if ref == name:
                return _commit_id(value.decode('ascii', errors='replace'), branch)
    raise NotKept(f'the checkout has no branch {branch} (the agent made none)')


def _commit_id(value: str, branch: str) -> str:
    if not COMMIT_ID.fullmatch(value):
        raise NotKept(f'{branch} in the checkout does not hold a commit id')
    return value


def copy_objects(objects: Path, into: Path) -> None:
    """The object files of `objects` (loose objects, pack files with their index) into `into`, regular files only:
    not `info/` (its `alternates` could send git to any repository on the server's disk), not a link, not a
    FIFO; nothing else of the directory either."""
    for entry in os.scandir(objects):
        if not entry.is_dir(follow_symlinks=False):
            continue
        if _LOOSE_DIR.fullmatch(entry.name):
            names = [e.name for e in os.scandir(entry.path) if _LOOSE_OBJECT.fullmatch(e.name)]
        elif entry.name == 'pack':
            found = {e.name for e in os.scandir(entry.path) if _PACK.fullmatch(e.name)}
            names = [n for n in found if {f'{n[:45]}.pack', f'{n[:45]}.idx'} <= found]  # n[:45]: pack-<40 hex>
        else:
            continue
        for name in sorted(names):
            source = Path(entry.path) / name
            if not stat.S_ISREG(os.lstat(source).st_mode):
                continue  # a link (to another repository's pack), a FIFO: not copied
            target = into / entry.name / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with os.fdopen(_open_regular(source), 'rb') as src, open(target, 'xb') as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)


# ---------------------------------------------------------------- the server's own repositories
def _git(*args: str, cwd: Path | None = None, timeout: float = 120) -> str:
    """git in a repository of the server's, on objects a run made: no system or global config."""
    return gitops.git(*args, cwd=cwd, env=gitops.SEALED_GIT_ENV, timeout=timeout)


def keep(checkout: Path, store: Path, branch: str, *, mirror: Path | None = None) -> str:
    """Copy `branch` of the run's checkout into the store (forced: a later run's `afk/<N>` replaces an earlier one's);
    the commit kept, or NotKept with the reason. `mirror`: the repository whose objects the checkout borrowed."""
    if not _BRANCH.fullmatch(branch):
        raise NotKept(f'{branch!r} is not an AFK branch')
    try:
        git_dir = git_dir_of(checkout)
        commit = read_branch(git_dir, branch)
        objects = objects_dir_of(checkout, git_dir)
    except OSError as exc:  # unreadable (the run's chmod), a link where none was (O_NOFOLLOW)
        raise NotKept(f'the checkout could not be read: {exc.strerror or exc}') from None
    incoming = store.parent / 'incoming' / f'{uuid.uuid4().hex}.git'
    try:
        incoming.parent.mkdir(parents=True, exist_ok=True)
        _git('init', '--bare', '--quiet', str(incoming))
        copy_objects(objects, incoming / 'objects')
        if mirror is not None and (mirror / 'objects').is_dir():
            (incoming / 'objects' / 'info').mkdir(parents=True, exist_ok=True)
            (incoming / 'objects' / 'info' / 'alternates').write_text(f'{(mirror / "objects").resolve()}\n')
        try:
            _git('cat-file', '-e', f'{commit}^{{commit}}', cwd=incoming, timeout=30)
        except gitops.GitError:
            raise NotKept(f'the commit {branch} holds ({commit[:12]}) is not in the checkout') from None
        _git('update-ref', f'refs/heads/{branch}', commit, cwd=incoming, timeout=30)
        if not (store / 'HEAD').exists():
            store.parent.mkdir(parents=True, exist_ok=True)
            _git('init', '--bare', '--quiet', str(store))
        try:  # the fetch checks what it receives: each object named by its content, the commit whole
            _git(
                'fetch',
                '--quiet',
                '--no-tags',
                '--no-write-fetch-head',
                str(incoming),
                f'+refs/heads/{branch}:refs/heads/{branch}',
                cwd=store,
            )
        except gitops.GitError as exc:
            raise NotKept(f'git could not copy {branch} ({commit[:12]}): {_git_says(exc)}') from None
        if _git('rev-parse', '--verify', '--quiet', f'refs/heads/{branch}', cwd=store, timeout=30).strip() != commit:
            raise NotKept(f'{branch} was not kept as {commit[:12]}')
    except OSError as exc:
        raise NotKept(f'its objects could not be copied: {exc.strerror or exc}') from None
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    return commit


def _git_says(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [''])[-1][:300]  # git's `fatal: ...`, last


def keep_run_branch(data_dir: Path, run: dict[str, Any], checkout: Path) -> bool:
    """At the end of an AFK run of a project without a forge (before its end is written, so its page finds the
    branch as soon as it shows the run ended): its `afk/<N>`, if the agent made one, into the store; else why not,
    for its review."""
    source = run.get('issue_source')
    if isinstance(source, str):  # SQLite answers the JSON column as text
        source = json.loads(source or '{}')
    if run.get('kind') != 'auto' or run.get('issue_number') is None or is_forge(source) or not checkout.exists():
        return False
    repository = str(run['repository'])
    branch = afk_branch(int(run['issue_number']))
    mirror = gitops.mirror_path(data_dir / 'mirrors', repository)
    try:
        keep(checkout, store_path(data_dir, repository), branch, mirror=mirror)
    except NotKept as exc:
        log.warning('%s of run %s was not kept: %s', branch, run.get('id'), exc)
        _write_why(data_dir, str(run.get('id') or ''), str(exc))
        return False
    except gitops.GitError as exc:
        log.warning('keeping %s of %s failed', branch, checkout, exc_info=True)
        _write_why(data_dir, str(run.get('id') or ''), f'git failed: {_git_says(exc)}')
        return False
    except Exception:  # whatever the run left, the engine goes on to write its end
        log.exception('keeping %s of %s failed', branch, checkout)
        _write_why(data_dir, str(run.get('id') or ''), 'it could not be copied (the server log has the error)')
        return False
    return True


def _write_why(data_dir: Path, run_id: str, why: str) -> None:
    path = not_kept_path(data_dir, run_id)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(why[:500] + '\n')
    except OSError:
        log.warning('could not write why %s was not kept', run_id, exc_info=True)
