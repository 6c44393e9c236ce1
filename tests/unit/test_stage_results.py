"""Table tests for a run's stages: result and duration of each (services/runs/stage_results.py), and which
markers of a batch are kept (the cap)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.runs.stage_results import STORED_STAGES, StageMark, marks_to_store, stage_results

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def marks(*starts: float) -> list[StageMark]:
    return [StageMark(i, 10 + i, f's{i}', at(start)) for i, start in enumerate(starts)]


NOW = at(100)


@pytest.mark.parametrize(
    ('starts', 'status', 'finished', 'expected'),
    [
        # no marker, no stage
        ((), 'running', None, []),
        ((), 'succeeded', 50, []),
        # one stage: it is the run's last, so it has the run's outcome, or runs (counting up to now)
        ((0,), 'running', None, [('running', None, 100.0)]),
        ((0,), 'queued', None, [('running', None, 100.0)]),
        ((0,), 'succeeded', 2.5, [('succeeded', 2.5, 2.5)]),
        ((0,), 'failed', 7, [('failed', 7, 7.0)]),
        ((0,), 'timed_out', 60, [('timed_out', 60, 60.0)]),
        ((0,), 'crashed', 3, [('crashed', 3, 3.0)]),
        ((0,), 'stopped', 4, [('stopped', 4, 4.0)]),
        # a stage the next marker ended succeeded (the command went on), whatever the run's outcome
        ((0, 2.1), 'running', None, [('succeeded', 2.1, 2.1), ('running', None, 97.9)]),
        ((0, 2.1), 'failed', 3, [('succeeded', 2.1, 2.1), ('failed', 3, 0.9)]),
        ((0, 1, 5), 'stopped', 6, [('succeeded', 1, 1.0), ('succeeded', 5, 4.0), ('stopped', 6, 1.0)]),
        # markers stored in the same batch share a time: a zero-length stage, not a negative one
        ((0, 0, 4), 'succeeded', 4, [('succeeded', 0, 0.0), ('succeeded', 4, 4.0), ('succeeded', 4, 0.0)]),
        # an ended run without an end time (never expected): the stage ends where it started
        ((3,), 'crashed', None, [('crashed', 3, 0.0)]),
        # the end stored just before the last marker's time (same transaction): never before its start
        ((5,), 'succeeded', 4.999, [('succeeded', 5, 0.0)]),
    ],
)
def test_stage_results(starts, status, finished, expected) -> None:  # noqa: ANN001
    finished_at = None if finished is None else at(finished)
    results = stage_results(marks(*starts), status=status, finished_at=finished_at, now=NOW)
    assert [(r.result, r.ended_at, r.seconds) for r in results] == [
        (result, None if end is None else at(end), seconds) for result, end, seconds in expected
    ]
    assert [(r.name, r.seq, r.started_at) for r in results] == [(f's{i}', 10 + i, at(s)) for i, s in enumerate(starts)]


def test_only_the_first_stages_are_shown_and_the_next_marker_ends_the_last_of_them() -> None:
    stored = marks(*range(STORED_STAGES + 1))  # the kept rows: STORED_STAGES, and the one after them
    results = stage_results(stored, status='failed', finished_at=at(500), now=NOW)
    assert len(results) == STORED_STAGES
    assert results[-1].result == 'succeeded' and results[-1].ended_at == at(STORED_STAGES)


@pytest.mark.parametrize(
    ('names', 'stage_count', 'expected'),
    [
        # the first markers of a run: all kept, idx in order, positions in the batch kept
        ([(0, 'a'), (3, 'b')], 2, [(0, 0, 'a'), (1, 3, 'b')]),
        # a later batch continues the numbering
        ([(5, 'c')], 8, [(7, 5, 'c')]),
        # the cap: idx 0..STORED_STAGES are kept (the last one only ends the stage before it)
        ([(0, 'x'), (1, 'y'), (2, 'z')], STORED_STAGES + 2, [(STORED_STAGES - 1, 0, 'x'), (STORED_STAGES, 1, 'y')]),
        ([(0, 'late')], STORED_STAGES + 2, []),
        ([(0, 'flood')] * 10_000, 10_000, [(i, 0, 'flood') for i in range(STORED_STAGES + 1)]),
        # a long name is cut (the whole line stays in the timeline)
        ([(0, 'n' * 500)], 1, [(0, 0, 'n' * 200)]),
    ],
)
def test_marks_to_store(names, stage_count, expected) -> None:  # noqa: ANN001
    assert marks_to_store(names, stage_count=stage_count) == expected
