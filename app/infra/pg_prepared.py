"""Statements run prepared inside a simple-query trip (infra/pg_async.py): `PREPARE name AS ...` on a
connection's first use of a statement, then `EXECUTE name(literals)`. Sent as text, PostgreSQL plans a statement
every time: about 1 ms of its CPU for the repository facts alone, on the cores the server shares with it.

Only on connections psycopg does not prepare on itself (prepare_threshold=None): psycopg ends a rollback with
DEALLOCATE ALL on a connection where it prepared statements, which would drop these too.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r'%\((\w+)\)s')


@dataclass(frozen=True)
class PreparedForm:
    name: str
    names: tuple[str, ...]  # the parameters, in the order of $1, $2, ...
    statement: str  # PREPARE name AS ...

    def execute_text(self, literal: Callable[[Any], bytes], params: dict[str, Any] | None) -> bytes:
        """EXECUTE with the parameters bound on the client, each quoted by `literal` (pg_wire.Wire.literal)."""
        if not self.names:
            return f'EXECUTE {self.name}'.encode()
        values = b', '.join([literal((params or {})[name]) for name in self.names])
        return f'EXECUTE {self.name}('.encode() + values + b')'


@functools.lru_cache(maxsize=128)
def prepared_form(sql: str) -> PreparedForm:
    """The statement with its %(name)s parameters numbered in order of first use, under a name derived from its
    text (the same on every connection and every server)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f'${names.index(match.group(1)) + 1}'

    body = _PLACEHOLDER.sub(number, sql)
    name = 'rb_' + hashlib.sha256(sql.encode()).hexdigest()[:20]
    return PreparedForm(name, tuple(names), f'PREPARE {name} AS {body}')
