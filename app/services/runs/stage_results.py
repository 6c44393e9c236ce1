"""Pure: a run's stages with their result and duration, like the step list of a GitHub Actions job.

A stage runs from its `::stage::` marker until the next stage's marker (then it succeeded: the command went
on) or until the run ended (then it has the run's outcome: succeeded, failed, timed_out, crashed, stopped).
While the run runs, its last stage is `running` and its duration counts up to `now`.

Storage keeps the first STORED_STAGES markers of a run, plus the one after them (only to end the last one
kept); the run counts them all (`stage_count`), so a command printing 10,000 markers costs 51 rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.models import TERMINAL_STATUSES

STORED_STAGES = 50  # stages shown per run; markers beyond it are counted, not kept
STAGE_NAME_CHARS = 200  # a stage's name as stored (the full marker line stays in the timeline)
RUNNING = 'running'


@dataclass(frozen=True)
class StageMark:
    """One stored marker: the idx-th stage (0-based) of a run, from its timeline event `seq`."""

    idx: int
    seq: int
    name: str
    started_at: datetime


@dataclass(frozen=True)
class StageResult:
    name: str
    seq: int
    started_at: datetime
    ended_at: datetime | None  # None while it runs
    result: str  # running | succeeded | failed | timed_out | crashed | stopped
    seconds: float  # its duration; while it runs, so far


def stage_results(
    marks: Sequence[StageMark], *, status: str, finished_at: datetime | None, now: datetime
) -> list[StageResult]:
    """The first STORED_STAGES stages of a run in `status` (marks in idx order, as stored)."""
    results = []
    for position, mark in enumerate(marks[:STORED_STAGES]):
        following = marks[position + 1] if position + 1 < len(marks) else None
        ended_at: datetime | None
        if following is not None:
            ended_at, result = following.started_at, 'succeeded'
        elif status in TERMINAL_STATUSES:  # (the end is stored in the transaction of the last markers: not before)
            ended_at, result = max(finished_at or mark.started_at, mark.started_at), status
        else:  # queued or running: the last stage is what runs now
            ended_at, result = None, RUNNING
        seconds = max(0.0, ((ended_at or now) - mark.started_at).total_seconds())
        results.append(StageResult(mark.name, mark.seq, mark.started_at, ended_at, result, round(seconds, 3)))
    return results


def marks_to_store(names: Sequence[tuple[int, str]], *, stage_count: int) -> list[tuple[int, int, str]]:
    """Which of a batch's markers get a row: (idx, position in the batch, name) for those with idx <=
    STORED_STAGES. `names` are (position in the batch, name) in batch order; `stage_count` is the run's
    count of markers after this batch."""
    first_idx = stage_count - len(names)
    return [
        (first_idx + n, position, name[:STAGE_NAME_CHARS])
        for n, (position, name) in enumerate(names)
        if first_idx + n <= STORED_STAGES
    ]
