"""What a run's stages read like in the UI: `install · 2.1 s`, `install: succeeded in 2.1 s`, the running
one counting on. Pure: the server decides each stage's result and duration (services/runs/stage_results.py,
answered as `stages` of a run); this only words them, and counts a running stage on from its start by the
tab's clock, as the run's own duration is counted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

RUNNING = 'running'
RESULT_WORDS = {
    'succeeded': 'succeeded',
    'failed': 'failed',
    'timed_out': 'timed out',
    'crashed': 'crashed',
    'stopped': 'stopped',
    RUNNING: 'running',
}


def shown_seconds(stage: dict[str, Any], now: datetime | None = None) -> float:
    """The stage's duration: as answered, or for a running stage (given `now`) from its start until now."""
    if stage.get('result') == RUNNING and now is not None and stage.get('started_at'):
        started = datetime.fromisoformat(stage['started_at'])
        started = started if started.tzinfo else started.replace(tzinfo=UTC)
        return max(0.0, (now - started).total_seconds())
    return float(stage.get('seconds') or 0.0)


def stage_shape(run: dict[str, Any]) -> tuple:
    """What the stage chips show, but a running stage's clock: redraw only when this changes."""
    stages = run.get('stages') or []
    return run.get('stage_count'), tuple(
        (s.get('seq'), s.get('name'), s.get('result'), s.get('seconds') if s.get('result') != RUNNING else None)
        for s in stages
    )


def duration_text(seconds: float) -> str:
    """2.1 s, 42 s, 3 min 5 s, 1 h 2 min: tenths only where they matter."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f'{int(seconds * 10) / 10:.1f} s'  # cut, not rounded: a ticking clock never shows ahead
    whole = int(seconds)
    if whole < 60:
        return f'{whole} s'
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f'{minutes} min {secs} s' if secs else f'{minutes} min'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes} min' if minutes else f'{hours} h'


def chip_text(stage: dict[str, Any], now: datetime | None = None) -> str:
    return f'{stage["name"]} · {duration_text(shown_seconds(stage, now))}'


def outcome_text(stage: dict[str, Any], now: datetime | None = None) -> str:
    """`succeeded in 2.1 s`, `failed after 0.4 s`, `running for 3 s`."""
    result = stage.get('result') or RUNNING
    link = {'succeeded': 'in', RUNNING: 'for'}.get(result, 'after')
    return f'{RESULT_WORDS.get(result, result)} {link} {duration_text(shown_seconds(stage, now))}'


def stage_label(stage: dict[str, Any], now: datetime | None = None) -> str:
    """The accessible name: `install: succeeded in 2.1 s`."""
    return f'{stage["name"]}: {outcome_text(stage, now)}'


def hidden_stages(run: dict[str, Any]) -> int:
    """Markers the run printed beyond the stages it answers (the server keeps the first ones only)."""
    return max(0, int(run.get('stage_count') or 0) - len(run.get('stages') or []))


def more_text(count: int) -> str:
    return f'+{count:,} more stage{"" if count == 1 else "s"}'


def segment_label(stage: dict[str, Any]) -> str:
    """A stage in a runs-list row, which does not tick: `install: succeeded in 2.1 s`, `test: running`."""
    return f'{stage["name"]}: running' if stage.get('result') == RUNNING else stage_label(stage)


def strip_label(run: dict[str, Any]) -> str:
    """A runs-list row's strip in one sentence: `Stages: install: succeeded in 2.1 s; test: running`."""
    parts = [segment_label(stage) for stage in run.get('stages') or []]
    hidden = hidden_stages(run)
    if hidden:
        parts.append(more_text(hidden))
    return 'Stages: ' + '; '.join(parts)
