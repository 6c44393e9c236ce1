"""Real servers for tests: the API (uvicorn in a thread) or the whole app (a subprocess)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from app import local_sign_in
from app.api import KEEP_ALIVE_SECONDS
from app.config import Settings
from app.infra.http import tls_context

ROOT = Path(__file__).resolve().parents[2]


def _port_pool() -> range:
    """Where test servers get their ports: below the kernel's ephemeral range (ip_local_port_range), the ports
    it hands out by itself for bind(0) and for the local end of every outgoing connection, so no client
    (Chromium, httpx, a database driver) takes a port between free_port() and the server's own bind."""
    try:
        low = int(Path('/proc/sys/net/ipv4/ip_local_port_range').read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default; macOS's range starts at 49152
    return range(10_000, low) if low - 10_000 >= 4_096 else range(1_024, 65_536)


_handed_out: set[int] = set()  # never the same port twice in one process (a server may not have bound it yet)


def free_port() -> int:
    """A free port; under pytest-xdist one that no other worker is handed (ports are split by remainder), so
    two workers never race for the same port between finding it and binding it.

    Chosen at random from `_port_pool` and tried, not asked of the kernel with bind(0): Linux's bind(0) only
    returns odd ports (connect() takes the even ones), so with two workers the even worker would never get one."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    index = int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0').removeprefix('gw') or 0)
    pool = _port_pool()
    mine = range(pool.start + (index - pool.start) % workers, pool.stop, workers)
    for _ in range(1_000):
        port = random.choice(mine)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f'no free port in {mine}')


class ApiServer:
    def __init__(self, settings: Settings, port: int) -> None:
        self.settings, self.port = settings, port
        self.base_url = f'http://127.0.0.1:{port}'
        self.app = None
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def services(self):  # noqa: ANN201
        return self.app.state.services

    @property
    def token(self) -> str:
        return json.loads(self.settings.credentials_path.read_text())['token']

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:  # noqa: ANN003
        return httpx.Client(
            base_url=self.base_url,
            headers={'Authorization': f'Bearer {token or self.token}'},
            timeout=kwargs.pop('timeout', 30),
            verify=kwargs.pop('verify', tls_context()),
            **kwargs,
        )

    def async_client(self, token: str | None = None, **kwargs) -> httpx.AsyncClient:  # noqa: ANN003
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=kwargs.pop('timeout', 30),
            headers={'Authorization': f'Bearer {token or self.token}'},
            verify=kwargs.pop('verify', tls_context()),
            **kwargs,
        )


@contextmanager
def api_server(settings: Settings) -> Iterator[ApiServer]:
    """The API with its services (engine, scheduler) in this process, on a free port."""
    from app.api.application import build_api_app

    server = ApiServer(settings, free_port())
    server.app = build_api_app(settings)
    config = uvicorn.Config(
        server.app,
        host='127.0.0.1',
        port=server.port,
        log_level='warning',
        lifespan='on',
        timeout_keep_alive=KEEP_ALIVE_SECONDS,  # as the app serves: the client closes an idle connection first
    )
    server.server = uvicorn.Server(config)
    server.thread = threading.Thread(target=server.server.run, daemon=True)
    server.thread.start()
    deadline = time.monotonic() + 30
    while not server.server.started:
        if not server.thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError('API server did not start')
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.server.should_exit = True
        server.thread.join(timeout=30)


def clean_env(**extra: str | None) -> dict[str, str]:
    """The environment for a server subprocess: no pytest or NiceGUI test variables; an `extra` of None is unset."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI', 'RUNBOARD_'))}
    env.update({name: value for name, value in extra.items() if value is not None})
    return env


@contextmanager
def app_process(
    data_dir: Path,
    *,
    port: int | None = None,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    ready_path: str = '/api/health',
) -> Iterator[dict]:
    """`python main.py` as a person starts it, on a free port; yields {'url', 'process', 'port', 'sign_in_url',
    'cookies'}: login-free, the link it prints at start and the cookie a browser holds after opening it (else the
    bare URL and no cookie). It is ready when `ready_path` answers 200 (a UI-only `--server` process has no /api
    of its own); E2E browsers are signed in to it through its link (tests/helpers/e2e.py)."""
    with contextlib.ExitStack() as stack:
        app = stack.enter_context(_spawned(data_dir, port=port, args=args, env=env, log_path=log_path))
        _wait_ready(app, ready_path, seconds=60)
        _wait_announced(app, seconds=30)
        stack.enter_context(_signed_in_browsers(app))
        yield app


@contextmanager
def app_processes(
    data_dirs: list[Path], *, env: dict[str, str] | None = None, ready_path: str = '/api/health/ready'
) -> Iterator[list[dict]]:
    """Several `python main.py` started together (each spawned before any is waited for), as replicas are
    deployed; yields them once every one answers `ready_path` with 200."""
    with contextlib.ExitStack() as stack:
        apps = [stack.enter_context(_spawned(data_dir, env=env)) for data_dir in data_dirs]
        for app in apps:  # the machine is shared: several start-ups at once take longer than one
            _wait_ready(app, ready_path, seconds=60 * len(apps))
            stack.enter_context(_signed_in_browsers(app))
        yield apps


@contextmanager
def _spawned(
    data_dir: Path,
    *,
    port: int | None = None,
    args: list[str] | None = None,
    env: dict[str, str | None] | None = None,
    log_path: Path | None = None,
) -> Iterator[dict]:
    port = port or free_port()
    # the suite's clients sign in with the bootstrap administrator's token (credentials.json), which a team server
    # makes only when told (RUNBOARD_LOCAL_ACCOUNT; tests/api/test_startup.py starts one that is not)
    env = {'RUNBOARD_LOCAL_ACCOUNT': 'true', **(env or {})}
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_path or data_dir / 'server.log', 'ab')
    process = subprocess.Popen(
        [sys.executable, 'main.py', '--port', str(port), '--data-dir', str(data_dir), *(args or [])],
        cwd=ROOT,
        env=clean_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield {
            'url': f'http://127.0.0.1:{port}',
            'process': process,
            'port': port,
            'log': log.name,
            'data_dir': data_dir,
        }
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        # the app's own children (the native window's browser processes, say) go with it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _wait_ready(app: dict, ready_path: str, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            # the shared TLS context: httpx loads the CA bundle for each new client (50 ms of CPU), ten times a
            # second while a server starts on the same two cores
            ready = httpx.get(app['url'] + ready_path, cookies=signed_in_cookies(app), timeout=2, verify=tls_context())
            if ready.status_code == 200:
                token = local_sign_in.read_token(app['data_dir'])
                app['sign_in_url'] = local_sign_in.sign_in_url(app['url'], token) if token else app['url'] + '/'
                app['cookies'] = signed_in_cookies(app)
                return
        except httpx.HTTPError:
            pass
        if app['process'].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f'app did not start; see {app["log"]}')
        time.sleep(0.1)


