"""Follow the server's change events for one browser tab, reconnecting after a drop."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable, Callable

from nicegui import background_tasks, context

from app.client import ApiError
from app.state import connection

RECONNECT_SECONDS = 1.0


def follow(handler: Callable[[dict], Awaitable[None] | None], *, project: str | None = None,
           run: str | None = None, on_reconnect: Callable[[], Awaitable[None]] | None = None) -> None:
    """Call handler(event) for each change until the tab goes away."""
    tab = context.client

    async def loop() -> None:
        client = connection.new_client(timeout=10.0)
        first = True
        try:
            while True:
                try:
                    if not first and on_reconnect is not None:
                        await on_reconnect()  # changes made while we were away
                    first = False
                    async for event in client.events(project=project, run=run):
                        result = handler(event)
                        if asyncio.iscoroutine(result):
                            await result
                except ApiError:
                    pass
                await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            await client.aclose()

    task = background_tasks.create(loop(), name='follow-events')

    def stop() -> None:
        with contextlib.suppress(Exception):
            task.cancel()
    tab.on_delete(stop)  # not on_disconnect: a tab that reconnects keeps following
