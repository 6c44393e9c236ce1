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
