"""Table tests for how stages read in the UI (app/state/stages.py): durations, chip text, accessible
names, the running stage's clock, and what makes the chips redraw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.state.stages import (
    chip_text,
    duration_text,
    hidden_stages,
    segment_label,
    shown_seconds,
    stage_label,
    stage_shape,
    strip_label,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def stage(name: str, result: str, seconds: float, *, seq: int = 1) -> dict:
    ended = None if result == 'running' else (T0 + timedelta(seconds=seconds)).isoformat()
    return {
        'name': name,
        'seq': seq,
        'result': result,
        'seconds': seconds,
        'started_at': T0.isoformat(),
        'ended_at': ended,
    }


@pytest.mark.parametrize(
    ('seconds', 'text'),
    [
        (0, '0.0 s'),
        (2.1, '2.1 s'),
        (2.19, '2.1 s'),  # cut, not rounded: a ticking clock never runs ahead
        (9.99, '9.9 s'),
        (10, '10 s'),
        (59.9, '59 s'),
        (60, '1 min'),
        (65, '1 min 5 s'),
        (3599, '59 min 59 s'),
        (3600, '1 h'),
        (3720, '1 h 2 min'),
        (90000, '25 h'),
        (-3, '0.0 s'),  # clocks apart: never negative
    ],
)
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ('result', 'seconds', 'chip', 'label'),
    [
        ('succeeded', 2.1, 'install · 2.1 s', 'install: succeeded in 2.1 s'),
        ('failed', 0.4, 'install · 0.4 s', 'install: failed after 0.4 s'),
        ('timed_out', 600, 'install · 10 min', 'install: timed out after 10 min'),
        ('crashed', 12, 'install · 12 s', 'install: crashed after 12 s'),
        ('stopped', 3, 'install · 3.0 s', 'install: stopped after 3.0 s'),
        ('running', 3, 'install · 3.0 s', 'install: running for 3.0 s'),
    ],
)
def test_chip_text_and_accessible_name(result: str, seconds: float, chip: str, label: str) -> None:
    assert chip_text(stage('install', result, seconds)) == chip
    assert stage_label(stage('install', result, seconds)) == label


@pytest.mark.parametrize(
    ('result', 'now_after', 'expected'),
    [
        ('running', 7.5, 7.5),  # counts on from its start by the tab's clock
        ('running', None, 3.0),  # no clock given: as answered
        ('running', -2, 0.0),  # the tab's clock behind the server's: never negative
        ('succeeded', 7.5, 3.0),  # an ended stage keeps its duration
        ('failed', 100, 3.0),
    ],
)
def test_shown_seconds(result: str, now_after: float | None, expected: float) -> None:
    now = None if now_after is None else T0 + timedelta(seconds=now_after)
    assert shown_seconds(stage('s', result, 3.0), now) == expected


def test_the_running_chip_ticks_with_the_clock() -> None:
    running = stage('test', 'running', 1.0)
    assert chip_text(running, T0 + timedelta(seconds=4.2)) == 'test · 4.2 s'
    assert chip_text(running, T0 + timedelta(seconds=5.2)) == 'test · 5.2 s'


def test_list_row_words() -> None:
    run = {'stages': [stage('install', 'succeeded', 2.1), stage('test', 'running', 9)], 'stage_count': 2}
    assert segment_label(run['stages'][1]) == 'test: running'  # the list does not tick: no stale clock
    assert strip_label(run) == 'Stages: install: succeeded in 2.1 s; test: running'
    assert strip_label({**run, 'stage_count': 1002}) == strip_label(run) + '; +1,000 more stages'


@pytest.mark.parametrize(
    ('stages', 'stage_count', 'hidden'),
    [(0, 0, 0), (2, 2, 0), (50, 51, 1), (50, 10_000, 9_950), (3, None, 0)],
)
def test_hidden_stages(stages: int, stage_count: int | None, hidden: int) -> None:
    run = {'stages': [stage(f's{i}', 'succeeded', 1) for i in range(stages)], 'stage_count': stage_count}
    assert hidden_stages(run) == hidden


def test_chips_redraw_on_a_new_stage_or_result_but_not_on_the_running_clock() -> None:
    before = {'stage_count': 1, 'stages': [stage('build', 'running', 1.0)]}
    read_later = {'stage_count': 1, 'stages': [stage('build', 'running', 4.0)]}
    next_stage = {'stage_count': 2, 'stages': [stage('build', 'succeeded', 4.0), stage('test', 'running', 0, seq=9)]}
    ended = {'stage_count': 1, 'stages': [stage('build', 'failed', 4.0)]}
    assert stage_shape(read_later) == stage_shape(before)
    assert stage_shape(next_stage) != stage_shape(before)
    assert stage_shape(ended) != stage_shape(before)
