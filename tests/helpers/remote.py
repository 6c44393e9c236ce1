"""Real remotes for the mirror tests: a bare upstream repository and the ways to reach it
(file://, git:// by `git daemon`, http:// by `git http-backend` behind Basic auth)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.services.repositories.credentials import Credentials

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


@contextmanager
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose server accepts connections and never answers (a remote that hangs)."""
    listener = socket.create_server(('127.0.0.1', 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def credentials_body(credentials: Credentials) -> dict:
    """Credentials as POST /api/projects takes them."""
    return {'kind': credentials.kind, 'username': credentials.username, 'secret': credentials.secret}


def git_processes_reaching(port: int) -> list[str]:
    """Command lines of the processes on this machine that talk to the loopback remote on `port`."""
    found = []
    for cmdline in Path('/proc').glob('[0-9]*/cmdline'):
        try:
            argv = cmdline.read_bytes().split(b'\0')
        except OSError:  # ended meanwhile
            continue
        line = ' '.join(a.decode(errors='replace') for a in argv if a)
        if Path(line.split(' ')[0]).name.startswith('git') and f'127.0.0.1:{port}/' in line:
            found.append(line)
    return found
