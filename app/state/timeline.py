"""The run timeline's output window: which lines the tab shows, without ever holding a whole huge log.

Pure: the page feeds it events (seq-numbered, possibly repeated or out of order after a reconnect) and
renders what it says. Every event has a seq (1, 2, 3, ... with no gaps), so what the tab shows is one
contiguous range of seqs, `first_shown_seq` to `last_shown_seq`, at most `max_view` lines:

- at the tail (the default): new lines are appended while following; the view slides, keeping at most
  max(window, its size) lines, so a live 100,000-line run never has more than `window` in the tab;
- earlier pages load above it on demand (past `max_view`, the newest lines are let go: the view is then
  *anchored*, away from the tail);
- a jump to a line (a #L link, a search match) replaces the view with the window around that line and
  pauses following, so the view is not yanked back to the tail; while paused, new lines are counted and
  only the newest window is kept (held); following again appends them, or reloads the tail when the
  view is anchored or some held lines were let go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WINDOW_LINES = 1000
EARLIER_PAGE = 1000
MAX_VIEW_LINES = 3000  # the most lines the tab ever holds (earlier pages, later pages)
JUMP_LINES = 500  # the window around a linked line or a search match (small: it is loaded on each jump)


@dataclass(frozen=True)
class Line:
    seq: int
    kind: str  # output | stage | status | group | endgroup | annotation (app/core/workflow_commands.py)
    text: str
    at: str = ''  # when it was stored (ISO 8601, from the events API)

    @property
    def marker(self) -> str:
        return {'stage': '▶ ', 'status': '● '}.get(self.kind, '')


def lines_of(events: list[dict[str, Any]]) -> list[Line]:
    """Events from the API as Lines, in seq order."""
    return [Line(e['seq'], e['type'], e['text'], e.get('at') or '') for e in sorted(events, key=lambda e: e['seq'])]


@dataclass
class OutputWindow:
    window: int = WINDOW_LINES
    max_view: int = MAX_VIEW_LINES
    last_seq: int = 0  # newest seq received (or known to exist, after a jump)
    first: int | None = None  # the view: first_shown_seq .. last_shown_seq (None: empty)
    last: int | None = None
    anchored: bool = False  # the view ends before the tail (lines after it were never fetched)
    following: bool = True
    held: list[Line] = field(default_factory=list)  # arrived while paused (newest window only)
    held_count: int = 0
    stages: list[Line] = field(default_factory=list)  # stage markers seen (small: a handful per run)

    # -- the view
    @property
    def first_shown_seq(self) -> int | None:
        return self.first

    @property
    def last_shown_seq(self) -> int | None:
        return self.last

    @property
    def earliest_loaded(self) -> int | None:
        """The oldest seq shown (older than this: loaded on demand)."""
        return self.first

    @earliest_loaded.setter
    def earliest_loaded(self, seq: int | None) -> None:
        self.first = seq

    @property
    def size(self) -> int:
        return 0 if self.first is None or self.last is None else self.last - self.first + 1

    def is_shown(self, seq: int) -> bool:
        return self.first is not None and self.last is not None and self.first <= seq <= self.last

    def _set(self, lines: list[Line]) -> list[Line]:
        self.first, self.last = (lines[0].seq, lines[-1].seq) if lines else (None, None)
        return lines

    def _append(self, lines: list[Line]) -> list[Line]:
        """Lines after the view: it slides, keeping at most max(window, its size) lines."""
        if not lines:
            return []
        keep = min(self.max_view, max(self.window, self.size))
        if self.first is None or self.last is None or lines[0].seq != self.last + 1:  # nothing shown, or a gap
            return self._set(lines[-keep:])
        self.last = lines[-1].seq
        self.first = max(self.first, self.last - keep + 1)
        return lines[-keep:]

    # -- live lines
    def accept(self, events: list[dict[str, Any]]) -> list[Line]:
        """New events in; the lines to append to the view now (none while paused)."""
        fresh = [line for line in lines_of(events) if line.seq > self.last_seq]
        if not fresh:
            return []
        self.last_seq = fresh[-1].seq
        self.stages.extend(line for line in fresh if line.kind == 'stage')
        if not self.following:
            self.held_count += len(fresh)
            self.held = (self.held + fresh)[-self.window :]
            return []
        return self._append(fresh)

    def pause(self) -> None:
        self.following = False

    def resume(self) -> tuple[list[Line], int]:
        """Follow again: the held lines to append and how many were skipped (beyond the window)."""
        self.following = True
        lines, skipped = self.held, self.held_count - len(self.held)
        self.held, self.held_count = [], 0
        return self._append(lines), skipped

    def must_reload_to_follow(self) -> bool:
        """Following again cannot just append the held lines: the view is anchored away from the tail, or
        some held lines were let go. Then the page reloads the tail window (jump_to_tail) instead."""
        return self.anchored or self.held_count > len(self.held)

    def tail_start(self, run_last_seq: int) -> int:
        """The `after` seq from which to fetch a run's tail window when opening it (skip older lines)."""
        return max(0, run_last_seq - self.window)

    def jump_to_tail(self, run_last_seq: int) -> None:
        """Forget what is shown and continue from the tail window (far behind, or following again)."""
        self._set([])
        self.anchored = False
        self.following = True
        self.held, self.held_count = [], 0
        self.last_seq = self.tail_start(max(run_last_seq, self.last_seq))

    # -- a line far away: a #L link, a search match
    def around(self, target: int, run_last_seq: int) -> tuple[int, int]:
        """(after, limit) for GET /runs/{id}/events: JUMP_LINES with `target` in their middle, or the
        tail's JUMP_LINES when the target is near the end (or past it)."""
        newest = max(run_last_seq, self.last_seq)
        half = JUMP_LINES // 2
        if target + half >= newest:
            return max(0, newest - JUMP_LINES), JUMP_LINES
        return max(0, target - half - 1), JUMP_LINES

    def show_around(self, events: list[dict[str, Any]], run_last_seq: int) -> list[Line]:
        """Replace the view with a fetched window (around()); following pauses, so it stays put."""
        lines = lines_of(events)
        self.following = False
        self.held, self.held_count = [], 0
        newest = max(run_last_seq, self.last_seq, lines[-1].seq if lines else 0)
        self.last_seq = newest  # newer lines arrive as held ones
        self.stages.extend(line for line in lines if line.kind == 'stage' and line not in self.stages)
        self._set(lines)
        self.anchored = bool(lines) and lines[-1].seq < newest
        return lines

    # -- pages on demand
    def earlier_range(self) -> tuple[int, int] | None:
        """(after, limit) for GET /runs/{id}/events to load the page before what the tab shows, or None."""
        if self.first is None or self.first <= 1:
            return None
        after = max(0, self.first - 1 - EARLIER_PAGE)
        return after, self.first - 1 - after

    @property
    def has_earlier(self) -> bool:
        return self.earlier_range() is not None

    def loaded_earlier(self, events: list[dict[str, Any]]) -> list[Line]:
        """An earlier page in: the lines to put above the view. Past max_view the newest lines are let go
        (see last_shown_seq): the view is then anchored and following pauses."""
        lines = [line for line in lines_of(events) if self.first is None or line.seq < self.first]
        if not lines:
            return []
        if self.first is None or self.last is None:
            self.last = lines[-1].seq
        self.first = lines[0].seq
        if self.size > self.max_view:
            self.last = self.first + self.max_view - 1
            self.anchored = True
            self.following = False
        return lines

    def later_range(self) -> tuple[int, int] | None:
        """(after, limit) to load the page after an anchored view, or None (the view reaches the tail)."""
        if not self.anchored or self.last is None:
            return None
        return self.last, EARLIER_PAGE

    @property
    def has_later(self) -> bool:
        return self.later_range() is not None

    def loaded_later(self, events: list[dict[str, Any]]) -> list[Line]:
        """A later page in: the lines to put below the view (its top let go past max_view). Reaching the
        newest line ends the anchoring; held lines it covers are shown now."""
        if self.last is None:
            return []
        lines = [line for line in lines_of(events) if line.seq > self.last]
        if not lines or lines[0].seq != self.last + 1:
            return []
        assert self.first is not None
        self.last = lines[-1].seq
        self.first = max(self.first, self.last - self.max_view + 1)
        if self.last >= self.last_seq:
            self.last_seq = self.last
            self.anchored = False
            self.held = []
            self.held_count = 0
        return lines


