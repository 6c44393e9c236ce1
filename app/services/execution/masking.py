"""Secret values never reach stored output: every line is masked before the ingest stores it, so the live
stream, the log API, the raw download, search, stage names, webhook payloads and the database only ever hold
`***`. A line is whole before it is masked (output is split on newlines after the pipe's chunks are joined),
so a value written in two pieces is caught too. A multi-line secret is masked line by line, as GitHub does."""

from __future__ import annotations

import re

MASK = '***'
MIN_MASKED_CHARS = 3  # shorter `::add-mask::` values would blank every such run of letters; secrets need 4
ADD_MASK_RE = re.compile(r'^::add-mask::(.*)$')


class Masker:
    def __init__(self, values: list[str] | None = None) -> None:
        self._values: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        for value in values or []:
            self.add(value)

    def add(self, value: str) -> None:
        parts = [part.strip('\r') for part in value.split('\n')]
        fresh = [p for p in parts if len(p) >= MIN_MASKED_CHARS and p not in self._values]
        if fresh:
            # longest first: a value that contains another is masked whole
            self._values = sorted({*self._values, *fresh}, key=len, reverse=True)
            self._pattern = re.compile('|'.join(re.escape(v) for v in self._values))

    def __bool__(self) -> bool:
        return bool(self._values)

    def mask(self, line: str) -> str:
        return line if self._pattern is None else self._pattern.sub(MASK, line)

    def mask_cut(self, line: str) -> str:
        """A line cut short may end in the first part of a value: mask that part too."""
        line = self.mask(line)
        for value in self._values:
            for size in range(len(value) - 1, 0, -1):
                if line.endswith(value[:size]):
                    return line[: len(line) - size] + MASK
        return line

    def take_line(self, line: str) -> str:
        """Mask one output line; a `::add-mask::VALUE` line masks VALUE from then on and is stored masked."""
        command = ADD_MASK_RE.match(line) if line.startswith('::add-mask::') else None
        if command and command.group(1).strip():
            self.add(command.group(1).strip())
            return f'::add-mask::{MASK}'
        return self.mask(line)
