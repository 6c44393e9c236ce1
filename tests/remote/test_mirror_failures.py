"""Mirrors under concurrency and failure: one fetch at a time per mirror (threads and processes), dead and
silent remotes, repositories refused before git runs."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from app.services.repositories.credentials import Credentials
from app.services.repositories.gitops import GitError, repository_key
from app.services.repositories.mirror_store import MirrorStore, branch_commit, list_branches
from tests.helpers.remote import TOKEN, USER, Upstream, silent_port
from tests.helpers.servers import free_port
from tests.remote.http_git import GitHttpServer

GOOD = Credentials('token', USER, TOKEN)


# -- one fetch at a time -----------------------------------------------------------------------------------


@pytest.mark.parametrize('existing', [False, True], ids=['clone', 'fetch'])
def test_two_threads_at_once_make_one_fetch(store: MirrorStore, http_server: GitHttpServer, existing: bool) -> None:
    url = http_server.url('app.git')
    if existing:
        store.ensure(url, GOOD)
    before = http_server.ref_advertisements()
    http_server.delay = 0.5
    barrier = threading.Barrier(2)

    def call() -> float | None:
        barrier.wait()
        return store.ensure(url, GOOD).fetched_at

    with ThreadPoolExecutor(2) as pool:
        results = [f.result() for f in [pool.submit(call), pool.submit(call)]]
    assert http_server.ref_advertisements() - before == 1
    assert results[0] == results[1] is not None


def _ensure_in_process(mirrors: str, url: str, barrier: Barrier, out: multiprocessing.Queue[float | None]) -> None:
    barrier.wait()
    out.put(MirrorStore(Path(mirrors)).ensure(url, GOOD).fetched_at)


def test_two_processes_at_once_make_one_fetch(store: MirrorStore, http_server: GitHttpServer) -> None:
    url = http_server.url('app.git')
    store.ensure(url, GOOD)
    http_server.delay = 1.0
    ctx = multiprocessing.get_context('spawn')
    barrier = ctx.Barrier(2)
    out: multiprocessing.Queue[float | None] = ctx.Queue()
    procs = [ctx.Process(target=_ensure_in_process, args=(str(store.mirrors_dir), url, barrier, out)) for _ in '12']
    for proc in procs:
        proc.start()
    results = [out.get(timeout=60), out.get(timeout=60)]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert http_server.ref_advertisements() == 2  # the first clone, then one fetch for both processes
    assert results[0] == results[1] is not None


# -- failures ----------------------------------------------------------------------------------------------


@pytest.fixture
def silent_remote() -> Iterator[str]:
    """A git:// address whose server accepts connections and never answers."""
    with silent_port() as port:
        yield f'git://127.0.0.1:{port}/app.git'


def test_dead_remote_fails_fast(store: MirrorStore) -> None:
    url = f'git://127.0.0.1:{free_port()}/app.git'
    started = time.monotonic()
    with pytest.raises(GitError, match='the remote does not answer'):
        store.ensure(url, None)
    assert time.monotonic() - started < store.fetch_timeout
    assert store.state(url).error is not None


def test_silent_remote_times_out_without_blocking_another_mirror(
    tmp_path: Path, silent_remote: str, upstream: Upstream
) -> None:
    store = MirrorStore(tmp_path / 'mirrors', fetch_timeout=3)
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        hanging = pool.submit(store.ensure, silent_remote, None)
        time.sleep(0.3)  # the silent fetch holds its mirror's lock now
        other = store.ensure(f'file://{upstream.bare}', None)
        assert other.error is None and time.monotonic() - started < 3 and not hanging.done()
        with pytest.raises(GitError, match='timed out after 3 s'):
            hanging.result()
        assert 3 <= time.monotonic() - started < 10


@pytest.mark.parametrize(
    ('repository', 'message'),
    [
        ('ext::sh -c touch% /tmp/pwned', 'remote helpers are not allowed'),
        ('--upload-pack=touch /tmp/x', 'not an option'),
        ('https://alice:tok@127.0.0.1/app.git', 'set the project credentials'),
        ('relative/path', 'relative path'),
    ],
)
def test_refused_repositories_never_reach_git(store: MirrorStore, repository: str, message: str) -> None:
    with pytest.raises(GitError, match=message):
        store.ensure(repository, None)
    assert not store.mirrors_dir.exists()


def test_protocols_outside_the_allowed_set_are_refused(tmp_path: Path, upstream: Upstream) -> None:
    store = MirrorStore(tmp_path / 'mirrors', allowed=frozenset({'https'}))
    with pytest.raises(GitError, match='the file protocol is not allowed'):
        store.ensure(f'file://{upstream.bare}', None)


def test_mirror_name_hashes_the_normalised_url(store: MirrorStore) -> None:
    a = store.path('https://GitHub.com/Org/App.git/')
    assert a == store.path('https://github.com/org/app') and a.parent == store.mirrors_dir
    assert a != store.path('https://github.com/org/other')
    assert repository_key('https://GitHub.com/Org/App.git/') == 'https://github.com/org/app'


def test_reading_a_missing_mirror_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match='not a mirror'):
        list_branches(tmp_path / 'nothing.git')
    with pytest.raises(GitError, match='not a mirror'):
        branch_commit(tmp_path / 'nothing.git', 'main')
