"""Stage rows: written with their marker events (timeline.append_events, same transaction), read for a
whole page of runs in one query, and answered with result and duration (stage_results.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Table, insert, select
from sqlmodel import Session

from app.models import RunPublic, RunStage, StagePublic, as_utc, utcnow
from app.services.runs.stage_results import StageMark, marks_to_store, stage_results

_stage_table: Table = RunStage.__table__  # type: ignore[attr-defined]


def record(
    conn: Connection, run_id: str, markers: list[tuple[int, str]], *, first_seq: int, stage_count: int, at: datetime
) -> None:
    """Keep the markers of one stored batch that are among the run's first ones. `markers`: (position in
    the batch, name); the batch's events got seqs from `first_seq`; `stage_count`: the run's count after it."""
    rows = marks_to_store(markers, stage_count=stage_count)
    if rows:
        conn.execute(
            insert(_stage_table),
            [
                {'run_id': run_id, 'idx': idx, 'seq': first_seq + position, 'name': name, 'started_at': at}
                for idx, position, name in rows
            ],
        )


def annotate(session: Session, runs: Sequence[RunPublic], *, now: datetime | None = None) -> None:
    """Fill `stages` of each run (in place): one query for all of them, none when none has a stage."""
    ids = [run.id for run in runs if run.stage_count]
    if not ids:
        return
    marks: dict[str, list[StageMark]] = defaultdict(list)
    table = _stage_table.c
    query = (
        select(table.run_id, table.idx, table.seq, table.name, table.started_at)
        .where(table.run_id.in_(ids))
        .order_by(table.run_id, table.idx)
    )
    for run_id, idx, seq, name, started_at in session.connection().execute(query):  # rows, not ORM objects
        marks[run_id].append(StageMark(idx, seq, name, as_utc(started_at)))
    moment = now or utcnow()
    for run in runs:
        if run.id in marks:
            results = stage_results(marks[run.id], status=run.status, finished_at=run.finished_at, now=moment)
            # built from values stage_results already made right (UTC times): no validation per stage
            run.stages = [StagePublic.model_construct(**vars(result)) for result in results]
