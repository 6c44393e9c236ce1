"""Where the UI's API lives (this process's own API, or a remote team server) and whose token it uses.

Login-free (local mode, or a fixed RUNBOARD_TOKEN): one token for the whole process. With sign-in: the
token of the browser whose page or handler is running (NiceGUI user storage, reached through the request
context, which background tasks started from a page inherit); a 401 then sends that browser to /login.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from app.client import ApiError, Response, RunboardClient
from app.state import session

log = logging.getLogger(__name__)

_config: dict[str, Any] = {'base_url': None, 'token': None, 'sign_in': False, 'remote': False}
_shared: RunboardClient | None = None
_per_token: dict[str, BrowserClient] = {}


def configure(*, base_url: str, token: str | None, sign_in: bool = False, remote: bool = False) -> None:
    """remote: the API is another process (`--server URL`), not this one's own."""
    _config.update(base_url=base_url, token=token, sign_in=sign_in, remote=remote)


def is_remote() -> bool:
    return bool(_config['remote'])


def sign_in_required() -> bool:
    return bool(_config['sign_in'])


def base_url() -> str:
    if not _config['base_url']:
        raise RuntimeError('UI connection is not configured yet')
    return _config['base_url']


class BrowserClient(RunboardClient):
    """A signed-in person's client: a 401 (token revoked, or signed out elsewhere) forgets the token of the
    browser being served and sends its tab to the login page."""

    def __init__(self, base: str, token: str | None, **kwargs: Any) -> None:
        super().__init__(base, token, **kwargs)
        self.token = token

    async def request(self, *args: Any, **kwargs: Any) -> Response:
        try:
            return await super().request(*args, **kwargs)
        except ApiError as exc:
            if exc.status == 401:
                self._unauthorized()
            raise

    async def events(self, **kwargs: Any) -> AsyncIterator[dict]:
        try:
            async for event in super().events(**kwargs):
                yield event
        except ApiError as exc:
            if exc.status == 401:
                self._unauthorized()
            raise

    def _unauthorized(self) -> None:
        if self.token:
            session.sign_out(self.token)
        send_to_login()


def send_to_login() -> None:
    """Navigate the tab being served to /login (?next= the page it is on). No tab in reach: nothing."""
    from nicegui import Client, context, ui  # noqa: PLC0415  (app/state imports no NiceGUI at module level; only a running UI calls this)
    from nicegui.storage import request_contextvar  # noqa: PLC0415  (app/state imports no NiceGUI at module level; only a running UI calls this)

    tab = None
    with contextlib.suppress(RuntimeError):
        tab = context.client
    if tab is None:  # a background task: find the tab whose page request we are serving
        request = request_contextvar.get()
        scope = request.scope if request is not None else None  # middleware and page wrap the same scope
        tab = (
            next(
                (c for c in list(Client.instances.values()) if c._request is not None and c._request.scope is scope),
                None,
            )
            if scope
            else None
        )
    if tab is None or tab.is_deleted:
        return
    path = tab.request.url.path + (f'?{tab.request.url.query}' if tab.request.url.query else '')
    with contextlib.suppress(Exception), tab:
        ui.navigate.to(session.login_url(path, ended=True))


def _token() -> str | None:
    return session.current_token() if sign_in_required() else _config['token']


def client() -> RunboardClient:
    """The pooled client for the browser being served (login-free: one client for the whole process)."""
    global _shared
    if sign_in_required():
        token = session.current_token()
        key = token or ''
        if key not in _per_token:
            _per_token[key] = BrowserClient(base_url(), token, timeout=10.0)
        return _per_token[key]
    if _shared is None:
        _shared = RunboardClient(base_url(), _config['token'], timeout=10.0)
    return _shared


def new_client(**kwargs: Any) -> RunboardClient:
    """A client of its own (long-lived event streams should not share the request pool), same token."""
    if sign_in_required():
        return BrowserClient(base_url(), _token(), **kwargs)
    return RunboardClient(_config['base_url'] or '', _config['token'], **kwargs)


def anonymous_client(token: str, **kwargs: Any) -> RunboardClient:
    """A throwaway client for checking a token someone typed (the login page)."""
    return RunboardClient(base_url(), token, **kwargs)


async def close() -> None:
    global _shared
    if _shared is not None:
        await _shared.aclose()
        _shared = None
    while _per_token:
        _, pooled = _per_token.popitem()
        with contextlib.suppress(Exception):
            await pooled.aclose()
