"""Real remotes for the mirror tests: a bare upstream repository served as file://, by `git daemon`
(git://) and by `git http-backend` behind Basic auth (http://)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.repositories.credentials import Credentials
from app.services.repositories.mirror_store import MirrorStore
from tests.helpers.remote import TOKEN, USER, Remote, Upstream, wait_for_port
from tests.helpers.servers import free_port
from tests.remote.http_git import GitHttpServer


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return Upstream(tmp_path / 'served')


@pytest.fixture
def git_daemon_url(upstream: Upstream) -> Iterator[str]:
    port = free_port()
    daemon = subprocess.Popen(
        ['git', 'daemon', '--export-all', f'--base-path={upstream.root}', f'--port={port}', '--reuseaddr',
         '--listen=127.0.0.1', '--informative-errors'],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield f'git://127.0.0.1:{port}/app.git'
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=10)


@pytest.fixture
def http_server(upstream: Upstream) -> Iterator[GitHttpServer]:
    server = GitHttpServer(upstream.root, user=USER, token=TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=['file', 'git', 'http'])
def remote(request: pytest.FixtureRequest, upstream: Upstream) -> Remote:
    if request.param == 'file':
        return Remote('file', f'file://{upstream.bare}', None, upstream)
    if request.param == 'git':
        return Remote('git', request.getfixturevalue('git_daemon_url'), None, upstream)
    server: GitHttpServer = request.getfixturevalue('http_server')
    return Remote('http', server.url('app.git'), Credentials('token', USER, TOKEN), upstream)


@pytest.fixture
def store(tmp_path: Path) -> MirrorStore:
    return MirrorStore(tmp_path / 'mirrors', fetch_timeout=20)


@pytest.fixture
def http_remote(http_server: GitHttpServer, upstream: Upstream) -> Remote:
    """The http remote alone (Basic auth: USER / TOKEN)."""
    return Remote('http', http_server.url('app.git'), Credentials('token', USER, TOKEN), upstream)
