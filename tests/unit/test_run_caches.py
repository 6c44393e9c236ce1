"""An executor's run caches on disk (services/execution/caches.py): which cache a branch's runs use, the old
generations removed once no run here uses them, a cache past the limit emptied when its last run ends (and not
while another run uses it), links never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.services.execution.caches import RunCaches, cache_scope, tidy, tree_bytes, usage


@pytest.mark.parametrize(
    ('branch', 'base', 'scope'),
    [
        ('main', 'main', 'base'),
        ('feature/x', 'main', 'branches'),
        ('afk/12', 'main', 'branches'),  # an agent's branch
        ('main', 'develop', 'branches'),  # only the project's base branch writes its cache
        ('Main', 'main', 'branches'),
    ],
)
def test_cache_scope(branch: str, base: str, scope: str) -> None:
    assert cache_scope(branch, base) == scope


def test_a_clear_takes_effect_here_once_no_run_uses_the_old_generation(tmp_path: Path) -> None:
    caches = RunCaches(tmp_path, max_bytes=0)
    old = caches.acquire('proj', 0, 'base')
    (old / 'wheel').write_text('x' * 10)
    new = caches.acquire('proj', 1, 'base')  # cleared while a run still uses generation 0: it keeps its files
    assert new != old and (old / 'wheel').exists() and not (new / 'wheel').exists()
    caches.release(old)
    caches.release(new)
    caches.acquire('proj', 1, 'branches')  # the next run here: generation 0 goes
    assert not old.exists() and sorted(p.name for p in (tmp_path / 'proj').iterdir()) == ['1']
    assert usage(tmp_path, 'proj', 1) == {'base': 0, 'branches': 0}
    assert usage(tmp_path, 'other', 0) == {}


def test_a_cache_past_the_limit_is_emptied_when_its_last_run_ends(tmp_path: Path) -> None:
    caches = RunCaches(tmp_path, max_bytes=100)
    first = caches.acquire('proj', 0, 'base')
    second = caches.acquire('proj', 0, 'base')  # a matrix sibling on the same branch
    (first / 'big').write_bytes(b'x' * 200)
    caches.release(first)
    assert (second / 'big').exists()  # the other run still uses it
    caches.release(second)
    assert not (second / 'big').exists()  # the last one out: emptied; the next run fills it again
    again = caches.acquire('proj', 0, 'base')
    (again / 'small').write_bytes(b'x' * 50)
    caches.release(again)
    assert (again / 'small').exists()  # under the limit: kept


def test_sizes_count_files_below_and_never_follow_links(tmp_path: Path) -> None:
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'huge').write_bytes(b'x' * 10_000)
    cache = tmp_path / 'cache'
    (cache / 'pip').mkdir(parents=True)
    (cache / 'pip' / 'a').write_bytes(b'x' * 30)
    os.symlink(outside, cache / 'link-to-dir')
    os.symlink(outside / 'huge', cache / 'link-to-file')
    assert tree_bytes(cache) == 30 + os.lstat(cache / 'link-to-file').st_size
    caches = RunCaches(tmp_path / 'caches', max_bytes=1)
    used = caches.acquire('proj', 0, 'base')
    os.symlink(outside, used / 'escape')
    (used / 'f').write_bytes(b'xx')
    caches.release(used)  # past the limit: emptied, and what the link points to is left alone
    assert not used.exists() or not any(used.iterdir())
    assert (outside / 'huge').stat().st_size == 10_000


def test_tidy_removes_the_caches_of_projects_that_are_gone(tmp_path: Path) -> None:
    caches = RunCaches(tmp_path, max_bytes=0)
    for project in ('kept', 'deleted'):
        caches.release(caches.acquire(project, 3, 'base'))
    assert tidy(tmp_path, {'kept', 'other'}) == ['deleted']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['kept']
    assert tidy(tmp_path / 'nowhere', set()) == []
