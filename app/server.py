"""Composition: settings -> services -> API -> pages -> ui.run()."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import sys
import webbrowser
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from nicegui import app as web_app
from nicegui import ui
from nicegui.server import Server  # the running uvicorn server, known once ui.run() made it
from nicegui.storage import Storage

from app import local_sign_in, package_files, ui_secret
from app.api import KEEP_ALIVE_SECONDS
from app.api.compression import UiCompression
from app.api.disconnects import QuietDisconnects
from app.api.hosts import HostGuard, guard_settings
from app.api.security_headers import SecurityHeaders
from app.api.sign_in_gate import LocalSignInGate
from app.config import Settings
from app.core.startup import StartupFailed, failure_line, remote_is_itself
from app.state import connection

if TYPE_CHECKING:
    from app.container import Services


def compose(settings: Settings) -> None:
    """Wire everything onto NiceGUI's app. When settings.server is set, this process serves only the UI
    and talks to that remote API; otherwise it hosts the API too."""
    from app import pages  # noqa: PLC0415  (importing a page module registers its routes: only when the server composes its pages)

    hosts_api = settings.server is None
    sign_in = settings.ui_requires_sign_in
    # login-free: the UI asks who is there (docs/security.md, "Local mode: who is at the keyboard")
    keyboard_token = None if sign_in else local_sign_in.load_or_create(settings.data_dir)
    guard_hosts(web_app, settings, keyboard_token, api_prefix='/api' if hosts_api else None)
    if hosts_api:  # after the UI's guards: the API's dispatcher goes in front of them (it has its own gate)
        from app import hosting  # noqa: PLC0415  (only a process that hosts the API loads it: app/hosting.py)

        hosting.serve_api_in_front(web_app, settings)
    holder: dict[str, Services] = {}

    async def startup() -> None:
        if hosts_api:
            services = hosting.build_services(settings)
            holder['services'] = services
            await services.start()
            web_app.state.services = services  # every part started: the API may answer
            token = None if sign_in else settings.token or services.local_token
            base_url = f'http://127.0.0.1:{settings.port}'
        else:
            token = settings.token or (None if sign_in else local_sign_in.read_local_token(settings.credentials_path))
            assert settings.server is not None  # hosts_api is False: a remote API is configured
            base_url = settings.server
        connection.configure(base_url=base_url, token=token, sign_in=sign_in, remote=not hosts_api)

    async def shutdown() -> None:
        await connection.close()
        if 'services' in holder:
            await holder['services'].close()

    async def abandon() -> None:  # start-up failed part of the way: close what did start
        if 'services' in holder:
            await holder.pop('services').close()

    all_or_nothing(web_app, startup, abandon)
    web_app.on_startup(lambda: announce_when_serving(settings, keyboard_token))
    web_app.on_startup(lambda: end_streams_when_stopping(holder))
    web_app.on_shutdown(shutdown)
    web_app.add_static_files('/assets', str(package_files.assets_dir()))  # in the wheel too (app.assets)
    pages.register()


STARTUP_FAILED_EXIT = 2
_failed_start: list[str] = []  # the line said when start-up failed (one process, one start)


def all_or_nothing(
    web_app: FastAPI, start: Callable[[], Awaitable[None]], abandon: Callable[[], Awaitable[None]]
) -> None:
    """Start-up runs inside the server's lifespan, awaited before uvicorn binds the port (NiceGUI's on_startup
    would run it as a background task beside a server that already answers). When it fails: what started is
    closed, one line says what failed, and uvicorn exits without binding; `run` turns that into exit 2."""
    nicegui_lifespan = web_app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        try:
            await start()
            entered = nicegui_lifespan(app)
            state = await entered.__aenter__()
        except Exception as exc:
            line = exc.line if isinstance(exc, StartupFailed) else failure_line('start-up', exc)
            with contextlib.suppress(Exception):
                await abandon()
            _failed_start.append(line)
            print(f'runboard: cannot start: {line}', file=sys.stderr, flush=True)
            raise StartupAborted from None  # uvicorn's own report of it is filtered out (quiet_uvicorn)
        try:
            yield state
        finally:
            await entered.__aexit__(None, None, None)

    web_app.router.lifespan_context = lifespan


class StartupAborted(Exception):
    """Start-up failed and has been reported in one line."""


class _QuietAfterFailedStart(logging.Filter):
    """uvicorn logs a failed lifespan as a traceback and 'Application startup failed': said once already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _failed_start


