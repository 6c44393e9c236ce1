"""The history charts' pure parts as tables: outcome colours, words, the refresh gap, ECharts options (bars in
order and colour, the success-rate line, the palettes) and the cards' sparkline SVG."""

from __future__ import annotations

import re

import pytest

from app.state.history import (
    DARK,
    EMPTY_TEXT,
    LIGHT,
    duration_chart,
    duration_unit,
    format_duration,
    is_finish_event,
    labelled_days,
    memory_chart,
    outcome_of,
    refresh_delay,
    run_tooltip,
    runs_summary,
    sparkline_svg,
    success_rate_chart,
    window_summary,
)


def run(n: int, status: str = 'succeeded', seconds: float | None = 30.0, branch: str = 'main') -> dict:
    return {
        'id': f'run_{n:03d}',
        'status': status,
        'branch_name': branch,
        'kind': 'manual',
        'created_at': '2026-11-20T10:00:00Z',
        'started_at': None if seconds is None else '2026-11-20T10:00:01Z',
        'finished_at': '2026-11-20T10:00:31Z',
        'duration_seconds': seconds,
    }


def day(iso: str, succeeded: int = 0, failed: int = 0, stopped: int = 0) -> dict:
    verdicts = succeeded + failed
    return {
        'day': iso,
        'finished': succeeded + failed + stopped,
        'succeeded': succeeded,
        'failed': failed,
        'stopped': stopped,
        'success_rate': succeeded / verdicts if verdicts else None,
    }


@pytest.mark.parametrize(
    ('status', 'outcome'),
    [
        ('succeeded', 'succeeded'),
        ('failed', 'failed'),
        ('timed_out', 'failed'),  # a blown budget is a failure of the run
        ('crashed', 'failed'),
        ('stopped', 'stopped'),  # a person's Stop: grey, no verdict
    ],
)
def test_outcome_of_a_status(status: str, outcome: str) -> None:
    assert outcome_of(status) == outcome


