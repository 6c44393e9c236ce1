"""The log viewer's search, as a person steps through it (pure: the page asks the API and renders).

The server answers the seqs of matching output lines a page at a time (GET /runs/{id}/search, at most
1,000 per answer, `total` counting them all). Next and previous walk the listed matches; past the last
listed one, the next page is asked for; with every match listed they wrap around, like a browser's find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

MAX_QUERY_CHARS = 200

Action = Literal['search', 'next', 'previous', 'clear', 'nothing']


def query_problem(typed: str) -> str | None:
    """Pure: why this text cannot be searched for (None: it can). Blank text is not a problem: it clears."""
    if len(typed) > MAX_QUERY_CHARS:
        return f'Search for at most {MAX_QUERY_CHARS} characters.'
    return None


def key_action(typed: str, searched: str | None, *, shift: bool, stale: bool) -> Action:
    """Pure: what Enter (Shift+Enter) in the search box does: search for new text (or the same text once
    the log has grown), step to the next (previous) match of the same text, or clear a blank box."""
    if not typed.strip():
        return 'clear' if searched else 'nothing'
    if typed != searched or stale:
        return 'search'
    return 'previous' if shift else 'next'


@dataclass
class LogSearch:
    query: str | None = None  # what was searched for (None: no search)
    matches: list[int] = field(default_factory=list)  # the listed matches' seqs, ascending
    total: int = 0  # every match in the log (as of the search)
    more: bool = False  # matches after the last listed one: the next page is asked for on demand
    index: int | None = None  # the current match in `matches`
    searched_to: int = 0  # the run's newest seq when the search was made

    def start(self, answer: dict[str, Any], *, run_last_seq: int, near: int | None = None) -> int | None:
        """A fresh answer: the current match is the first one at or after `near` (a search again from
        where one was), else the first. Returns its seq (None: no match)."""
        self.query = answer['q']
        self.matches = list(answer['matches'])
        self.total = answer['total']
        self.more = bool(answer['truncated'])
        self.searched_to = run_last_seq
        if not self.matches:
            self.index = None
            return None
        self.index = next((i for i, seq in enumerate(self.matches) if near is not None and seq >= near), 0)
        return self.current

    def clear(self) -> None:
        self.query, self.matches, self.total, self.more, self.index = None, [], 0, False, None

    @property
    def current(self) -> int | None:
        return self.matches[self.index] if self.index is not None else None

    def stale(self, run_last_seq: int) -> bool:
        """The log grew since the search: its answer may miss lines."""
        return self.query is not None and run_last_seq > self.searched_to

    def step(self, forward: bool) -> int | Literal['more'] | None:
        """Move to the next (previous) match: its seq, 'more' when the next page must be asked for
        first (then extend() and step again), or None when there is nowhere to go."""
        if self.index is None:
            return None
        if forward:
            if self.index + 1 < len(self.matches):
                self.index += 1
            elif self.more:
                return 'more'
            else:
                self.index = 0
        elif self.index > 0:
            self.index -= 1
        elif self.more:  # the last match is not listed yet: stay on the first
            return None
        else:
            self.index = len(self.matches) - 1
        return self.current

    def after_seq(self) -> int:
        """Where the next page of matches starts (`after` for the API)."""
        return self.matches[-1] if self.matches else 0

    def extend(self, answer: dict[str, Any]) -> None:
        """The next page of matches (asked for with after=after_seq())."""
        self.matches.extend(seq for seq in answer['matches'] if not self.matches or seq > self.matches[-1])
        self.more = bool(answer['truncated'])

    @property
    def can_go_back(self) -> bool:
        return self.index is not None and (self.index > 0 or not self.more)

    @property
    def can_go_on(self) -> bool:
        return self.index is not None and (len(self.matches) > 1 or self.more)

    def label(self) -> str:
        """'3 of 120 matching lines', 'No matching lines', or '' before any search. It counts lines, not hits:
        a line may hold the text several times, and every hit is marked."""
        if self.query is None:
            return ''
        if self.index is None:
            return 'No matching lines'
        noun = 'matching line' if self.total == 1 else 'matching lines'
        return f'{self.index + 1:,} of {self.total:,} {noun}'
