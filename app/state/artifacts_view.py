"""How a run's artifacts and tests read in the UI (the run page's Artifacts and Tests tabs, the project page's
flaky tests and test chart), from the API's answers. Pure: no I/O, no NiceGUI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from app.state.text import shown

Preview = Literal['image', 'text', 'html', 'none']
IMAGE_TYPES = ('image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml')
# the run's summary (`$RUNBOARD_SUMMARY`, docs/artifacts.md): Markdown it wrote, shown above its log, up to this much
SUMMARY_PATH = 'summary.md'
SUMMARY_BYTES = 1024 * 1024
MARK_WORDS = {
    'new': 'new',
    'still_failing': 'still failing',
    'flaky': 'flaky',
    'failing_on_base': 'failing on the base branch too',
    'fixed': 'fixed',
}


def size_text(size: int) -> str:
    value = float(size)
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if value < 1024 or unit == 'GB':
            return f'{int(value)} bytes' if unit == 'bytes' else f'{value:.1f} {unit}'
        value /= 1024
    return f'{size} bytes'


def preview_kind(item: dict[str, Any]) -> Preview:
    """Images and text are previewed inline; HTML opens in a new tab, sandboxed; anything else downloads."""
    if not item.get('stored'):
        return 'none'
    kind = str(item.get('content_type') or '')
    if kind in IMAGE_TYPES:
        return 'image'
    if kind == 'text/html':
        return 'html'
    if kind.startswith('text/') or kind in ('application/json', 'application/xml'):
        return 'text'
    return 'none'


def code_language(item: dict[str, Any]) -> str:
    """How a text preview is highlighted (plain text unless the type says XML, JSON or Markdown)."""
    kind = str(item.get('content_type') or '')
    return {'application/xml': 'xml', 'text/xml': 'xml', 'application/json': 'json', 'text/markdown': 'markdown'}.get(
        kind, 'plaintext'
    )


def ui_url(run_id: str, path: str, *, download: bool = False) -> str:
    """The artifact from the UI's own address (pages/artifact_download.py streams it on from the API)."""
    return f'/run-artifacts/{quote(run_id, safe="")}/{quote(path)}' + ('?download=true' if download else '')


def zip_ui_url(run_id: str) -> str:
    """Every kept file of the run in one zip archive, from the UI's own address."""
    return f'/run-artifacts/{quote(run_id, safe="")}.zip'


def artifacts_summary(answer: dict[str, Any]) -> str:
    items = answer.get('items') or []
    kept = [i for i in items if i.get('stored')]
    refused = len(items) - len(kept)
    if answer.get('removed_at'):
        return (
            f'The artifacts of this run expired: artifact retention removed them on {answer["removed_at"][:10]}. '
            + ('Its log, test results and summary stay.' if summary_item(answer) else 'Its log and test results stay.')
        )
    if not items:
        return 'This run kept no artifacts. Files a run leaves in $RUNBOARD_ARTIFACTS_DIR are kept here.'
    text = f'{len(kept)} kept · {size_text(answer.get("total_bytes", 0))} of {size_text(answer.get("limit_bytes", 0))}'
    if refused:
        text += f' · {refused} refused'
    days = answer.get('retention_days') or 0
    if days:
        text += f' · kept {days:g} days'
    return text


def summary_item(answer: dict[str, Any]) -> dict[str, Any] | None:
    """The run's summary among its artifacts, when it wrote one and it was kept (a refused one is listed with why)."""
    for item in answer.get('items') or []:
        if item.get('path') == SUMMARY_PATH and item.get('stored') and item.get('size'):
            return item
    return None


# the Artifacts tab, under its downloads: the files are not masked, what Runboard shows of them is
UNMASKED_FILES = (
    'Downloads are the files as the run wrote them: secrets in them are not masked '
    '(previews here, its log, test results and summary are).'
)


def preview_text(preview: dict[str, Any]) -> str:
    return str(preview.get('text') or '') + ('\n… (the rest: Download)' if preview.get('cut') else '')


def preview_note(preview: dict[str, Any]) -> str | None:
    """What a text preview says above it: that values were masked in it (the download holds them), or that the file
    was kept before previews were masked (so it is shown as the run wrote it)."""
    if preview.get('masked'):
        return "Secrets masked in this preview, as in the run's log; the download is the file as the run wrote it."
    if not preview.get('checked'):
        return 'Kept before Runboard masked previews: shown as the run wrote it.'
    return None


OLD_SUMMARY = (
    'This run kept its summary before Runboard masked summaries as it masks logs: it is shown only as its artifact '
    f'{SUMMARY_PATH}.'
)


def summary_text(summary: dict[str, Any] | None, item: dict[str, Any] | None) -> str | None:
    """The Markdown shown above the run's log, from GET /runs/{id}/summary (`summary`, None: it has none): its text, and
    a line when it is the file's first part only. A run that kept summary.md (`item`, its artifact) before summaries
    were masked has none to show: a line says where it is. None: nothing to show."""
    if summary is None:
        return OLD_SUMMARY if item is not None else None
    text = str(summary.get('text') or '')
    return text + ('\n\n… (the rest: its artifact summary.md)' if summary.get('cut') else '')


