from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.services.repositories.credentials import Credentials
from app.services.repositories.gitops import GitError
from app.services.repositories.mirror_state import record_path
from app.services.repositories.mirror_store import MirrorStore, branch_commit, list_branches
from tests.helpers.remote import TOKEN, USER, Remote
from tests.remote.http_git import GitHttpServer

BASIC = base64.b64encode(f'{USER}:{TOKEN}'.encode()).decode()
GOOD = Credentials('token', USER, TOKEN)


def everything_written(store: MirrorStore) -> str:
    """Every file the store wrote (mirror, state JSON, locks), as one text."""
    texts = [p.read_bytes().decode('latin-1') for p in store.mirrors_dir.rglob('*') if p.is_file()]
    return '\n'.join(texts)


# -- every transport ---------------------------------------------------------------------------------------


def test_clone_then_read_branches(store: MirrorStore, remote: Remote) -> None:
    state = store.ensure(remote.url, remote.credentials)
    assert state.error is None and state.fetched_at is not None and abs(state.fetched_at - time.time()) < 60
    assert state.fetch_seconds is not None and state.fetch_seconds >= 0
    assert state.path.parent == store.mirrors_dir and (state.path / 'HEAD').exists()
    assert state.path == store.path(remote.url + '/')
    assert {b.name for b in list_branches(state.path)} == {'main', 'feature/x'}
    assert branch_commit(state.path, 'feature/x') == remote.upstream.head('feature/x')
    assert branch_commit(state.path, 'nope') is None
    assert branch_commit(state.path, 'main^') is None
    record = json.loads(record_path(state.path).read_text())
    assert record['last_fetch_at'] == state.fetched_at and record['last_error'] is None
    assert store.state(remote.url) == state


def test_new_branch_appears_when_a_fetch_is_due(store: MirrorStore, remote: Remote) -> None:
    path = store.ensure(remote.url, remote.credentials).path
    new = remote.upstream.commit('feature/new', 'n.txt', 'n\n')
    store.ensure(remote.url, remote.credentials, max_age=3600)
    assert branch_commit(path, 'feature/new') is None  # the fetch is younger than an hour: not fetched
    store.ensure(remote.url, remote.credentials, max_age=0)
    assert branch_commit(path, 'feature/new') == new


def test_branch_deleted_upstream_is_pruned(store: MirrorStore, remote: Remote) -> None:
    path = store.ensure(remote.url, remote.credentials).path
    remote.upstream.delete('feature/x')
    store.ensure(remote.url, remote.credentials)
    assert branch_commit(path, 'feature/x') is None
    assert [b.name for b in list_branches(path)] == ['main']


# -- smart HTTP with a token -------------------------------------------------------------------------------


def test_http_without_credentials_fails_clearly(store: MirrorStore, http_server: GitHttpServer) -> None:
    url = http_server.url('app.git')
    with pytest.raises(GitError, match='the remote refused access; set or check the project credentials'):
        store.ensure(url, None)
    state = store.state(url)
    assert state.fetched_at is None and state.error and 'credentials' in state.error
    assert not state.path.exists()


def test_http_token_goes_only_in_a_header(store: MirrorStore, http_server: GitHttpServer) -> None:
    state = store.ensure(http_server.url('app.git'), GOOD)
    assert state.error is None and branch_commit(state.path, 'main')
    assert http_server.requests and all(
        r.headers.get('Authorization') == f'Basic {BASIC}' for r in http_server.requests
    )
    assert all(TOKEN not in r.path for r in http_server.requests)
    written = everything_written(store)
    assert TOKEN not in written and BASIC not in written
    assert (state.path / 'config').read_text().count(f'url = {http_server.url("app.git")}\n') == 1


def test_wrong_token_is_refused_and_redacted(store: MirrorStore, http_server: GitHttpServer) -> None:
    wrong = Credentials('token', USER, 'tok_wrong_0000')
    with pytest.raises(GitError) as info:
        store.ensure(http_server.url('app.git'), wrong)
    assert 'set or check the project credentials' in str(info.value)
    assert 'tok_wrong_0000' not in str(info.value) and 'tok_wrong_0000' not in everything_written(store)


def _processes_mentioning(needle: bytes) -> list[tuple[bytes, bytes]]:
    """(cmdline, environ) of every process whose command line contains `needle` (environ: ours only)."""
    found = []
    for proc in Path('/proc').iterdir():
        try:
            cmdline = (proc / 'cmdline').read_bytes()
            if needle in cmdline:
                found.append((cmdline, (proc / 'environ').read_bytes()))
        except OSError:
            continue
    return found


def test_token_is_never_in_any_process_argv(store: MirrorStore, http_server: GitHttpServer) -> None:
    url = http_server.url('app.git')
    http_server.delay = 1.0  # git waits on the ref advertisement long enough to look at /proc
    for _ in range(2):  # the clone, then a fetch
        with ThreadPoolExecutor(1) as pool:
            done = pool.submit(store.ensure, url, GOOD)
            seen: list[tuple[bytes, bytes]] = []
            while not done.done():
                seen += _processes_mentioning(f'127.0.0.1:{http_server.port}'.encode())
                time.sleep(0.05)
            done.result()
        assert seen, 'no git process was caught while it talked to the server'
        for cmdline, environ in seen:
            assert TOKEN.encode() not in cmdline and BASIC.encode() not in cmdline
            assert TOKEN.encode() not in environ  # the environment carries only the base64 header
        assert any(f'Authorization: Basic {BASIC}'.encode() in environ for _, environ in seen)


def test_other_credentials_never_reuse_a_fresh_mirror(store: MirrorStore, http_server: GitHttpServer) -> None:
    url = http_server.url('app.git')
    store.ensure(url, GOOD)
    assert store.ensure(url, GOOD, max_age=3600).error is None
    with pytest.raises(GitError, match='credentials'):
        store.ensure(url, None, max_age=3600)  # fetched a second ago, but not by someone with no token
    with pytest.raises(GitError, match='credentials'):
        store.ensure(url, Credentials('token', USER, 'other'), max_age=3600)
    assert http_server.ref_advertisements() == 1


def test_a_failed_fetch_keeps_the_last_success(store: MirrorStore, http_server: GitHttpServer) -> None:
    url = http_server.url('app.git')
    first = store.ensure(url, GOOD)
    http_server.token = 'rotated-on-the-server'
    with pytest.raises(GitError):
        store.ensure(url, GOOD)
    state = store.state(url)
    assert state.fetched_at == first.fetched_at and state.error and 'credentials' in state.error
    http_server.token = TOKEN
    assert store.ensure(url, GOOD).error is None and store.state(url).error is None
