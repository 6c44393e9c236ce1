"""Follow the server's change events for one browser tab, reconnecting after a drop. A server whose live updates are
paused (503 live_updates_paused: its event listener lost Redis) pauses the tab (app/state/live_pause.py) until the
stream is open again and its page has read again what it shows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nicegui import background_tasks, context

from app.client import ApiError
from app.state import connection
from app.state.live_pause import LivePause, LiveState, paused_since

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 1.0
_watchers: weakref.WeakKeyDictionary[Any, list[Callable[[LiveState], None]]] = weakref.WeakKeyDictionary()
_page_streams: weakref.WeakKeyDictionary[Any, list[Callable[[], None]]] = weakref.WeakKeyDictionary()
_pauses: weakref.WeakKeyDictionary[Any, LivePause] = weakref.WeakKeyDictionary()


def watch_connection(listener: Callable[[LiveState], None]) -> None:
    """listener(state) whenever any live stream of this tab opens, is paused by the server or drops (the header's
    chip)."""
    _watchers.setdefault(context.client, []).append(listener)


def pause_of(tab: Any) -> LivePause:
    """The tab's pause: which of its streams wait for the server's live updates, since when."""
    return _pauses.setdefault(tab, LivePause())


def watch_pause(listener: Callable[[datetime | None], None]) -> None:
    """listener(since) when this tab's live updates are paused by the server, listener(None) once they are back and
    every page part that was paused has read again what it shows (the banner, the chip)."""
    pause_of(context.client).watch(listener)


def follow(
    handler: Callable[[dict], Awaitable[None] | None],
    *,
    project: str | None = None,
    run: str | None = None,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    on_state: Callable[[LiveState], None] | None = None,
    tab_wide: bool = False,
) -> None:
    """Call handler(event) for each change until the tab goes away, or until its page is replaced in place
    (leave_page) unless tab_wide. on_reconnect() runs each time the stream opens, to pick up changes made while
    no stream was open. on_state('live') when the stream is open, on_state('paused') while the server's live
    updates are paused, on_state('down') when it dropped (we reconnect after RECONNECT_SECONDS)."""

    def state(now: LiveState) -> None:
        for listener in ([on_state] if on_state else []) + _watchers.get(tab, []):
            with contextlib.suppress(Exception):
                listener(now)

    tab = context.client
    pause = pause_of(tab)
    key = object()  # this stream, in the tab's pause

    async def catch_up() -> None:
        """Read again what the page shows; a stream that was paused counts as resumed only once that read worked."""
        while True:
            try:
                if on_reconnect is not None:
                    await on_reconnect()
            except ApiError:
                if not pause.is_paused(key):
                    return
                await asyncio.sleep(RECONNECT_SECONDS)  # the banner stays: the page still shows what it had
                continue
            pause.resumed(key)
            return

    catching_up: list[asyncio.Task] = []

    def opened() -> None:
        state('live')
        for older in catching_up:  # a read of an earlier open still trying: this one reads again anyway
            older.cancel()
        # changes made before the stream opened (first load, or while away or paused)
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
                except ApiError as exc:
                    if (since := paused_since(exc, datetime.now(UTC))) is not None:
                        pause.paused(key, since)
                        state('paused')
                        await asyncio.sleep(exc.retry_after or RECONNECT_SECONDS)
                        continue
                state('down')
                await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            await client.aclose()

    task = background_tasks.create(loop(), name='follow-events')

    def stop() -> None:
        pause.resumed(key)  # a stream that ends no longer holds the tab's pause
        with contextlib.suppress(Exception):
            task.cancel()
        for reading in catching_up:
            reading.cancel()

    tab.on_delete(stop)  # not on_disconnect: a tab that reconnects keeps following
    if not tab_wide:
        _page_streams.setdefault(tab, []).append(stop)


def leave_page() -> None:
    """This tab's page is being replaced without a page load: its own streams end (tab-wide ones go on)."""
    for stop in _page_streams.pop(context.client, []):
        stop()
