"""Start says each migration it applies in one line, and nothing of Alembic's otherwise (app/server.py)."""

from __future__ import annotations

import logging

import pytest

from app.server import one_line_per_migration


@pytest.mark.parametrize(
    ('level', 'msg', 'args', 'kept', 'said'),
    [
        # a migration applied: kept, its description cut to its first line
        (logging.INFO, 'Running %s', ('upgrade 0016 -> 0017, Annotations\nread through a partial index',), True,
         'Running upgrade 0016 -> 0017, Annotations'),
        (logging.INFO, 'Running %s', ('upgrade  -> 0001, initial schema',), True,
         'Running upgrade  -> 0001, initial schema'),
        # what Alembic says on every start: dropped
        (logging.INFO, 'Context impl %s.', ('SQLiteImpl',), False, None),
        (logging.INFO, 'Will assume non-transactional DDL.', (), False, None),
        # a warning or an error always gets through, as it was
        (logging.WARNING, 'Something odd %s', ('here',), True, 'Something odd here'),
    ],
)  # fmt: skip
def test_alembic_lines(level: int, msg: str, args: tuple, kept: bool, said: str | None) -> None:
    record = logging.LogRecord('alembic.runtime.migration', level, __file__, 1, msg, args, None)
    assert one_line_per_migration(record) is kept
    if kept:
        assert record.getMessage() == said
