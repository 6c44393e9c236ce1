"""Live updates paused: a team server whose event listener lost Redis ends its live streams and answers `503
live_updates_paused` on GET /events until it has subscribed again (it would miss what other servers and workers
change). The page is still connected to the server; what it shows may be out of date. Pure: no NiceGUI.

One LivePause per browser tab holds which of its streams are paused, and since when. A stream stays paused after
it opens again until its page has read again what it shows (its catch-up), so the banner never leaves while stale
data is shown as current (app/state/live.py, app/pages/live_banner.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Literal

from app.client import ApiError
from app.state.run_timing import parse

PAUSED_CODE = 'live_updates_paused'
# a stream's state, for a page's own "live" label and the header chip: open, paused by the server, or dropped
LiveState = Literal['live', 'paused', 'down']
HEADLINE = 'Live updates paused'
EXPLANATION = (
    'the server lost its connection to Redis. What you see may be out of date; it refreshes by itself when '
    'live updates resume.'
)


def paused_since(error: ApiError, now: datetime) -> datetime | None:
    """When the server's live updates were paused, if this refusal of GET /events says they are (its
    `paused_since`, else `now`); None for any other failure (the network, a restart, a 401...)."""
    if error.status != 503 or error.error != PAUSED_CODE:
        return None
    since = None
    with contextlib.suppress(TypeError, ValueError):
        since = parse(error.body.get('paused_since'))
    return min(since, now) if since else now


def since_text(since: datetime) -> str:
    """'since 14:03:12 UTC' (the browser's zone is unknown here; the relative time beside it is the browser's)."""
    return f'since {since.astimezone(UTC):%H:%M:%S} UTC'


class LivePause:
    """Which of one tab's streams are paused. Listeners hear since when (the earliest of them) when the tab's pause
    starts, and None when its last paused stream has read again; a stream that resumes while others have not does
    not move the time shown."""

    def __init__(self) -> None:
        self._streams: set[Hashable] = set()
        self._since: datetime | None = None
        self._listeners: list[Callable[[datetime | None], None]] = []

    @property
    def since(self) -> datetime | None:
        return self._since

    def is_paused(self, stream: Hashable) -> bool:
        return stream in self._streams

    def watch(self, listener: Callable[[datetime | None], None]) -> None:
        self._listeners.append(listener)
        if self._streams:  # a listener added during a pause (a page drawn in place) shows it at once
            listener(self.since)

    def paused(self, stream: Hashable, since: datetime) -> None:
        self._streams.add(stream)
        if self._since is None or since < self._since:
            self._since = since
            self._tell()

    def resumed(self, stream: Hashable) -> None:
        """The stream is open again and its page has read again what it shows (or the stream ended for good)."""
        if stream not in self._streams:
            return
        self._streams.discard(stream)
        if not self._streams:
            self._since = None
            self._tell()

    def _tell(self) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # one listener (a page gone) must not keep the others in the dark
                listener(self._since)
