"""Run history as pictures: from the API's answers (GET /projects/{id}/history, GET /history) to ECharts
options (durations coloured by outcome, the success rate per day) and the project cards' sparkline SVG.

Pure: no I/O, no NiceGUI. Every text that reaches HTML (tooltips, SVG titles) is escaped here, and bidi
controls in branch names are made visible (state/text.py)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.state.run_timing import memory_text, resources_text
from app.state.text import shown

FAILED = ('failed', 'timed_out', 'crashed')
TERMINAL = ('succeeded', *FAILED, 'stopped', 'expired', 'skipped', 'cancelled')
OUTCOMES = ('succeeded', 'failed', 'stopped')
REFRESH_GAP_SECONDS = 2.0  # live updates re-read the history at most this often
SPARKLINE_RUNS = 20
EMPTY_TEXT = 'No finished runs yet'


@dataclass(frozen=True)
class Palette:
    text: str
    muted: str
    grid: str
    succeeded: str
    failed: str
    stopped: str
    rate: str
    tooltip_background: str
    tooltip_border: str

    def outcome(self, outcome: str) -> str:
        return {'succeeded': self.succeeded, 'failed': self.failed}.get(outcome, self.stopped)


# bars and lines keep at least 3:1 against the page (#fff light, #121212 dark); text at least 4.5:1
LIGHT = Palette('#212121', '#5f5f5f', '#e0e0e0', '#2e7d32', '#c62828', '#8a8a8a', '#1565c0', '#ffffff', '#cccccc')
DARK = Palette('#e6e6e6', '#b0b0b0', '#3a3a3a', '#66bb6a', '#ef5350', '#9e9e9e', '#64b5f6', '#2b2b2b', '#555555')


def palette(dark: bool) -> Palette:
    return DARK if dark else LIGHT


def outcome_of(status: str) -> str:
    """succeeded | failed (failed, timed out, crashed) | stopped: the colour a finished run is drawn in."""
    if status == 'succeeded':
        return 'succeeded'
    return 'failed' if status in FAILED else 'stopped'


def is_finish_event(event: dict[str, Any], project_id: str | None = None) -> bool:
    """A live change that can move the history: a run of this project (any, when None) reached an outcome."""
    if event.get('type') != 'run' or event.get('status') not in TERMINAL:
        return False
    return project_id is None or event.get('project_id') == project_id


def refresh_delay(last_refresh: float | None, now: float, gap: float = REFRESH_GAP_SECONDS) -> float:
    """Seconds to wait before the next re-read, so a burst of finishing runs costs one read per `gap`."""
    if last_refresh is None:
        return 0.0
    return max(0.0, gap - (now - last_refresh))


# ---------------------------------------------------------------- words
def format_duration(seconds: float | None) -> str:
    """'—' (never started), '42 s', '3:05', '1:02:03'."""
    if seconds is None:
        return '—'
    whole = int(round(seconds))
    if whole < 60:
        return f'{whole} s'
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}' if hours else f'{minutes}:{secs:02d}'


def duration_unit(longest_seconds: float) -> tuple[float, str]:
    """(divisor, unit) so the duration axis reads in small numbers: seconds, minutes or hours."""
    if longest_seconds >= 2 * 3600:
        return 3600.0, 'h'
    if longest_seconds >= 120:
        return 60.0, 'min'
    return 1.0, 's'


def local_time(value: str | None, utc_offset: int) -> str:
    if not value:
        return '—'
    moment = datetime.fromisoformat(value.replace('Z', '+00:00'))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) + timedelta(minutes=utc_offset)).strftime('%b %d %H:%M')


def day_label(value: str) -> str:
    day = date.fromisoformat(value)
    return f'{day.strftime("%b")} {day.day}'


def labelled_days(count: int, every: int = 7) -> list[int]:
    """Pure: which of `count` days (oldest first) the daily chart names: the newest, then one a week back from it.
    ECharts' own choice counts from the oldest, so today's bar could stand beside yesterday's label."""
    return [index for index in range(count) if (count - 1 - index) % every == 0]


