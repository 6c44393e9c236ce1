"""The branch cache's snapshot of a repository's heads (services/repositories/gitops.BranchCache)."""

from __future__ import annotations

import subprocess

from app.services.repositories import gitops


def test_a_snapshot_read_again_unchanged_is_kept_and_a_moved_branch_is_seen(repo_factory) -> None:  # noqa: ANN001
    """Read again every few seconds, an unchanged listing keeps the dict it had: a fresh one each time (150,000
    names in bench/memory.py) fragmented the heap. A branch that moved still shows at the next read."""
    repo = str(repo_factory({'main': {'a.txt': 'a'}, 'feature': {'b.txt': 'b'}}))
    cache = gitops.BranchCache()
    cache.EXISTS_TTL = 0.0  # every question reads the heads again
    cache.WRITTEN_BEFORE_NS = 0  # and takes their answer, though the refs were written a moment ago
    first = cache.commit(repo, 'main')
    heads = cache._heads[repo][1]
    assert cache.commit(repo, 'feature') and cache._heads[repo][1] is heads
    subprocess.run(
        ['git', '-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '--allow-empty', '-m', 'pushed'],
        cwd=repo,
        check=True,
    )
    moved = cache.commit(repo, 'main')
    assert moved and moved != first
    assert cache._heads[repo][1] is not heads


def _commit(repo: str, *args: str) -> str:
    git = ['git', '-c', 'user.name=t', '-c', 'user.email=t@x']
    subprocess.run([*git, 'commit', '-q', '--allow-empty', '-m', 'pushed', *args], cwd=repo, check=True)
    return subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_a_commit_made_right_after_an_answer_is_the_next_answer(repo_factory, monkeypatch) -> None:  # noqa: ANN001
    """`git commit && runboard runs trigger`: the run is of the commit just made, though the heads snapshot is
    seconds fresh, whether the branch's ref is a file of its own or packed (`git pack-refs`); an unchanged branch
    is answered without asking git again."""
    repo = str(repo_factory({'main': {'a.txt': 'a'}, 'feature/x': {'b.txt': 'b'}}))
    cache = gitops.BranchCache()
    lookups = []
    exact = gitops.branch_commit
    monkeypatch.setattr(gitops, 'branch_commit', lambda *args: lookups.append(args) or exact(*args))

    before = cache.commit(repo, 'main')
    after = _commit(repo).strip()
    assert after != before and cache.commit(repo, 'main') == after
    asked = len(lookups)
    assert cache.commit(repo, 'main') == after and len(lookups) == asked  # unchanged: nothing asked

    subprocess.run(['git', 'pack-refs', '--all'], cwd=repo, check=True)
    assert cache.commit(repo, 'main') == after
    packed_then_moved = _commit(repo).strip()
    assert cache.commit(repo, 'main') == packed_then_moved

    subprocess.run(['git', 'checkout', '-q', 'feature/x'], cwd=repo, check=True)
    first = cache.commit(repo, 'feature/x')
    moved = _commit(repo).strip()
    assert moved != first and cache.commit(repo, 'feature/x') == moved  # a name with a slash: a file in a directory
    assert cache.commit(repo, 'no/such/branch') is None


def test_where_ref_files_cannot_be_read_the_snapshot_answers_as_before(tmp_path, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': {'a.txt': 'a'}})
    assert gitops.refs_home(str(repo)) == repo / '.git'
    bare = tmp_path / 'mirror.git'
    subprocess.run(['git', 'clone', '-q', '--mirror', str(repo), str(bare)], check=True)
    assert gitops.refs_home(str(bare)) == bare
    assert gitops.refs_home('https://example.invalid/team/app.git') is None
    assert gitops.refs_home(str(tmp_path)) is None  # not a repository
    assert gitops.ref_stamp(repo / '.git', '../../etc/passwd') is None  # no path outside refs/heads is looked at