def tab_label(name: str, count: int | None) -> str:
    return f'{name} ({count})' if count else name


def artifacts_tab_label(items: list[dict[str, Any]]) -> str:
    """The Artifacts tab: the files kept ('Artifacts (2)'), and the refused ones apart ('Artifacts (2 kept · 1
    refused)'): a refused file is listed with why, but the run kept nothing of it."""
    kept = sum(1 for item in items if item.get('stored'))
    refused = len(items) - kept
    if not refused:
        return tab_label('Artifacts', kept)
    return f'Artifacts ({kept} kept · {refused} refused)'


def totals_text(totals: dict[str, Any]) -> str:
    """`12 tests · 9 passed · 2 failed · 1 error · 0 skipped · 3.2 s summed over the tests` (no time when the report
    gave none). The cases' times added up: said so, since tests run in parallel (pytest-xdist) sum to more than the run
    took, and a suite's setup outside its tests makes the report's own suite time more than the sum."""
    errors = totals.get('errors', 0)
    parts = [
        f'{totals.get("total", 0)} tests',
        f'{totals.get("passed", 0)} passed',
        f'{totals.get("failed", 0)} failed',
        f'{errors} error{"" if errors == 1 else "s"}',
        f'{totals.get("skipped", 0)} skipped',
    ]
    if totals.get('duration_seconds'):
        parts.append(f'{seconds_text(totals["duration_seconds"])} summed over the tests')
    return ' · '.join(parts)


def seconds_text(seconds: float) -> str:
    if seconds < 1:
        return f'{seconds * 1000:.0f} ms'
    if seconds < 60:
        return f'{seconds:.1f} s'
    return f'{int(seconds // 60)} min {seconds % 60:.0f} s'


def mark_text(case: dict[str, Any], base_branch: str | None = None) -> str:
    """How a test's result stands against earlier runs: `new`, `still failing since run_…`, `flaky (passed in run_…)`,
    `failing on main too (run_…)`, `fixed (failed in run_…)`."""
    mark, since = case.get('mark'), case.get('since_run_id')
    if mark == 'still_failing' and since:
        return f'still failing since {since}'
    if mark == 'flaky' and since:
        return f'flaky (passed in {since} on this commit)'
    if mark == 'failing_on_base' and since:
        return f'failing on {shown(base_branch) if base_branch else "the base branch"} too ({since})'
    if mark == 'fixed' and since:
        return f'fixed (failed in {since})'
    return MARK_WORDS.get(str(mark), '')


def comparison_text(answer: dict[str, Any]) -> str:
    """The run's tests against earlier runs in one line (GitLab's merge request test summary):
    `1 new failure · 1 failing on main too · 2 fixed`; '' when nothing changed and nothing failed. A failure with no
    mark had no earlier results to be compared with (a project's first run at that depth level and framework): it is
    said so, never called new."""
    failures = answer.get('failures') or []
    unknown = 'with no earlier run at this depth level and framework to compare with'
    counts = [
        (sum(1 for f in failures if f.get('mark') == mark), one, many)
        for mark, one, many in (
            ('new', 'new failure', 'new failures'),
            ('still_failing', 'still failing', 'still failing'),
            ('flaky', 'flaky', 'flaky'),
            ('failing_on_base', f'failing on {shown(answer.get("base_branch") or "the base branch")} too', None),
            (None, f'failure {unknown}', f'failures {unknown}'),
        )
    ]
    counts.append((len(answer.get('fixed') or []), 'fixed', 'fixed'))
    return ' · '.join(f'{n} {one if n == 1 or many is None else many}' for n, one, many in counts if n)


def coverage_text(coverage: dict[str, Any] | None) -> str:
    """`Coverage 87.30 % (1,234 of 1,414 lines) · +1.20 against run_…`; '' without coverage."""
    if not coverage:
        return ''
    text = f'Coverage {coverage["percent"]:.2f} %'
    if coverage.get('lines_valid'):
        text += f' ({coverage["lines_covered"]:,} of {coverage["lines_valid"]:,} lines)'
    change = coverage.get('change')
    if change is not None and coverage.get('compared_with'):
        moved = 'unchanged' if change == 0 else f'{change:+.2f}'
        text += f' · {moved} against {coverage["compared_with"]}'
    return text


def results_text(answer: dict[str, Any]) -> str:
    """The run header's line from GET /runs/{id}/tests: `2 of 120 tests failed · coverage 87.30 % (+1.20)`, or
    `120 tests passed`; '' with neither a test nor a coverage report."""
    parts = []
    totals = answer.get('totals') or {}
    if answer.get('has_report'):
        failing = (totals.get('failed') or 0) + (totals.get('errors') or 0)
        total = totals.get('total') or 0
        parts.append(f'{failing:,} of {total:,} tests failed' if failing else f'{total:,} tests passed')
    coverage = answer.get('coverage')
    if coverage:
        text = f'coverage {coverage["percent"]:.2f} %'
        if coverage.get('change') is not None and coverage.get('compared_with'):
            text += f' ({"unchanged" if coverage["change"] == 0 else format(coverage["change"], "+.2f")})'
        parts.append(text)
    return ' · '.join(parts)


