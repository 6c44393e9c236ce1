"""The run timeline's output window: which lines the tab shows, without ever holding a whole huge log.

Pure: the page feeds it events (seq-numbered, possibly repeated or out of order after a reconnect) and
renders what it says. The tab shows at most `window` lines of the tail; earlier lines are loaded on demand
by seq range; while following is paused, new lines are counted and only the newest window is kept.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

WINDOW_LINES = 1000
EARLIER_PAGE = 1000


@dataclass(frozen=True)
class Line:
    seq: int
    kind: str  # output | stage | status
    text: str

    @property
    def marker(self) -> str:
        return {'stage': '▶ ', 'status': '● '}.get(self.kind, '')


@dataclass
class OutputWindow:
    window: int = WINDOW_LINES
    last_seq: int = 0  # newest seq received
    earliest_loaded: int | None = None  # oldest seq of the pages loaded on demand above the tail
    following: bool = True
    held: list[Line] = field(default_factory=list)  # arrived while paused (newest window only)
    held_count: int = 0
    stages: list[Line] = field(default_factory=list)  # stage markers (small: a handful per run)
    tail: deque = field(default_factory=deque)  # seqs in the tail view (it drops its oldest beyond the window)

    @property
    def first_shown_seq(self) -> int | None:
        """The oldest seq the tab shows: the top of the loaded-earlier pages, else the top of the tail."""
        if self.earliest_loaded is not None:
            return self.earliest_loaded
        return self.tail[0] if self.tail else None

    def _showing(self, lines: list[Line]) -> list[Line]:
        self.tail.extend(line.seq for line in lines)
        while len(self.tail) > self.window:
            self.tail.popleft()
        return lines

    def jump_to_tail(self, run_last_seq: int) -> None:
        """Far behind: forget what is shown and continue from the tail window."""
        self.tail.clear()
        self.earliest_loaded = None
        self.last_seq = self.tail_start(run_last_seq)

    def accept(self, events: list[dict[str, Any]]) -> list[Line]:
        """New events in; the lines to append to the view now (none while paused)."""
        fresh = [
            Line(e['seq'], e['type'], e['text'])
            for e in sorted(events, key=lambda e: e['seq'])
            if e['seq'] > self.last_seq
        ]
        if not fresh:
            return []
        self.last_seq = fresh[-1].seq
        self.stages.extend(line for line in fresh if line.kind == 'stage')
        if not self.following:
            self.held_count += len(fresh)
            self.held = (self.held + fresh)[-self.window :]
            return []
        return self._showing(fresh[-self.window :])

    def pause(self) -> None:
        self.following = False

    def resume(self) -> tuple[list[Line], int]:
        """Follow again: the held lines to append and how many were skipped (beyond the window)."""
        self.following = True
        lines, skipped = self.held, self.held_count - len(self.held)
        self.held, self.held_count = [], 0
        return self._showing(lines), skipped

    def tail_start(self, run_last_seq: int) -> int:
        """The `after` seq from which to fetch a run's tail window when opening it (skip older lines)."""
        return max(0, run_last_seq - self.window)

    def earlier_range(self) -> tuple[int, int] | None:
        """(after, limit) for GET /runs/{id}/events to load the page before what the tab shows, or None."""
        if self.first_shown_seq is None or self.first_shown_seq <= 1:
            return None
        after = max(0, self.first_shown_seq - 1 - EARLIER_PAGE)
        return after, self.first_shown_seq - 1 - after

    def loaded_earlier(self, events: list[dict[str, Any]]) -> list[Line]:
        lines = [
            Line(e['seq'], e['type'], e['text'])
            for e in sorted(events, key=lambda e: e['seq'])
            if self.first_shown_seq is None or e['seq'] < self.first_shown_seq
        ]
        if lines:
            self.earliest_loaded = lines[0].seq
        return lines

    @property
    def has_earlier(self) -> bool:
        return self.earlier_range() is not None
