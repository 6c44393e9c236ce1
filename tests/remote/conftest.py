"""Real remotes for the mirror tests: a bare upstream repository served as file://, by `git daemon`
(git://) and by `git http-backend` behind Basic auth (http://)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.services.git_credentials import Credentials
from app.services.mirror_store import MirrorStore
from tests.remote.http_git import GitHttpServer

USER, TOKEN = 'alice', 'tok_9f8e7d6c5b4a_secret'
IDENT = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'init.defaultBranch=main']


def sh_git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(['git', *IDENT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class Upstream:
    """A bare repository `<root>/app.git` and a work clone that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bare = root / 'app.git'
        self.work = root.parent / 'work'
        sh_git('init', '-q', '--bare', str(self.bare))
        sh_git('init', '-q', str(self.work))
        self.commit('main', 'README.md', 'hello\n')
        self.commit('feature/x', 'x.txt', 'x\n')

    def commit(self, branch: str, name: str, content: str) -> str:
        """A new commit on `branch` (a new branch starts from main), pushed; returns its hash."""
        if (self.work / '.git' / 'refs' / 'heads' / 'main').exists():
            sh_git('checkout', '-q', *(['main'] if branch == 'main' else ['-B', branch, 'main']), cwd=self.work)
        (self.work / name).write_text(content)
        sh_git('add', '-A', cwd=self.work)
        sh_git('commit', '-q', '-m', f'{branch}: {name}', cwd=self.work)
        sh_git('push', '-q', '--force', str(self.bare), f'HEAD:refs/heads/{branch}', cwd=self.work)
        return self.head(branch)

    def delete(self, branch: str) -> None:
        sh_git('push', '-q', str(self.bare), f':refs/heads/{branch}', cwd=self.work)

    def head(self, branch: str) -> str:
        return sh_git('rev-parse', f'refs/heads/{branch}', cwd=self.bare).strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f'nothing listens on port {port}')


@dataclass(frozen=True)
class Remote:
    kind: str
    url: str
    credentials: Credentials | None
    upstream: Upstream


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