def coverage_chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    """ECharts options: the base branch's coverage per run, oldest first, one line per depth level and framework
    (a quick suite's coverage beside a full one's would read as a drop); a run without that combination leaves a gap."""
    combinations = sorted({(p['depth_level'], p['target_framework']) for p in points})
    series = []
    for depth, framework in combinations:
        data = [
            p['percent'] if (p['depth_level'], p['target_framework']) == (depth, framework) else None for p in points
        ]
        name = f'{depth} · {framework}'
        series.append({'name': name, 'type': 'line', 'data': data, 'connectNulls': True, 'symbolSize': 6})
    return {
        'animation': False,
        'tooltip': {'trigger': 'axis'},
        'legend': {'data': [s['name'] for s in series], 'top': 0},
        'grid': CHART_GRID,
        'xAxis': runs_axis(points),
        'yAxis': {'type': 'value', 'min': 0, 'max': 100, 'axisLabel': {'formatter': '{value} %'}},
        'series': series,
    }


def coverage_trend_text(branch: str, points: list[dict[str, Any]]) -> str:
    """`Coverage on main 87.30 % · +1.20 since run_…`: the base branch's last figure, against its previous run with
    the same depth level and framework; '' without coverage."""
    if not points:
        return ''
    last = points[-1]
    text = f'Coverage on {shown(branch)} {last["percent"]:.2f} %'
    same = [
        p
        for p in points[:-1]
        if (p['depth_level'], p['target_framework']) == (last['depth_level'], last['target_framework'])
    ]
    if same:
        change = round(last['percent'] - same[-1]['percent'], 2)
        moved = 'unchanged' if change == 0 else f'{change:+.2f}'
        text += f' · {moved} since {same[-1]["run_id"]}'
    return text


def failure_title(failure: dict[str, Any]) -> str:
    name = shown(failure.get('name') or '')
    classname = shown(failure.get('classname') or '')
    return f'{classname}::{name}' if classname else name


def first_line(text: str | None) -> str:
    return ((text or '').strip().splitlines() or [''])[0]


def utc_iso(value: str | None) -> str:
    """An API time (naive ones are UTC) as `2026-06-01T09:05:00Z`, which every browser reads as UTC; '' for none."""
    if not value:
        return ''
    moment = datetime.fromisoformat(value.replace('Z', '+00:00'))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


# a run's date and time under its bar, in the viewer's time zone (its sortable id says nothing to a person; the
# tooltip names it); a point without a time shows its id's end
TIME_LABEL_JS = (
    '(value, index) => {{ const t = new Date({times}[index] || NaN); return isNaN(t) ? "…" + value.slice(-6) : '
    't.toLocaleDateString([], {{month: "short", day: "numeric"}}) + "\\n" + '
    't.toLocaleTimeString([], {{hour: "2-digit", minute: "2-digit"{seconds}}}); }}'
)


def label_seconds(times: list[str]) -> bool:
    """Pure. Whether the runs' labels need seconds: two of them started in one minute (else they read the same)."""
    known = [t for t in times if t]
    return len({t[:16] for t in known}) < len(known)


def runs_axis(points: list[dict[str, Any]]) -> dict[str, Any]:
    """A chart's x axis of runs (each point's `run_id` and `created_at`), oldest first: each run under its date and
    time; as many labels as fit without overlapping."""
    times = [utc_iso(point.get('created_at')) for point in points]
    return {
        'type': 'category',
        'data': [point['run_id'] for point in points],
        'axisLabel': {
            ':formatter': TIME_LABEL_JS.format(
                times=json.dumps(times), seconds=', second: "2-digit"' if label_seconds(times) else ''
            ),
            'hideOverlap': True,
            'lineHeight': 14,  # two lines, date over time (without it they are drawn over each other)
        },
    }


CHART_GRID = {'left': 8, 'right': 16, 'top': 36, 'bottom': 4, 'containLabel': True}  # room for the axes' labels
BAR_MAX_WIDTH = 24  # with a run or two a category is the whole plot wide: a bar that wide reads as a wall


def tests_chart(history: list[dict[str, Any]]) -> dict[str, Any]:
    """ECharts options: test count (line) and failures (bars) per run, oldest first (runs_axis)."""
    return {
        'animation': False,
        'tooltip': {'trigger': 'axis'},
        'legend': {'data': ['tests', 'failures'], 'top': 0},
        'grid': CHART_GRID,
        'xAxis': runs_axis(history),
        'yAxis': {'type': 'value', 'minInterval': 1},
        'series': [
            {'name': 'tests', 'type': 'line', 'data': [p['total'] for p in history], 'color': '#1565c0'},
            {
                'name': 'failures',
                'type': 'bar',
                'data': [p['failed'] for p in history],
                'color': '#c62828',
                'barMaxWidth': BAR_MAX_WIDTH,
            },
        ],
    }