def outcome_counts(runs: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for run in runs:
        counts[outcome_of(run['status'])] += 1
    return counts


def runs_summary(runs: list[dict[str, Any]]) -> str:
    """'last 20 runs: 17 succeeded, 3 failed' (stopped ones named only when there are some)."""
    if not runs:
        return EMPTY_TEXT
    counts = outcome_counts(runs)
    parts = [f'{counts["succeeded"]} succeeded', f'{counts["failed"]} failed']
    if counts['stopped']:
        parts.append(f'{counts["stopped"]} stopped')
    head = 'last run' if len(runs) == 1 else f'last {len(runs)} runs'
    return f'{head}: {", ".join(parts)}'


def rate_text(rate: float | None) -> str:
    return '—' if rate is None else f'{round(rate * 100)} %'


def window_summary(history: dict[str, Any]) -> str:
    """'Last 30 days: 24 finished runs, 85 % succeeded (stopped runs are not counted)'."""
    totals, days = history['totals'], len(history['days'])
    if not totals['finished']:
        return f'Last {days} days: no finished runs'
    runs = 'finished run' if totals['finished'] == 1 else 'finished runs'
    if totals['success_rate'] is None:  # only stopped runs: no verdict to count
        return f'Last {days} days: {totals["finished"]} {runs}, all stopped'
    text = f'Last {days} days: {totals["finished"]} {runs}, {rate_text(totals["success_rate"])} succeeded'
    return text + (' (stopped runs are not counted)' if totals['stopped'] else '')


def run_tooltip(run: dict[str, Any], utc_offset: int) -> str:
    """The bar's tooltip as HTML, every part escaped."""
    status = run['status'].replace('_', ' ')
    lines = [
        f'<b>{html.escape(run["id"])}</b>',
        f'{html.escape(shown(run["branch_name"]))} · {html.escape(status)}',
        *([html.escape(shown(run['commit_title']))] if run.get('commit_title') else []),  # what it ran
        f'took {html.escape(format_duration(run.get("duration_seconds")))}',
        f'finished {html.escape(local_time(run.get("finished_at"), utc_offset))}',
    ]
    if used := resources_text(run):  # what its processes used, where its cgroup counted it
        lines.append(html.escape(used))
    return '<br>'.join(lines)


# ---------------------------------------------------------------- ECharts options
def _axis(colors: Palette, name_align: str = 'center') -> dict[str, Any]:
    """An axis in the palette; a value axis's name is aligned away from the edge it stands at (not cut)."""
    return {
        'axisLine': {'lineStyle': {'color': colors.grid}},
        'axisLabel': {'color': colors.muted},
        'splitLine': {'lineStyle': {'color': colors.grid}},
        'nameTextStyle': {'color': colors.muted, 'align': name_align},
    }


def _base(colors: Palette, description: str) -> dict[str, Any]:
    return {
        'backgroundColor': 'transparent',
        'textStyle': {'color': colors.text},
        'aria': {'enabled': True, 'label': {'description': description}},
        'animation': False,  # live data redraws often; no motion to wait for or be distracted by
        'tooltip': {
            'confine': True,
            'backgroundColor': colors.tooltip_background,
            'borderColor': colors.tooltip_border,
            'textStyle': {'color': colors.text},
        },
    }


def duration_chart(runs: list[dict[str, Any]], *, dark: bool, utc_offset: int = 0) -> dict[str, Any]:
    """One bar per run, oldest on the left and newest on the right (the API answers newest first), its height
    the run's duration and its colour the outcome. A run that never started gets a stub bar (still clickable).
    Each data item carries the run id, so a click opens the run."""
    colors = palette(dark)
    ordered = list(reversed(runs))
    divisor, unit = duration_unit(max((r.get('duration_seconds') or 0 for r in ordered), default=0))
    data = [
        {
            'value': round((run.get('duration_seconds') or 0) / divisor, 2),
            'itemStyle': {'color': colors.outcome(outcome_of(run['status']))},
            'run_id': run['id'],
            'outcome': outcome_of(run['status']),
            'tooltip_html': run_tooltip(run, utc_offset),
        }
        for run in ordered
    ]
    y_axis = {'type': 'value', 'name': f'duration ({unit})', 'minInterval': 1 if unit == 's' else 0}
    return _run_bars(colors, f'Durations of the {runs_summary(runs)}', ordered, y_axis, 'Duration', data)


def _run_bars(
    colors: Palette, description: str, ordered: list[dict[str, Any]], y_axis: dict, name: str, data: list
) -> dict[str, Any]:
    """A bar per run, oldest on the left: the duration and memory charts' common frame."""
    options = _base(colors, f'{description}; newest on the right.')
    options['tooltip'].update({'trigger': 'item', ':formatter': '(p) => p.data.tooltip_html'})
    options.update(
        {
            'grid': {'left': 8, 'right': 8, 'top': 28, 'bottom': 8, 'containLabel': True},
            'xAxis': {
                'type': 'category',
                'data': [run['id'] for run in ordered],
                **_axis(colors),
                'axisLabel': {'show': False},
                'axisTick': {'show': False},
            },
            'yAxis': {**y_axis, **_axis(colors, 'left')},
            'series': [{'type': 'bar', 'name': name, 'barMaxWidth': 28, 'barMinHeight': 3, 'data': data}],
        }
    )
    return options


def memory_chart(runs: list[dict[str, Any]], *, dark: bool, utc_offset: int = 0) -> dict[str, Any] | None:
    """One bar per run as the duration chart's (the same order, colours, tooltip and click), its height the run's peak
    memory: what a memory limit must allow (docs/security.md). A run not measured leaves a gap; None when no run of
    these was measured (their machine made no cgroups), so no empty chart is drawn."""
    ordered = list(reversed(runs))
    peaks = [run.get('peak_memory_bytes') for run in ordered]
    if not any(peak is not None for peak in peaks):
        return None
    colors = palette(dark)
    # the limit they ran under, drawn as a line when they all ran under the same one (else each tooltip says its own)
    limits = {run.get('memory_max_bytes') for run, peak in zip(ordered, peaks, strict=True) if peak is not None}
    limit = limits.pop() if len(limits) == 1 else None
    top = max([*(peak for peak in peaks if peak is not None), limit or 0])
    divisor, unit = (1024**3, 'GiB') if top >= 2 * 1024**3 else (1024**2, 'MiB')
    data = [
        None
        if peak is None
        else {
            'value': round(peak / divisor, 2),
            'itemStyle': {'color': colors.outcome(outcome_of(run['status']))},
            'run_id': run['id'],
            'tooltip_html': run_tooltip(run, utc_offset),
        }
        for run, peak in zip(ordered, peaks, strict=True)
    ]
    y_axis: dict[str, Any] = {'type': 'value', 'name': f'peak memory ({unit})'}
    description = f'Peak memory of the {runs_summary(runs)}'
    if limit:
        y_axis['max'] = round(top / divisor * 1.1, 2)  # the line stays in sight above the tallest bar
        description += f', under a memory limit of {memory_text(limit)}'
    options = _run_bars(colors, description, ordered, y_axis, 'Peak memory', data)
    if limit:
        options['series'][0]['markLine'] = {
            'silent': True,
            'symbol': 'none',
            'lineStyle': {'type': 'dashed', 'color': colors.failed},
            'label': {'formatter': f'limit {memory_text(limit)}', 'position': 'insideEndTop', 'color': colors.muted},
            'data': [{'yAxis': round(limit / divisor, 2)}],
        }
    return options


def success_rate_chart(days: list[dict[str, Any]], *, dark: bool) -> dict[str, Any]:
    """Per day: the finished runs stacked by outcome (left axis) and the success rate line (right axis, %);
    a day without a verdict leaves a gap in the line rather than a 0."""
    colors = palette(dark)
    total = sum(d['finished'] for d in days)
    verdicts = sum(d['succeeded'] + d['failed'] for d in days)
    rate = sum(d['succeeded'] for d in days) / verdicts if verdicts else None
    description = f'Success rate per day over the last {len(days)} days: {total} finished runs, '
    options = _base(colors, description + f'{rate_text(rate)} succeeded.')
    options['tooltip'].update({'trigger': 'axis', 'axisPointer': {'type': 'shadow'}})

    def bars(name: str, key: str, color: str) -> dict[str, Any]:
        return {
            'type': 'bar',
            'name': name,
            'stack': 'runs',
            'itemStyle': {'color': color},
            'barMaxWidth': 18,
            'data': [d[key] for d in days],
        }

    options.update(
        {
            'legend': {
                'type': 'scroll',  # one line on a phone, paged, rather than over the plot
                'top': 0,
                'textStyle': {'color': colors.text},
                'pageTextStyle': {'color': colors.muted},
                'pageIconColor': colors.text,
                'itemWidth': 14,
                'itemHeight': 10,
            },
            'grid': {'left': 8, 'right': 8, 'top': 52, 'bottom': 8, 'containLabel': True},
            'xAxis': {
                'type': 'category',
                'data': [day_label(d['day']) for d in days],
                **(axis := _axis(colors)),
                'axisLabel': {
                    **axis['axisLabel'],
                    ':interval': f'(index) => {json.dumps(labelled_days(len(days)))}.includes(index)',
                },
            },
            'yAxis': [
                {'type': 'value', 'name': 'runs', 'minInterval': 1, **_axis(colors, 'left')},
                {
                    'type': 'value',
                    'name': 'success rate',
                    'min': 0,
                    'max': 100,
                    **_axis(colors, 'right'),
                    'axisLabel': {'color': colors.muted, 'formatter': '{value} %'},
                    'splitLine': {'show': False},
                },
            ],
            'series': [
                bars('Succeeded', 'succeeded', colors.succeeded),
                bars('Failed', 'failed', colors.failed),
                bars('Stopped', 'stopped', colors.stopped),
                {
                    'type': 'line',
                    'name': 'Success rate',
                    'yAxisIndex': 1,
                    'connectNulls': False,
                    'symbol': 'circle',
                    'showSymbol': True,
                    'showAllSymbol': True,  # a day between gaps is a point, not a line: it must show
                    'symbolSize': 8,
                    'z': 3,
                    'itemStyle': {'color': colors.rate},
                    'lineStyle': {'color': colors.rate, 'width': 2},
                    'tooltip': {':valueFormatter': "(v) => (v == null ? '—' : v + ' %')"},
                    'data': [None if d['success_rate'] is None else round(d['success_rate'] * 100) for d in days],
                },
            ],
        }
    )
    return options


# ---------------------------------------------------------------- the project cards' sparkline
def sparkline_svg(runs: list[dict[str, Any]], *, width: int = 120, height: int = 28) -> str:
    """A tiny bar chart of the runs (newest on the right): heights by duration, colours by outcome through
    CSS classes (rb-spark-succeeded|failed|stopped), so light and dark themes colour it. role=img with
    the summary as its name; each bar has a <title> for a pointer's hover."""
    label = html.escape(runs_summary(runs), quote=True)
    ordered = list(reversed(runs[:SPARKLINE_RUNS]))
    slot = width / SPARKLINE_RUNS  # fewer runs than slots: they stand at the left, the newest last
    longest = max((r.get('duration_seconds') or 0 for r in ordered), default=0) or 1
    bars = []
    for index, run in enumerate(ordered):
        seconds = run.get('duration_seconds') or 0
        bar_height = max(3.0, round(seconds / longest * (height - 2), 1))
        x = round(index * slot, 1)
        title = html.escape(
            f'{run["id"]} · {shown(run["branch_name"])} · {run["status"].replace("_", " ")} · '
            f'{format_duration(run.get("duration_seconds"))}'
        )
        bars.append(
            f'<rect class="rb-spark-{outcome_of(run["status"])}" data-spark-run="{html.escape(run["id"], quote=True)}" '
            f'x="{x}" y="{round(height - bar_height, 1)}" width="{round(slot * 0.7, 1)}" height="{bar_height}" rx="1">'
            f'<title>{title}</title></rect>'
        )
    return (
        f'<svg class="rb-sparkline" role="img" aria-label="{label}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{label}</title>{"".join(bars)}</svg>'
    )
