"""An AFK run's branch kept from its checkout into the data dir (app/services/repositories/afk_branches.py) without the
server running git in the checkout, whose `.git` is the run's: its config (hidden refs, programs to start), its refs
(links, symbolic refs, FIFOs, junk) and its object store (links, alternates to other repositories on the server's
disk) never decide what the server runs or reads. And the environment the server's git gets."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.services.execution.checkout import check_out
from app.services.repositories import afk_branches, gitops
from app.services.repositories.afk_branches import NotKept, keep
from app.services.repositories.credentials import base_environment
from tests.helpers.repos import make_repo

IDENT = ['-c', 'user.name=afk', '-c', 'user.email=afk@example.invalid']


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(['git', *IDENT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / 'data'


@pytest.fixture
def checkout(tmp_path: Path, data_dir: Path) -> Path:
    """A run's checkout as the engine makes it (borrowing the mirror's objects), where the agent committed afk/1."""
    origin = make_repo(tmp_path / 'origin', {'main': {'app.py': 'print("a")\n'}})
    mirror = gitops.mirror_path(data_dir / 'mirrors', str(origin))
    mirror.parent.mkdir(parents=True)
    git(tmp_path, 'clone', '--mirror', '--quiet', str(origin), str(mirror))
    path = data_dir / 'worktrees' / 'run_1'
    check_out(mirror, path, commit=git(origin, 'rev-parse', 'main'), origin=str(mirror))
    git(path, 'switch', '-q', '-c', 'afk/1')
    (path / 'greet.py').write_text('print("hello")\n')
    git(path, 'add', 'greet.py')
    git(path, 'commit', '-q', '-m', 'Fix #1')
    return path


def store(data_dir: Path) -> Path:
    return data_dir / 'afk-branches' / 'store.git'


def mirror_of(data_dir: Path) -> Path:
    [mirror] = (data_dir / 'mirrors').glob('*.git')
    return mirror


def keep_it(checkout: Path, data_dir: Path) -> str:
    return keep(checkout, store(data_dir), 'afk/1', mirror=mirror_of(data_dir))


def test_the_branch_is_kept_whole_and_needs_neither_the_checkout_nor_the_mirror(checkout: Path, data_dir: Path) -> None:
    head = git(checkout, 'rev-parse', 'afk/1')
    assert keep_it(checkout, data_dir) == head
    subprocess.run(['rm', '-rf', str(checkout), str(mirror_of(data_dir))], check=True)
    assert git(store(data_dir), 'rev-parse', 'refs/heads/afk/1') == head
    git(store(data_dir), 'rev-list', '--objects', head)  # every object of its history is in the store
    git(store(data_dir), 'fsck', '--connectivity-only', '--no-dangling')
    assert not (store(data_dir).parent / 'incoming').exists() or not any(
        (store(data_dir).parent / 'incoming').iterdir()
    )


def test_the_checkouts_config_neither_hides_the_branch_nor_runs_anything(
    checkout: Path, data_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / 'ran'
    script = checkout / '.git' / 'evil.sh'
    script.write_text(f'#!/bin/sh\ntouch {marker}\n')
    script.chmod(0o755)
    for key, value in (
        ('uploadpack.hideRefs', 'refs/heads/afk'),
        ('uploadpack.packObjectsHook', str(script)),
        ('core.fsmonitor', str(script)),
        ('core.pager', str(script)),
        ('diff.external', str(script)),
        ('core.hooksPath', str(checkout / '.git')),
    ):
        git(checkout, 'config', key, value)
    for hook in ('reference-transaction', 'post-checkout', 'pre-auto-gc'):
        (checkout / '.git' / hook).symlink_to(script)
    assert keep_it(checkout, data_dir) == git(checkout, 'rev-parse', 'afk/1')
    assert not marker.exists()


def test_a_packed_branch_is_read_too(checkout: Path, data_dir: Path) -> None:
    head = git(checkout, 'rev-parse', 'afk/1')
    git(checkout, 'pack-refs', '--all')
    assert not (checkout / '.git' / 'refs' / 'heads' / 'afk' / '1').exists()
    assert keep_it(checkout, data_dir) == head


@pytest.mark.parametrize('way', ['alternates', 'linked pack'])
def test_objects_of_another_repository_are_never_borrowed(
    checkout: Path, data_dir: Path, tmp_path: Path, way: str
) -> None:
    """The checkout's alternates, or a pack linked in, could lead the copy to any repository on the server's disk
    (another team's mirror): its commit named by afk/1 is refused, not copied into the store."""
    secret = make_repo(tmp_path / 'secret', {'main': {'secret.txt': "the other team's\n"}})
    secret_head = git(secret, 'rev-parse', 'main')
    git(secret, 'repack', '-a', '-d', '-q')
    if way == 'alternates':
        alternates = checkout / '.git' / 'objects' / 'info' / 'alternates'
        alternates.write_text(alternates.read_text() + f'{secret / ".git" / "objects"}\n')
    else:
        [pack] = (secret / '.git' / 'objects' / 'pack').glob('*.pack')
        for suffix in ('.pack', '.idx'):
            linked = checkout / '.git' / 'objects' / 'pack' / pack.with_suffix(suffix).name
            linked.parent.mkdir(exist_ok=True)
            linked.symlink_to(pack.with_suffix(suffix))
    git(checkout, 'cat-file', '-e', secret_head)  # git in the checkout would find it
    (checkout / '.git' / 'refs' / 'heads' / 'afk' / '1').write_text(secret_head + '\n')
    with pytest.raises(NotKept, match='is not in the checkout'):
        keep_it(checkout, data_dir)
    assert not store(data_dir).exists()


def test_an_object_store_linked_from_elsewhere_is_refused(checkout: Path, data_dir: Path, tmp_path: Path) -> None:
    objects = checkout / '.git' / 'objects'
    objects.rename(tmp_path / 'objects')
    objects.symlink_to(tmp_path / 'objects')
    with pytest.raises(NotKept, match=r'object store \(.git/objects\) is not a directory of the checkout'):
        keep_it(checkout, data_dir)


def test_a_git_dir_elsewhere_is_refused(checkout: Path, data_dir: Path, tmp_path: Path) -> None:
    (checkout / '.git').rename(tmp_path / 'elsewhere.git')
    (checkout / '.git').write_text(f'gitdir: {tmp_path / "elsewhere.git"}\n')
    with pytest.raises(NotKept, match='.git is not a directory of the checkout'):
        keep_it(checkout, data_dir)


@pytest.mark.parametrize(
    ('make', 'reason'),
    [
        (lambda ref, other: ref.unlink() or ref.symlink_to(other), 'is a link'),
        (lambda ref, other: ref.parent.rename(ref.parent.with_name('x')) and ref.parent.symlink_to('x'), 'is a link'),
        (lambda ref, other: ref.write_text('ref: refs/heads/main\n'), 'symbolic ref'),
        (lambda ref, other: ref.write_text('not a commit id\n'), 'does not hold a commit id'),
        (lambda ref, other: ref.unlink() or os.mkfifo(ref), 'not a regular file'),
        (lambda ref, other: ref.unlink(), 'the agent made none'),
    ],
    ids=['ref-link', 'folder-link', 'symbolic', 'junk', 'fifo', 'missing'],
)
def test_a_branch_ref_git_would_not_read_as_a_plain_branch_is_refused(
    checkout: Path, data_dir: Path, tmp_path: Path, make, reason: str
) -> None:  # noqa: ANN001
    other = tmp_path / 'other-ref'
    other.write_text(git(checkout, 'rev-parse', 'afk/1') + '\n')
    make(checkout / '.git' / 'refs' / 'heads' / 'afk' / '1', other)
    with pytest.raises(NotKept, match=reason):
        keep_it(checkout, data_dir)


def test_keep_run_branch_writes_why_for_the_review(checkout: Path, data_dir: Path) -> None:
    run = {'id': 'run_1', 'kind': 'auto', 'issue_number': 1, 'issue_source': '{}', 'repository': '/nowhere'}
    (checkout / '.git' / 'refs' / 'heads' / 'afk' / '1').unlink()
    assert afk_branches.keep_run_branch(data_dir, run, checkout) is False
    assert afk_branches.why_not_kept(data_dir, 'run_1') == 'the checkout has no branch afk/1 (the agent made none)'
    assert afk_branches.why_not_kept(data_dir, 'run_2') is None
    assert afk_branches.why_not_kept(data_dir, '../../etc/passwd') is None


def test_removing_a_checkout_runs_git_only_in_a_mirror_of_the_data_dir(data_dir: Path, tmp_path: Path) -> None:
    """A checkout's `.git` file (`gitdir: ...`, a `git worktree` of an earlier version) is the run's to write: git
    prunes worktrees only in the data dir's mirror it names, never in a repository elsewhere."""

    def stale_entry(repository: Path) -> Path:
        entry = repository / 'worktrees' / 'gone'
        entry.mkdir(parents=True)
        (entry / 'gitdir').write_text(str(tmp_path / 'gone' / '.git') + '\n')
        return entry

    elsewhere = make_repo(tmp_path / 'elsewhere') / '.git'
    mirror = data_dir / 'mirrors' / f'{"a" * 16}.git'
    mirror.parent.mkdir(parents=True)
    git(tmp_path, 'clone', '--mirror', '--quiet', str(elsewhere.parent), str(mirror))
    for repository, pruned in ((elsewhere, False), (mirror, True)):
        entry = stale_entry(repository)
        worktree = data_dir / 'worktrees' / 'run_x'
        worktree.mkdir(parents=True)
        (worktree / '.git').write_text(f'gitdir: {repository / "worktrees" / "wt"}\n')
        gitops.remove_worktree(worktree)
        assert not worktree.exists()
        assert entry.exists() is not pruned, repository


def test_git_sees_none_of_the_servers_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('RUNBOARD_SECRET_KEY', 'k')
    monkeypatch.setenv('RUNBOARD_DATABASE_URL', 'postgresql://u:p@db/x')
    monkeypatch.setenv('GIT_DIR', '/elsewhere')
    monkeypatch.setenv('SSH_AUTH_SOCK', '/run/agent.sock')
    local = gitops.passed_environment()
    remote = base_environment('https')
    for env in (local, remote, gitops.GIT_ENV, gitops.SEALED_GIT_ENV):
        assert not [name for name in env if name.startswith('RUNBOARD_') or name == 'GIT_DIR'], env
    assert local['PATH'] == os.environ['PATH'] and 'SSH_AUTH_SOCK' not in local
    assert remote['SSH_AUTH_SOCK'] == '/run/agent.sock'  # the server's ssh agent still serves remotes
    assert gitops.SEALED_GIT_ENV['GIT_CONFIG_GLOBAL'] == os.devnull
    assert gitops.SEALED_GIT_ENV['GIT_CONFIG_NOSYSTEM'] == '1'