def _wait_announced(app: dict, *, seconds: float) -> None:
    """Ready as a person sees it: the start line is printed once uvicorn listens, a moment after the first answer."""
    deadline = time.monotonic() + seconds
    while 'Runboard is ready at ' not in Path(app['log']).read_text(errors='replace'):
        if app['process'].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f'app answered but never printed its start line; see {app["log"]}')
        time.sleep(0.05)


def signed_in_cookies(app: dict) -> dict[str, str]:
    """The cookie a browser holds after opening a login-free server's sign-in link (app/local_sign_in.py), for
    plain HTTP clients of its pages; none when the server prints no link (sign-in, team mode)."""
    token = local_sign_in.read_token(app['data_dir'])
    return {local_sign_in.cookie_name(app['port']): local_sign_in.cookie_value(token)} if token else {}


# E2E browsers sign in to every login-free server through its link (tests/helpers/e2e.py registers a listener)
sign_in_listeners: list[Callable[[str], None]] = []
live_sign_in_urls: list[str] = []


@contextmanager
def _signed_in_browsers(app: dict) -> Iterator[None]:
    url = app['sign_in_url']
    if f'?{local_sign_in.QUERY_PARAMETER}=' not in url:
        yield
        return
    live_sign_in_urls.append(url)
    for listener in list(sign_in_listeners):
        listener(url)
    try:
        yield
    finally:
        live_sign_in_urls.remove(url)