def guard_hosts(
    web_app: FastAPI, settings: Settings, keyboard_token: str | None = None, *, api_prefix: str | None = '/api'
) -> None:
    """The DNS-rebinding guard goes in front of everything: pages, API, static files, websockets; the
    response headers (no framing, no sniffing) around it, so its 421 carries them too. Behind it, login-free,
    the local sign-in gate (a keyboard_token): every UI request needs the sign-in cookie or the token."""

    build_stack = web_app.build_middleware_stack

    def stack() -> Any:
        inner: Any = QuietDisconnects(build_stack())
        if keyboard_token is not None:
            inner = LocalSignInGate(inner, token=keyboard_token, port=settings.port, api_prefix=api_prefix)
        return SecurityHeaders(HostGuard(inner, **guard_settings(settings)))

    # wrapped on this one app instance on purpose (mypy refuses any assignment to a method)
    web_app.build_middleware_stack = stack  # type: ignore[method-assign]


def start_url(settings: Settings, keyboard_token: str | None) -> str:
    """Where a person opens this server: with the sign-in token when login-free."""
    base = settings.effective_public_url
    return local_sign_in.sign_in_url(base, keyboard_token) if keyboard_token else base + '/'


async def announce_when_serving(settings: Settings, keyboard_token: str | None) -> None:
    """The last start line, once uvicorn listens: 'Runboard is ready at <the link>'. Login-free, the data dir
    remembers the address (`runboard open`), and RUNBOARD_OPEN_BROWSER opens the link (scripts/start.sh)."""

    while not getattr(getattr(Server, 'instance', None), 'started', False):
        await asyncio.sleep(0.05)
    url = start_url(settings, keyboard_token)
    if keyboard_token:
        local_sign_in.write_server_file(settings.data_dir, settings.effective_public_url)
    print(f'Runboard is ready at {url}', flush=True)
    if settings.open_browser and (os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')):
        webbrowser.open(url)


async def end_streams_when_stopping(holder: dict[str, Services]) -> None:
    """When uvicorn is told to stop (SIGTERM, Ctrl-C) it waits for open answers before the shutdown hooks run:
    the event streams (the UI's own among them) never end by themselves, so they would be cancelled after the
    grace, each with a traceback. Told that the server is stopping, they end at once instead."""
    while not getattr(getattr(Server, 'instance', None), 'should_exit', False):
        await asyncio.sleep(0.2)
    if 'services' in holder:
        from app import hosting  # noqa: PLC0415  (loaded already: services are hosted here)

        hosting.end_streams(holder['services'])


def browser_sessions(settings: Settings) -> str | None:
    """With sign-in, NiceGUI's per-browser user storage (which holds each person's token) lives in the data
    dir, private to this user, and its session cookie is signed with a secret kept there (0600)."""
    if not settings.ui_requires_sign_in:
        return None  # login-free: no session cookie, no per-browser storage

    storage_dir = settings.private_data_dir() / 'ui-storage'
    storage_dir.mkdir(parents=True, exist_ok=True)
    storage_dir.chmod(0o700)
    Storage.path = storage_dir
    return ui_secret.load_or_create(settings.ui_secret_path)


def one_line_per_migration(record: logging.LogRecord) -> bool:
    """Alembic's start-up chatter: only a migration being applied is said, in one line ('Running upgrade
    0016 -> 0017, <the first line of its description>'); its context lines on every start are not."""
    if record.levelno > logging.INFO:
        return True
    if record.msg != 'Running %s' or not record.args:
        return False
    said = str(record.args[0] if isinstance(record.args, tuple) else record.args)
    record.args = (said.splitlines()[0] if said else said,)
    return True


SHUTDOWN_GRACE_SECONDS = 3


def run(settings: Settings, *, native: bool = False) -> None:
    if native and os.geteuid() == 0:  # QtWebEngine's Chromium refuses to start as root without this
        os.environ.setdefault('QTWEBENGINE_CHROMIUM_FLAGS', '--no-sandbox')
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    # alembic's plugin set-up says each plugin it loads, at its import (app/hosting.py imports it after this point)
    for noisy in ('httpx', 'apscheduler', 'alembic.runtime.plugins'):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger('alembic.runtime.migration').addFilter(one_line_per_migration)
    if itself := remote_is_itself(settings.server, host=settings.host, port=settings.port):
        print(f'runboard: cannot start: {itself}', file=sys.stderr)
        raise SystemExit(2)
    if settings.server is None:  # hosting the API: its database must answer before anything is served
        from app import hosting  # noqa: PLC0415  (only a process that hosts the API loads it: app/hosting.py)

        try:
            hosting.preflight(settings.effective_database_url)
        except hosting.StartupError as exc:
            print(f'runboard: cannot start: {exc}', file=sys.stderr)
            raise SystemExit(2) from None
    compose(settings)
    logging.getLogger('uvicorn.error').addFilter(_QuietAfterFailedStart())
    try:
        serve(settings, native=native)
    except SystemExit:
        if _failed_start:  # said in one line already (all_or_nothing)
            raise SystemExit(STARTUP_FAILED_EXIT) from None
        raise


def close_native_window() -> None:
    """The window is a child process that multiprocessing ends only at a normal exit; uvicorn ends the process by
    re-raising SIGTERM, so without this the window stayed open on "Connection lost"."""
    for child in multiprocessing.active_children():
        child.terminate()


def serve(settings: Settings, *, native: bool) -> None:
    if native:  # the window opens the link, so the person at the keyboard is signed in with no extra step
        token = None if settings.ui_requires_sign_in else local_sign_in.read_token(settings.data_dir)
        host = '127.0.0.1' if settings.host in ('0.0.0.0', '::', '') else settings.host  # as NiceGUI's window does
        base = f'http://{f"[{host}]" if ":" in host else host}:{settings.port}'
        web_app.native.window_args['url'] = local_sign_in.sign_in_url(base, token) if token else base + '/'
        web_app.native.start_args['gui'] = 'qt'  # the `native` extra's toolkit: no failed GTK attempt first
        web_app.on_shutdown(close_native_window)
    ui.run(
        host=settings.host,
        port=settings.port,
        title='Runboard',
        language='en-US',  # <html lang>: screen readers speak the pages in English (and Quasar's own words)
        dark=None,
        reload=False,
        show=False,
        native=native,
        window_size=(1200, 800) if native else None,
        favicon='🏁',
        gzip_middleware_factory=UiCompression,  # artifact downloads go as stored (api/compression.py)
        fastapi_docs=False,  # the API's reference pages are served from the package (api/reference_pages.py)
        show_welcome_message=False,
        storage_secret=browser_sessions(settings),
        # served over https (RUNBOARD_PUBLIC_URL): the session cookie is never sent over plain http
        session_middleware_kwargs={'https_only': settings.effective_public_url.startswith('https://')},
        reconnect_timeout=10.0,
        # live streams (SSE followers of pages, `runs logs --follow`) never end by themselves: without a bound,
        # SIGTERM would wait for them for ever. Clients reconnect (to another instance in team mode).
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # The standard loop, not uvloop: uvloop starts a run's process with fork(), which in a server of a couple of
        # hundred MB and a dozen threads cost ~7 ms of CPU and held the loop ~15 ms a run; asyncio's subprocess
        # uses vfork() (docs/performance.md, "A run's spawn")
        loop='asyncio',
    )