# what a run's page shows outside its header: the log's counts and the stage strip, which change with every line
# drawn elsewhere (the log, the stage strip and its annotations) or not at all; the admission's answer lacks
# `annotations`, so counting them redrew the header of every run opened in place on its first catch-up
NOT_IN_HEADER = frozenset(
    {'output_lines', 'last_seq', 'stages', 'stage_count', 'annotations', 'heartbeat_at', 'events'}
    | {'peak_memory_bytes', 'cpu_seconds', 'memory_max_bytes'}  # each heartbeat's: its line is updated in place
)


def header_changed(shown: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether the run page's header (status, actions, facts) must be drawn again: redrawing it replaces its
    buttons, so a redraw nothing asked for takes a keypress on Retry or Stop away while it happens."""
    return any(shown.get(key) != now.get(key) for key in shown.keys() | now.keys() if key not in NOT_IN_HEADER)


def run_title(run: dict[str, Any]) -> str:
    """The browser tab's title on a run's page: `{run id} · {status} · Runboard` (the status as words)."""
    status = str(run.get('status') or 'unknown').replace('_', ' ')
    return f'{run["id"]} · {status} · Runboard'


def count_text(last_seq: int, output_lines: int) -> str:
    """Under the log: how many numbered lines it has and how many of them the run printed ('17 lines · 10
    printed by the run'); the others are status changes, stage headers and the like."""
    lines = f'{last_seq:,} line{"" if last_seq == 1 else "s"}'
    return f'{lines} · {output_lines:,} printed by the run'


def log_removed_text(removed_at: str) -> str:
    """Above a log the log retention removed: what is gone, since when, and what is left."""
    day = removed_at[:10]  # an ISO time from the API: its date is all a person needs here
    return (
        f'The output of this run was removed on {day} (the server keeps run logs for a set number of days). '
        'What is left below are its status, stage and annotation lines; its test results are kept.'
    )
