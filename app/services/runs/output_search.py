"""Search a run's stored output (GET /runs/{id}/search): which output lines hold a text, in any case.

A line is matched as a person sees it in the log viewer: ANSI escape sequences removed exactly the way
the UI's decoder removes them (rich's `AnsiDecoder`, used by app/state/ansi.py), so `tests PASSED` finds
a line whose PASSED is coloured, and `[31m` finds nothing. Output lines, stage headers (the checkout's too)
and group titles are searched, every line the log shows with text of the run's; status lines are not.

The scan walks one run's output events in seq order along the (run_id, seq) primary key, a page at a
time, so memory stays bounded whatever the log's length. For an ASCII needle the database drops the
lines that cannot match (Filters), and once a page of matches is listed the rest are only counted.
bench/log_search.py, 100,000 lines: about 0.1 s for a rare text (SQLite and PostgreSQL), 0.3-0.45 s
when every line matches, inside the viewer's one-second budget; so no text index is kept (a trigram
index would cost every output write, and SQLite has none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlmodel import SQLModel

from app.core.errors import DomainError

MAX_QUERY_CHARS = 200
MAX_MATCHES = 1000  # seqs per answer; `after` pages on
SCAN_PAGE = 20_000
ESC = '\x1b'
# rich.ansi.re_ansi: what the UI's decoder treats as one escape sequence (kept identical on purpose)
_ANSI = re.compile(r'(?:\x1b[0-?])|(?:\x1b\](.*?)\x1b\\)|(?:\x1b([(@-Z\\-_]|\[[0-?]*[ -/]*[@-~]))')
# the log's rows with text (Runboard's annotations too: they are shown as the run's are)
_SEARCHED = "('output', 'annotation', 'runboard_annotation', 'stage', 'group')"
_PAGE_SQL = (
    f'SELECT seq, text FROM runevent WHERE run_id = :run_id AND seq > :after AND type IN {_SEARCHED}'
    '{also} '
    'ORDER BY seq LIMIT :limit'
)
_COUNT_SQL = (
    f'SELECT count(*) FROM runevent WHERE run_id = :run_id AND seq > :after AND type IN {_SEARCHED} AND ({{also}})'
)
# Python's lower() turns only these two non-ASCII characters into ASCII letters (K -> k, İ -> i + a dot)
_FOLDS_TO_ASCII = {'k': '\u212a', 'i': '\u0130'}


class OutputMatches(SQLModel):
    """The output lines (by seq, ascending) that hold the text, from the first after `after`."""

    q: str
    matches: list[int]  # at most `limit` seqs
    total: int  # every matching line after `after`, listed or not
    truncated: bool  # more matches than listed: ask again with after=<the last listed seq>


def needle_of(q: str | None) -> str:
    """Pure: the text to look for, as typed (spaces count in a log), or a 422 for empty/blank/too long."""
    if q is None or not q.strip():
        raise DomainError(422, 'validation', 'The search text is empty.', field='q')
    if len(q) > MAX_QUERY_CHARS:
        raise DomainError(422, 'validation', f'The search text is longer than {MAX_QUERY_CHARS} characters.', field='q')
    if any(ch in q for ch in '\x00\n\r'):
        raise DomainError(422, 'validation', 'The search text must be on one line.', field='q')
    return q


def shown_text(line: str) -> str:
    """Pure: the line as the viewer shows it: what follows its last carriage return (what a terminal ends up
    showing of a progress line), escape sequences removed."""
    line = line.rsplit('\r', 1)[-1]
    if ESC not in line:
        return line
    parts, position = [], 0
    for match in _ANSI.finditer(line):
        start, end = match.span(0)
        if start > position:
            parts.append(line[position:start])
        position = end + 1 if match.group(2) == '(' else end  # ESC ( takes one more character (charset)
    parts.append(line[position:])
    return ''.join(parts)


def holds(line: str, folded_needle: str) -> bool:
    """Pure: does the line, as shown, hold the (already lower-cased) needle in any case."""
    return folded_needle in shown_text(line).lower()


def like_pattern(fragment: str) -> str:
    """Pure: a LIKE pattern for "contains fragment" (its %, _ and \\ taken literally, ESCAPE '\\')."""
    return '%' + fragment.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_') + '%'


@dataclass(frozen=True)
class Filters:
    """SQL conditions for an ASCII needle (None for another: the databases' lower() may not fold it).

    SQLite's lower() folds ASCII only, PostgreSQL's per locale; for an ASCII needle both agree with
    Python's on every line except those holding an escape sequence (a match may span a colour change)
    or K / İ (the two characters Python lowers to ASCII letters): the *special* lines. So `candidates`
    (lines that may match) lets the database drop most lines in C, and `plain_matches` counts the
    ordinary matching lines in SQL alone; special lines (also those with a carriage return, shown from their last
    one) are always checked in Python."""

    candidates: str
    plain_matches: str
    special: str
    params: dict[str, str]


def filters_for(folded_needle: str) -> Filters | None:
    """Pure: the Filters for a lower-cased needle, or None when it is not ASCII."""
    if not folded_needle.isascii():
        return None
    params = {'needle': like_pattern(folded_needle), 'esc': like_pattern(ESC), 'cr': like_pattern('\r')}
    special = ["text LIKE :esc ESCAPE '\\'", "text LIKE :cr ESCAPE '\\'"]  # shown after its last \r only
    for letter, char in _FOLDS_TO_ASCII.items():
        if letter in folded_needle:
            params[f'fold_{letter}'] = like_pattern(char)
            special.append(f"text LIKE :fold_{letter} ESCAPE '\\'")
    needle = "lower(text) LIKE :needle ESCAPE '\\'"
    any_special = ' OR '.join(special)
    return Filters(
        candidates=f'{needle} OR {any_special}',
        plain_matches=f'{needle} AND NOT ({any_special})',
        special=any_special,
        params=params,
    )


def _scan(
    conn: Connection, run_id: str, folded: str, condition: str, params: dict, *, after: int, keep: int, stop: bool
) -> tuple[list[int], int, int | None]:
    """Read (seq, text) pages after `after` where condition holds: the first `keep` matching seqs, how
    many matched, and, with `stop`, the seq it stopped at once it had `keep` (None: it read to the end)."""
    sql = text(_PAGE_SQL.format(also=f' AND ({condition})' if condition else ''))
    listed: list[int] = []
    total = 0
    while True:
        rows = conn.execute(sql, {**params, 'run_id': run_id, 'after': after, 'limit': SCAN_PAGE}).all()
        for seq, line in rows:
            if holds(line, folded) if ESC in line or '\r' in line else folded in line.lower():
                total += 1
                if len(listed) < keep:
                    listed.append(seq)
                    if stop and len(listed) == keep:
                        return listed, total, seq
        if len(rows) < SCAN_PAGE:
            return listed, total, None
        after = rows[-1][0]


def search(conn: Connection, run_id: str, q: str, *, after: int = 0, limit: int = MAX_MATCHES) -> OutputMatches:
    """The first `limit` matching seqs after `after`, and how many match in all. With an ASCII needle
    the database filters; once `limit` are listed, the rest is counted in SQL plus the special lines."""
    folded = needle_of(q).lower()
    found = filters_for(folded)
    if found is None:  # read every output line
        listed, total, _ = _scan(conn, run_id, folded, '', {}, after=after, keep=limit, stop=False)
        return OutputMatches(q=q, matches=listed, total=total, truncated=total > len(listed))
    listed, total, stopped = _scan(
        conn, run_id, folded, found.candidates, found.params, after=after, keep=limit, stop=True
    )
    if stopped is not None:
        count_sql = text(_COUNT_SQL.format(also=found.plain_matches))
        total += conn.execute(count_sql, {**found.params, 'run_id': run_id, 'after': stopped}).scalar_one()
        total += _scan(conn, run_id, folded, found.special, found.params, after=stopped, keep=0, stop=False)[1]
    return OutputMatches(q=q, matches=listed, total=total, truncated=total > len(listed))