@pytest.mark.parametrize(
    ('seconds', 'text'),
    [
        (None, '—'),  # never started
        (0, '0 s'),
        (42.4, '42 s'),
        (59.6, '1:00'),
        (185, '3:05'),
        (3723, '1:02:03'),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ('longest', 'unit'),
    [(0, (1.0, 's')), (119, (1.0, 's')), (120, (60.0, 'min')), (7199, (60.0, 'min')), (7200, (3600.0, 'h'))],
)
def test_duration_axis_unit(longest: float, unit: tuple[float, str]) -> None:
    assert duration_unit(longest) == unit


@pytest.mark.parametrize(
    ('statuses', 'text'),
    [
        ([], EMPTY_TEXT),
        (['succeeded'], 'last run: 1 succeeded, 0 failed'),
        (['succeeded'] * 17 + ['failed', 'crashed', 'timed_out'], 'last 20 runs: 17 succeeded, 3 failed'),
        (['succeeded', 'stopped', 'failed'], 'last 3 runs: 1 succeeded, 1 failed, 1 stopped'),  # named when any
    ],
)
def test_runs_summary_is_the_accessible_label(statuses: list[str], text: str) -> None:
    assert runs_summary([run(n, s) for n, s in enumerate(statuses)]) == text


@pytest.mark.parametrize(
    ('event', 'project', 'finished'),
    [
        ({'type': 'run', 'project_id': 'p', 'status': 'failed'}, 'p', True),
        ({'type': 'run', 'project_id': 'p', 'status': 'succeeded'}, None, True),  # any project (dashboard)
        ({'type': 'run', 'project_id': 'q', 'status': 'succeeded'}, 'p', False),  # another project
        ({'type': 'run', 'project_id': 'p', 'status': 'running'}, 'p', False),  # no outcome yet
        ({'type': 'run', 'project_id': 'p', 'status': 'stopping'}, 'p', False),  # not yet stopped
        ({'type': 'run', 'project_id': 'p'}, 'p', False),
        ({'type': 'project', 'id': 'p', 'project_id': 'p', 'status': 'failed'}, 'p', False),
    ],
)
def test_which_live_events_move_the_history(event: dict, project: str | None, finished: bool) -> None:
    assert is_finish_event(event, project) is finished


@pytest.mark.parametrize(
    ('last', 'now', 'delay'),
    [
        (None, 100.0, 0.0),  # never read: now
        (100.0, 103.0, 0.0),  # the gap has passed
        (100.0, 102.0, 0.0),  # exactly the gap
        (100.0, 100.5, 1.5),  # wait out the rest of the gap
        (100.0, 100.0, 2.0),
    ],
)
def test_refresh_waits_out_the_gap(last: float | None, now: float, delay: float) -> None:
    assert refresh_delay(last, now, gap=2.0) == delay


def test_duration_chart_draws_one_bar_per_run_oldest_left_in_the_outcome_colour() -> None:
    newest_first = [run(4, 'stopped', None), run(3, 'crashed', 5), run(2, 'failed', 90), run(1, 'succeeded', 150)]
    options = duration_chart(newest_first, dark=False)
    bars = options['series'][0]['data']
    assert [b['run_id'] for b in bars] == ['run_001', 'run_002', 'run_003', 'run_004']
    assert options['xAxis']['data'] == ['run_001', 'run_002', 'run_003', 'run_004']
    assert [b['itemStyle']['color'] for b in bars] == [LIGHT.succeeded, LIGHT.failed, LIGHT.failed, LIGHT.stopped]
    assert options['yAxis']['name'] == 'duration (min)'  # 150 s is the longest
    assert [b['value'] for b in bars] == [2.5, 1.5, 0.08, 0]  # a run that never started: a stub bar
    assert options['series'][0]['barMinHeight'] > 0
    assert options['aria']['enabled'] and 'last 4 runs: 1 succeeded, 2 failed, 1 stopped' in str(options['aria'])
    assert options['tooltip'][':formatter'] == '(p) => p.data.tooltip_html'


def test_memory_chart_draws_each_measured_run_and_a_gap_for_the_others() -> None:
    measured = {**run(3, 'failed'), 'peak_memory_bytes': 512 * 1024**2, 'cpu_seconds': 2.5}
    newest_first = [measured, run(2), {**run(1), 'peak_memory_bytes': 100 * 1024**2, 'cpu_seconds': 0.25}]
    options = memory_chart(newest_first, dark=False)
    assert options is not None
    bars = options['series'][0]['data']
    assert bars[1] is None  # run 2 ran where no cgroup counted it
    assert [bars[0]['run_id'], bars[2]['run_id']] == ['run_001', 'run_003']
    assert [bars[0]['value'], bars[2]['value']] == [100.0, 512.0]
    assert bars[2]['itemStyle']['color'] == LIGHT.failed
    assert options['yAxis']['name'] == 'peak memory (MiB)'
    assert 'peak memory 512.0 MiB · CPU 2.50 s' in bars[2]['tooltip_html']
    assert 'Peak memory of the last 3 runs' in str(options['aria'])
    big = memory_chart([{**run(1), 'peak_memory_bytes': 3 * 1024**3}], dark=True)
    assert (
        big is not None and big['yAxis']['name'] == 'peak memory (GiB)' and big['series'][0]['data'][0]['value'] == 3.0
    )
    assert memory_chart([run(2), run(1)], dark=False) is None  # nothing measured: no empty chart
    assert 'markLine' not in options['series'][0]  # they ran under no limit


def test_memory_chart_draws_the_limit_the_runs_ran_under() -> None:
    limit = {'memory_max_bytes': 256 * 1024**2}
    options = memory_chart(
        [{**run(2), **limit, 'peak_memory_bytes': 200 * 1024**2}, {**run(1), **limit, 'peak_memory_bytes': 10}],
        dark=False,
    )
    assert options is not None
    line = options['series'][0]['markLine']
    assert line['data'] == [{'yAxis': 256.0}] and line['label']['formatter'] == 'limit 256.0 MiB'
    assert options['yAxis']['max'] > 256  # the line in sight
    assert 'under a memory limit of 256.0 MiB' in str(options['aria'])
    # runs under different limits (the setting changed, or their workers differ): no one line, each tooltip says
    mixed = memory_chart([{**run(2), **limit, 'peak_memory_bytes': 5}, {**run(1), 'peak_memory_bytes': 5}], dark=False)
    assert mixed is not None and 'markLine' not in mixed['series'][0]


@pytest.mark.parametrize(('dark', 'colors'), [(False, LIGHT), (True, DARK)])
def test_charts_take_the_themes_palette(dark: bool, colors) -> None:  # noqa: ANN001
    durations = duration_chart([run(1, 'failed')], dark=dark)
    assert durations['textStyle']['color'] == colors.text
    assert durations['yAxis']['axisLabel']['color'] == colors.muted
    assert durations['yAxis']['splitLine']['lineStyle']['color'] == colors.grid
    assert durations['series'][0]['data'][0]['itemStyle']['color'] == colors.failed
    assert durations['tooltip']['backgroundColor'] == colors.tooltip_background
    rates = success_rate_chart([day('2026-11-20', 1)], dark=dark)
    assert rates['legend']['textStyle']['color'] == colors.text
    assert [s['itemStyle']['color'] for s in rates['series']] == [
        colors.succeeded,
        colors.failed,
        colors.stopped,
        colors.rate,
    ]
    assert durations['backgroundColor'] == rates['backgroundColor'] == 'transparent'  # the page's own


@pytest.mark.parametrize(
    ('count', 'labelled'),
    [
        (30, [1, 8, 15, 22, 29]),  # the last 30 days: today, and a week back from it each time
        (7, [6]),
        (8, [0, 7]),
        (1, [0]),
        (0, []),
    ],
)
def test_the_daily_chart_names_today_and_a_day_a_week_back_from_it(count: int, labelled: list[int]) -> None:
    assert labelled_days(count) == labelled


def test_the_daily_charts_labels_are_the_labelled_days() -> None:
    days = [day(f'2026-11-{n:02d}') for n in range(1, 31)]
    interval = success_rate_chart(days, dark=False)['xAxis']['axisLabel'][':interval']
    assert interval == '(index) => [1, 8, 15, 22, 29].includes(index)'


def test_palettes_keep_bars_apart_and_text_readable() -> None:
    for colors in (LIGHT, DARK):
        assert len({colors.succeeded, colors.failed, colors.stopped, colors.rate}) == 4
    assert LIGHT.text != DARK.text and LIGHT.succeeded != DARK.succeeded


def test_success_rate_chart_stacks_outcomes_and_leaves_gaps_on_days_without_a_verdict() -> None:
    days = [day('2026-11-01'), day('2026-11-02', 3, 1, 2), day('2026-11-03', stopped=1), day('2026-11-04', 0, 2)]
    options = success_rate_chart(days, dark=False)
    assert options['xAxis']['data'] == ['Nov 1', 'Nov 2', 'Nov 3', 'Nov 4']
    succeeded, failed, stopped, rate = options['series']
    assert (succeeded['data'], failed['data'], stopped['data']) == ([0, 3, 0, 0], [0, 1, 0, 2], [0, 2, 1, 0])
    assert succeeded['stack'] == failed['stack'] == stopped['stack']
    assert rate['data'] == [None, 75, None, 0]  # no runs / only stopped: a gap, not 0 %
    assert rate['yAxisIndex'] == 1 and options['yAxis'][1]['max'] == 100
    assert rate['connectNulls'] is False
    assert '9 finished runs, 50 % succeeded' in options['aria']['label']['description']


@pytest.mark.parametrize(
    ('totals', 'text'),
    [
        ({'finished': 0, 'stopped': 0, 'success_rate': None}, 'Last 30 days: no finished runs'),
        ({'finished': 1, 'stopped': 0, 'success_rate': 1.0}, 'Last 30 days: 1 finished run, 100 % succeeded'),
        (
            {'finished': 7, 'stopped': 1, 'success_rate': 4 / 6},
            'Last 30 days: 7 finished runs, 67 % succeeded (stopped runs are not counted)',
        ),
        ({'finished': 2, 'stopped': 2, 'success_rate': None}, 'Last 30 days: 2 finished runs, all stopped'),
    ],
)
def test_window_summary(totals: dict, text: str) -> None:
    assert window_summary({'totals': totals, 'days': [{}] * 30}) == text


def test_tooltips_escape_user_text_and_show_bidi_controls() -> None:
    tip = run_tooltip(run(1, 'timed_out', 61, branch='<img src=x onerror=alert(1)>\u202egnp.exe'), utc_offset=60)
    assert '<img' not in tip and '&lt;img src=x onerror=alert(1)&gt;' in tip
    assert '\u202e' not in tip and '[U+202E]' in tip
    assert 'timed out' in tip and 'took 1:01' in tip and 'finished Nov 20 11:00' in tip  # the viewer's UTC+1
    titled = run_tooltip({**run(1, 'failed', 5), 'commit_title': 'Fix <b>\u202e'}, utc_offset=0)
    assert '<br>Fix &lt;b&gt;[U+202E]<br>' in titled  # its commit's title, inert


def test_sparkline_svg_bars_newest_right_with_classes_and_an_accessible_name() -> None:
    runs = [run(3, 'failed', 10), run(2, 'stopped', None), run(1, 'succeeded', 20, branch='a"b<c')]
    svg = sparkline_svg(runs, width=120, height=28)
    assert svg.startswith(
        '<svg class="rb-sparkline" role="img" aria-label="last 3 runs: 1 succeeded, 1 failed, 1 stopped"'
    )
    assert re.findall(r'data-spark-run="(run_\d+)"', svg) == ['run_001', 'run_002', 'run_003']
    assert re.findall(r'class="rb-spark-(\w+)"', svg) == ['succeeded', 'stopped', 'failed']
    heights = [float(h) for h in re.findall(r' height="([\d.]+)" rx', svg)]
    assert heights == [26.0, 3.0, 13.0]  # by duration; a run that never started keeps a visible stub
    xs = [float(x) for x in re.findall(r' x="([\d.]+)"', svg)]
    assert xs == sorted(xs) and xs[0] == 0  # fewer runs than slots: from the left, the newest last
    assert 'a"b<c' not in svg and 'a&quot;b&lt;c' in svg


def test_sparkline_draws_at_most_twenty_runs() -> None:
    svg = sparkline_svg([run(n) for n in range(30, 0, -1)])
    assert svg.count('<rect') == 20 and 'data-spark-run="run_030"' in svg and 'data-spark-run="run_010"' not in svg
