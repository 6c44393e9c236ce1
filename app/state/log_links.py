"""Links into a run's log (pure): #L123 to a line, and the raw log's download path and file name."""

from __future__ import annotations

import re

_LINE_HASH = re.compile(r'^#?L([1-9][0-9]{0,11})$')
_RUN_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$')


def line_hash(seq: int) -> str:
    """The URL fragment that links to a line: #L123 (the line number is the event's seq)."""
    return f'#L{seq}'


def line_from_hash(fragment: str | None) -> int | None:
    """Pure: the line a URL fragment links to ('#L500' -> 500), or None for any other fragment."""
    match = _LINE_HASH.match((fragment or '').strip())
    return int(match.group(1)) if match else None


def reachable_line(requested: int, newest: int) -> int | None:
    """Pure: the line to show for a link to `requested` when the log's newest line is `newest`: itself,
    or the last line when the link points past the end (None: the log is empty)."""
    if newest < 1:
        return None
    return min(max(requested, 1), newest)


def is_run_id(text: str) -> bool:
    """Pure: could this be a run id (letters, digits, _ . -)? Anything else is never sent on to the API."""
    return bool(_RUN_ID.match(text)) and '..' not in text


def download_path(run_id: str) -> str:
    """The UI's own address of a run's raw log (pages/log_download.py streams it from the API). Not under
    /runs/: a bare /runs/... GET that does not ask for HTML belongs to the API (api/routing.py), and the
    browser's fetch for Copy all asks for anything."""
    return f'/run-logs/{run_id}.log'


def download_name(run_id: str) -> str:
    """The file name a downloaded log gets."""
    return f'{run_id}.log'
