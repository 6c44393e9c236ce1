"""A run's checkout: a repository of its own at the commit the run was admitted at, borrowing the mirror's
objects (git alternates), with `origin` set as a clone would set it.

Cheap on purpose, since a trivial run is mostly its checkout: one git process. Its `.git` is a copy of a
skeleton repository that `git init` made once per mirror and origin, already holding the checkout's config (its
`origin`) and the alternates to the mirror's objects; then `git checkout`. (`git init` probes the file system
on every call: 7 ms of CPU here, against 0.45 ms for copying the handful of files it makes; docs/performance.md.) The
mirror is fetched only when it lacks the admitted commit (the checkout finds out), or the run was admitted
without one and takes its branch's head now. No refs are copied from the mirror, so a checkout needs no mirror
lock and runs of one repository do not queue behind each other. The sandbox sees the mirror's objects
read-only, while the run commits, branches and pushes in its own `.git`."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

from sqlalchemy import Engine, text

from app.infra.db import session_scope
from app.services.execution.live import ClaimedRun
from app.services.repositories import gitops
from app.services.repositories.access import ProjectRepository, RepositoryAccess, is_remote, mirror_for_run

ORIGIN_FETCH = '+refs/heads/*:refs/remotes/origin/*'  # what `git clone` writes


def needs_fetch(*, mirror_exists: bool, admitted: str | None) -> bool:
    """Pure: must a local repository's mirror be fetched before trying this run's checkout? (A checkout that
    finds the admitted commit missing fetches then.)"""
    return not mirror_exists or admitted is None


def skeleton_for(mirror: Path, origin: str) -> Path:
    """The `.git` every checkout of this mirror and origin starts as: made by `git init` once, with the config
    holding `origin` and the alternates to the mirror's objects, whole or not at all (built aside, then renamed).
    Nothing in a non-bare repository's `.git` names its own path, so a copy of it is that repository elsewhere."""
    digest = hashlib.sha256(f'{mirror.resolve()}\n{origin}'.encode()).hexdigest()[:16]
    skeleton = mirror.parent / 'checkout-skeletons' / digest
    if (skeleton / '.git' / 'HEAD').exists():
        return skeleton / '.git'
    building = skeleton.with_name(f'{digest}.{os.getpid()}.{threading.get_ident()}')
    shutil.rmtree(building, ignore_errors=True)
    template = building / 'template'
    (template / 'objects' / 'info').mkdir(parents=True)
    (template / 'objects' / 'info' / 'alternates').write_text(f'{(mirror / "objects").resolve()}\n')
    config = str(template / 'config')
    gitops.git('config', '--file', config, 'remote.origin.url', origin)
    gitops.git('config', '--file', config, 'remote.origin.fetch', ORIGIN_FETCH)
    gitops.git('init', '--quiet', f'--template={template}', str(building / 'repository'))
    try:
        (building / 'repository').rename(skeleton)
    except OSError:  # another run made it meanwhile
        pass
    shutil.rmtree(building, ignore_errors=True)
    return skeleton / '.git'


def branch_head(mirror: Path, ref: str) -> str:
    return gitops.git('rev-parse', '--verify', '--quiet', f'refs/heads/{ref}^{{commit}}', cwd=mirror).strip()


def check_out(mirror: Path, checkout: Path, *, commit: str, origin: str) -> str:
    """`commit`, detached, in a fresh repository at `checkout` that borrows `mirror`'s objects."""
    skeleton = skeleton_for(mirror, origin)
    checkout.mkdir(parents=True, exist_ok=True)
    shutil.copytree(skeleton, checkout / '.git', symlinks=True, dirs_exist_ok=True)
    gitops.git('-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit, cwd=checkout)
    return commit


def prepare_checkout(
    engine: Engine, mirrors_dir: Path, repositories: RepositoryAccess, run: ClaimedRun, checkout: Path
) -> str:
    """The run's checkout from its repository's mirror (its path was recorded by the claim), at the admitted
    commit, or else (admitted without one, or one the mirror cannot get) at its branch's head, recorded on the
    run. Returns the commit checked out. `origin` is the project's repository for a remote one (where an agent
    pushes), the mirror for a repository on this machine (as a clone of the mirror had it)."""
    admitted = run.get('commit_sha')
    repository = run['repository']
    if remote := is_remote(repository):
        mirror = mirror_for_run(repositories, ProjectRepository.of_run(run), admitted)
        origin = repository
    else:
        mirror = gitops.mirror_path(mirrors_dir, repository)
        if needs_fetch(mirror_exists=(mirror / 'HEAD').exists(), admitted=admitted):
            mirror = gitops.refresh_mirror(mirrors_dir, repository)
        origin = str(mirror.resolve())
    try:
        commit = check_out(mirror, checkout, commit=admitted or branch_head(mirror, run['checkout_ref']), origin=origin)
    except gitops.GitError:
        if admitted is None or gitops.has_commit(mirror, admitted):
            raise
        if not remote:  # pushed after the mirror's last fetch
            mirror = gitops.refresh_mirror(mirrors_dir, repository)
        shutil.rmtree(checkout, ignore_errors=True)
        found = gitops.has_commit(mirror, admitted)
        commit = check_out(
            mirror, checkout, commit=admitted if found else branch_head(mirror, run['checkout_ref']), origin=origin
        )
    if commit != admitted:
        with session_scope(engine) as session:
            session.connection().execute(
                text('UPDATE run SET commit_sha = :c WHERE id = :id'), {'c': commit, 'id': run['id']}
            )
    return commit
