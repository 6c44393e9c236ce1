"""Secret values never reach stored output: every line is masked before the ingest stores it, so the live
stream, the log API, the raw download, search, stage names, webhook payloads and the database only ever hold
`***`. A line is whole before it is masked (output is split on newlines after the pipe's chunks are joined),
so a value written in two pieces is caught too. A multi-line secret is masked line by line, as GitHub does.

A run may declare up to MAX_ADDED_VALUES values of its own (`::add-mask::`); past that, a value's own line is
still stored masked, but the value is not masked from then on, and the log warns once (docs/pipelines.md). That
bounds the cost of every line: one `str.replace` per value, longest first; a new value is put in its place in the
sorted list, nothing is rebuilt (one regex of all values, recompiled per value, held the server's loop for minutes
when a run declared thousands)."""

from __future__ import annotations

import bisect
import re

MASK = '***'
MIN_MASKED_CHARS = 3  # shorter `::add-mask::` values would blank every such run of letters; secrets need 4
MAX_ADDED_VALUES = 100  # `::add-mask::` values a run may declare; the project's secrets are not counted
ADD_MASK = '::add-mask::'
ADD_MASK_RE = re.compile(r'^::add-mask::(.*)$')
CAPPED = (
    f'this run declared more than {MAX_ADDED_VALUES} ::add-mask:: values: the ones after the '
    f'{MAX_ADDED_VALUES}th are NOT masked in its later lines (their own ::add-mask:: lines are)'
)
CAPPED_TITLE = 'Mask values capped'


class Masker:
    def __init__(self, values: list[str] | None = None) -> None:
        self._values: list[str] = []  # longest first: a value that contains another is masked whole
        self._known: set[str] = set()
        self._declared = 0  # values the run added with `::add-mask::`
        self._capped = False  # a value past the cap came: the log says so, once
        self._warned = False
        for value in values or []:
            self.add(value)

    @property
    def values(self) -> tuple[str, ...]:
        """What every line is masked with, longest first."""
        return tuple(self._values)

    def _fresh(self, value: str) -> list[str]:
        parts = {part.strip('\r') for part in value.split('\n')}
        return [part for part in parts if len(part) >= MIN_MASKED_CHARS and part not in self._known]

    def add(self, value: str) -> None:
        for part in self._fresh(value):
            self._known.add(part)
            bisect.insort(self._values, part, key=lambda known: -len(known))

    def __bool__(self) -> bool:
        return bool(self._values)

    def mask(self, line: str) -> str:
        for value in self._values:
            line = line.replace(value, MASK)
        return line

    def mask_cut(self, line: str) -> str:
        """A line cut short may end in the first part of a value: mask the longest such part."""
        line = self.mask(line)
        size = max((_cut_part(line, value) for value in self._values), default=0)
        return line[: len(line) - size] + MASK if size else line

    def take_line(self, line: str) -> str:
        """Mask one output line; a `::add-mask::VALUE` line masks VALUE from then on and is stored masked."""
        command = ADD_MASK_RE.match(line) if line.startswith(ADD_MASK) else None
        value = command.group(1).strip() if command else ''
        if not value:
            return self.mask(line)
        if self._fresh(value):  # not masked already, nor too short to mask
            if self._declared < MAX_ADDED_VALUES:
                self._declared += 1
                self.add(value)
            else:
                self._capped = True
        return f'{ADD_MASK}{MASK}'

    def take_warning(self) -> str | None:
        """The warning the log shows once: a value past the cap came, and is not masked."""
        if not self._capped or self._warned:
            return None
        self._warned = True
        return CAPPED


def _cut_part(line: str, value: str) -> int:
    """Pure: the length of the longest first part of `value` (not all of it) that `line` ends with; 0 if none.
    Only where the line holds the value's first character can such a part start, so this costs about one
    comparison per such place in the line's last len(value) characters, never one per size of the value."""
    start = max(0, len(line) - len(value) + 1)
    at = line.find(value[0], start)
    while at >= 0:
        if value.startswith(line[at:]):
            return len(line) - at
        at = line.find(value[0], at + 1)
    return 0
