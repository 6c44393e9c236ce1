"""Append numbered events to a run's timeline. seq is allocated in the database, so writers on
different threads or servers never collide and order is preserved."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, TextClause, bindparam, insert, text
from sqlalchemy.sql.selectable import TextualSelect
from sqlmodel.sql.sqltypes import UTCDateTime

from app.core.workflow_commands import MAX_ANNOTATIONS, annotation_of
from app.models import RunEvent, utcnow
from app.models.vocabulary import OUTPUT_EVENT_TYPES
from app.services.runs import stage_store

# SQLModel sets __table__ on every table model, but its stubs do not declare it
_event_table: Table = RunEvent.__table__  # type: ignore[attr-defined]
DB_TIME = UTCDateTime()  # the type SQLModel gives datetime columns


def timed_sql(
    statement: str, *, binds: tuple[str, ...] = (), columns: tuple[str, ...] = ()
) -> TextClause | TextualSelect:
    """text() whose datetime parameters are written, and datetime columns read, like the ORM does.

    Raw text() hands datetimes to the driver as they are: SQLite then stores '...+00:00' strings beside
    the ORM's '...' ones in the same column and returns plain strings.
    """
    clause = text(statement)
    if binds:
        clause = clause.bindparams(*(bindparam(name, type_=DB_TIME) for name in binds))
    if columns:
        return clause.columns(**{name: DB_TIME for name in columns})
    return clause


# events that are lines the command printed (a run's output_lines counts them; the raw log holds them)
OUTPUT_KINDS = OUTPUT_EVENT_TYPES
# an annotation event's text is its line as printed (app/core/workflow_commands.py reads it back)
# Runboard's own annotations (an artifact refused) are listed with them, but are not lines the run printed
ANNOTATIONS_SQL = (
    'SELECT seq, text FROM runevent WHERE run_id = :run_id '
    "AND type IN ('annotation', 'runboard_annotation') ORDER BY seq LIMIT :limit"
)

COPY_FROM = 50  # PostgreSQL batches at least this big go by COPY (about 4x executemany)
SQL_APPEND = text(
    'UPDATE run SET last_seq = last_seq + :n, output_lines = output_lines + :lines WHERE id = :id '
    'RETURNING last_seq, output_lines'
)
SQL_APPEND_WITH_STAGES = text(
    'UPDATE run SET last_seq = last_seq + :n, output_lines = output_lines + :lines, '
    'stage_count = stage_count + :stages WHERE id = :id RETURNING last_seq, output_lines, stage_count'
)
SQLITE_INSERT = 'INSERT INTO runevent (run_id, seq, at, type, text) VALUES (?, ?, ?, ?, ?)'


class Appended(NamedTuple):
    """The run's counts after an append: its newest line's number, and how many of its lines it printed."""

    last_seq: int
    output_lines: int


def append_events(
    conn: Connection,
    run_id: str,
    events: Iterable[tuple[str, str]],
    *,
    now: datetime | None = None,
    output_lines: int = 0,
) -> Appended:
    """Insert events in order inside the caller's transaction; returns the run's new counts.

    Stage events also count on the run and, among its first ones, get a runstage row (stage_store.py);
    a batch without one costs what it did before stages had rows."""
    events = list(events)
    if not events:
        return Appended(0, 0)
    markers = [(position, body) for position, (kind, body) in enumerate(events) if kind == 'stage']
    params = {'n': len(events), 'lines': output_lines, 'id': run_id}
    if markers:
        last, printed, stage_count = conn.execute(SQL_APPEND_WITH_STAGES, {**params, 'stages': len(markers)}).one()
    else:
        last, printed = conn.execute(SQL_APPEND, params).one()
    appended = Appended(last, printed)
    first = last - len(events) + 1
    at = (now or utcnow()).astimezone(UTC)
    if markers:
        stage_store.record(conn, run_id, markers, first_seq=first, stage_count=stage_count, at=at)
    if len(events) >= COPY_FROM and _copy_capable(conn):
        driver = conn.connection.driver_connection
        if driver is None:
            raise RuntimeError('the database connection has no driver connection (invalidated)')
        with driver.cursor() as cursor:
            with cursor.copy('COPY runevent (run_id, seq, at, type, text) FROM STDIN') as copy:
                for i, (kind, body) in enumerate(events):
                    copy.write_row((run_id, first + i, at, kind, body))
        return appended
    if conn.dialect.name == 'sqlite':
        # Straight to the driver's executemany, whatever the batch's size: Core's executemany binds every row's
        # timestamp through two type processors, which was 40 % of a busy server's Python time (bench/fanout.py).
        processor = _event_table.c.at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        at_value = processor(at) if processor else at
        conn.exec_driver_sql(
            SQLITE_INSERT, [(run_id, first + i, at_value, kind, body) for i, (kind, body) in enumerate(events)]
        )
        return appended
    conn.execute(
        insert(_event_table),
        [
            {'run_id': run_id, 'seq': first + i, 'at': at, 'type': kind, 'text': body}
            for i, (kind, body) in enumerate(events)
        ],
    )
    return appended


def _copy_capable(conn: Connection) -> bool:
    return conn.dialect.name == 'postgresql' and conn.dialect.driver == 'psycopg'


def read_annotations(conn: Connection, run_id: str, *, limit: int = MAX_ANNOTATIONS) -> list[dict[str, Any]]:
    """The run's first `limit` annotations (`::error|warning|notice::` lines) in log order, each with the seq
    of its log line (`#L<seq>`); read through the partial index of annotation events (ix_runevent_annotation)."""
    found = []
    for seq, body in conn.execute(text(ANNOTATIONS_SQL), {'run_id': run_id, 'limit': limit}):
        annotation = annotation_of(body)
        if annotation is not None:
            found.append({'seq': seq, **annotation.as_dict()})
    return found
