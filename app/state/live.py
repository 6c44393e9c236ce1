"""Follow the server's change events for one browser tab, reconnecting after a drop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import background_tasks, context

from app.client import ApiError
from app.state import connection

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 1.0
_watchers: weakref.WeakKeyDictionary[Any, list[Callable[[bool], None]]] = weakref.WeakKeyDictionary()
_page_streams: weakref.WeakKeyDictionary[Any, list[Callable[[], None]]] = weakref.WeakKeyDictionary()


def watch_connection(listener: Callable[[bool], None]) -> None:
    """listener(connected) whenever any live stream of this tab opens or drops (the header's chip)."""
    _watchers.setdefault(context.client, []).append(listener)


def follow(
    handler: Callable[[dict], Awaitable[None] | None],
    *,
    project: str | None = None,
    run: str | None = None,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    on_state: Callable[[bool], None] | None = None,
    tab_wide: bool = False,
) -> None:
    """Call handler(event) for each change until the tab goes away, or until its page is replaced in place
    (leave_page) unless tab_wide. on_reconnect() runs each time the stream opens, to pick up changes made while
    no stream was open. on_state(True) when the stream is open, on_state(False) when it dropped (we reconnect
    after RECONNECT_SECONDS)."""

    def state(connected: bool) -> None:
        for listener in ([on_state] if on_state else []) + _watchers.get(tab, []):
            with contextlib.suppress(Exception):
                listener(connected)

    tab = context.client

    async def catch_up() -> None:
        if on_reconnect is None:
            return
        with contextlib.suppress(ApiError):
            await on_reconnect()

    catching_up: list[asyncio.Task] = []

    def opened() -> None:
        state(True)
        if on_reconnect is not None:  # changes made before the stream opened (first load, or while away)
            catching_up[:] = [background_tasks.create(catch_up(), name='follow-catch-up')]

    async def loop() -> None:
        client = connection.new_client(timeout=10.0)
        try:
            while True:
                try:
                    async for event in client.events(project=project, run=run, on_open=opened):
                        if catching_up:  # events wait for the read: an older read must not undo a newer event
                            await asyncio.wait(catching_up)
                            catching_up.clear()
                        try:
                            result = handler(event)
                            if asyncio.iscoroutine(result):
                                await result
                        except ApiError:
                            raise
                        except Exception:  # one event the page could not take must not end its live updates
                            log.exception('a live change event could not be shown: %s', event.get('type'))
                except ApiError:
                    pass
                state(False)
                await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            await client.aclose()

    task = background_tasks.create(loop(), name='follow-events')

    def stop() -> None:
        with contextlib.suppress(Exception):
            task.cancel()

    tab.on_delete(stop)  # not on_disconnect: a tab that reconnects keeps following
    if not tab_wide:
        _page_streams.setdefault(tab, []).append(stop)


def leave_page() -> None:
    """This tab's page is being replaced without a page load: its own streams end (tab-wide ones go on)."""
    for stop in _page_streams.pop(context.client, []):
        stop()
