"""Run history charts in real Chromium: one bar per finished run coloured by its outcome (read from the ECharts
instance's options: the chart draws on a canvas), a click on a bar opens the run, the success rate per day,
dark mode, a phone-wide page, the live refresh when a run finishes, the branch chart, and the dashboard's
sparklines."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from app.state.history import DARK, LIGHT, outcome_of
from tests.helpers.e2e import Stack, screenshot, stack

pytestmark = pytest.mark.e2e

BRANCHES = {
    'main': {'run.sh': '#!/bin/sh\nsleep 1\necho ok\n'},
    'broken': {'run.sh': '#!/bin/sh\necho "test_login ... FAILED"\nexit 1\n'},
    'slow': {'run.sh': '#!/bin/sh\nsleep 2\necho done\n'},
    'hang': {'run.sh': '#!/bin/sh\nsleep 120\n'},
}
# oldest first: the chart draws them left to right
PLAN = ['main', 'broken', 'slow', 'main', 'broken', 'hang', 'main']


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    with stack(tmp_path_factory.mktemp('history'), BRANCHES, RUNBOARD_RATE_LIMIT_RUNS='1000') as s:
        s.create_project('charts', max_concurrent_runs=10)
        s.create_project('quiet')
        for branch in PLAN:
            run_id = s.trigger('charts', branch).json()['id']
            if branch == 'hang':
                wait_status(s, run_id, 'running')
                with s.api() as api:
                    api.post(f'/api/runs/{run_id}/stop')
            wait_terminal(s, run_id)
        yield s


def wait_status(env: Stack, run_id: str, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with env.api() as api:
        while api.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()['status'] != status:
            assert time.monotonic() < deadline, f'{run_id} never {status}'
            time.sleep(0.1)


def wait_terminal(env: Stack, run_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    with env.api() as api:
        while True:
            run = api.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()
            if run['status'] not in ('queued', 'running'):
                return run
            assert time.monotonic() < deadline, run
            time.sleep(0.2)


def finished_runs(env: Stack, **params: str) -> list[dict]:
    """The API's answer the chart is drawn from: newest first."""
    with env.api() as api:
        return api.get('/api/projects/charts/history', params=params).json()['runs']


def chart_options(chart: Locator, bars: int) -> dict:
    """The options the ECharts instance draws, once its first series holds `bars` bars."""
    chart.page.wait_for_function(
        '([el, n]) => { const c = getElement(el)?.chart; const o = c && c.getOption();'
        ' return !!o && o.series && o.series[0] && o.series[0].data.length === n; }',
        arg=[chart.element_handle(), bars],
    )
    return chart.evaluate('el => getElement(el).chart.getOption()')


def assert_bars(options: dict, runs: list[dict], colors) -> None:  # noqa: ANN001
    """One bar per run, oldest on the left, each in its outcome's colour."""
    data = options['series'][0]['data']
    assert [bar['run_id'] for bar in data] == [run['id'] for run in reversed(runs)]
    for bar, run in zip(data, reversed(runs), strict=True):
        assert bar['itemStyle']['color'] == colors.outcome(outcome_of(run['status'])), (bar, run['status'])


def test_project_history_shows_one_bar_per_run_by_outcome_and_a_click_opens_the_run(page: Page, env: Stack) -> None:
    runs = finished_runs(env)
    assert [r['status'] for r in reversed(runs)] == [
        'succeeded',
        'failed',
        'succeeded',
        'succeeded',
        'failed',
        'stopped',
        'succeeded',
    ]
    page.goto(f'{env.ui_url}/projects/charts')
    section = page.get_by_test_id('history')
    durations = section.get_by_test_id('history-durations')
    options = chart_options(durations, len(runs))
    assert_bars(options, runs, LIGHT)
    colors = {bar['itemStyle']['color'] for bar in options['series'][0]['data']}
    assert colors == {LIGHT.succeeded, LIGHT.failed, LIGHT.stopped}  # green, red, grey
    slow = next(r for r in runs if r['branch_name'] == 'slow')
    slow_bar = next(b for b in options['series'][0]['data'] if b['run_id'] == slow['id'])
    assert slow_bar['value'] >= 2 and options['yAxis'][0]['name'] == 'duration (s)'
    assert 'slow' in slow_bar['tooltip_html'] and slow['id'] in slow_bar['tooltip_html']
    expect(durations).to_have_attribute('aria-label', re.compile(r'last 7 runs: 4 succeeded, 2 failed, 1 stopped'))

    rates = chart_options_days(section.get_by_test_id('history-rates'))
    today = rates['series']
    assert [s['name'] for s in today] == ['Succeeded', 'Failed', 'Stopped', 'Success rate']
    assert (today[0]['data'][-1], today[1]['data'][-1], today[2]['data'][-1]) == (4, 2, 1)
    assert today[3]['data'][-1] == 67  # 4 of 6 verdicts; the stopped run is none
    assert today[3]['data'][0] is None  # a day without runs is a gap, not 0 %
    expect(section.get_by_test_id('history-summary')).to_have_text(
        'Last 30 days: 7 finished runs, 67 % succeeded (stopped runs are not counted)'
    )
    section.scroll_into_view_if_needed()
    screenshot(page, 'project-history.png')

    # a click on the failed run's bar opens that run
    failed = next(r for r in runs if r['status'] == 'failed')
    index = [b['run_id'] for b in options['series'][0]['data']].index(failed['id'])
    x, y = durations.evaluate(
        '(el, i) => { const c = getElement(el).chart; const top = c.convertToPixel({seriesIndex: 0}, [i, 0]);'
        ' return [top[0], top[1] - 2]; }',
        index,
    )
    durations.click(position={'x': x, 'y': y})
    page.wait_for_url(re.compile(rf'/runs/{failed["id"]}$'))
    expect(page.get_by_test_id('run-header').locator('[data-status]')).to_have_attribute('data-status', 'failed')


def chart_options_days(chart: Locator) -> dict:
    chart.page.wait_for_function(
        'el => { const o = getElement(el)?.chart?.getOption(); return !!o && o.series && o.series.length === 4; }',
        arg=chart.element_handle(),
    )
    return chart.evaluate('el => getElement(el).chart.getOption()')


def test_dark_mode_draws_in_the_dark_palette_and_a_phone_sees_the_whole_chart(browser: Browser, env: Stack) -> None:
    runs = finished_runs(env)
    context = browser.new_context(viewport={'width': 1200, 'height': 900}, color_scheme='dark')
    try:
        page = context.new_page()
        page.goto(f'{env.ui_url}/projects/charts')
        options = chart_options(page.get_by_test_id('history-durations'), len(runs))
        assert_bars(options, runs, DARK)
        assert options['textStyle']['color'] == DARK.text
        assert options['yAxis'][0]['axisLabel']['color'] == DARK.muted
        rates = chart_options_days(page.get_by_test_id('history-rates'))
        assert rates['legend'][0]['textStyle']['color'] == DARK.text
        page.get_by_test_id('history').scroll_into_view_if_needed()
        screenshot(page, 'project-history-dark.png')
    finally:
        context.close()
    phone = browser.new_context(viewport={'width': 360, 'height': 800}, device_scale_factor=2, is_mobile=True)
    try:
        page = phone.new_page()
        page.goto(f'{env.ui_url}/projects/charts')
        durations = page.get_by_test_id('history-durations')
        chart_options(durations, len(runs))
        box = durations.bounding_box()
        assert box is not None and box['x'] >= 0 and box['x'] + box['width'] <= 360
        assert page.evaluate('document.documentElement.scrollWidth') <= 360  # nothing wider than the phone
        page.get_by_test_id('history').scroll_into_view_if_needed()
        screenshot(page, 'project-history-360.png')
    finally:
        phone.close()


def test_empty_project_says_so_instead_of_an_empty_chart(page: Page, env: Stack) -> None:
    page.goto(f'{env.ui_url}/projects/quiet')
    section = page.get_by_test_id('history')
    expect(section.get_by_test_id('history-empty')).to_have_text('No finished runs yet')
    expect(section.get_by_test_id('history-summary')).to_have_text('Last 30 days: no finished runs')
    expect(section.get_by_test_id('history-durations')).to_have_count(0)


def test_branch_chart_from_the_runs_filter(page: Page, env: Stack) -> None:
    broken = finished_runs(env, branch='broken')
    assert len(broken) == 2
    page.goto(f'{env.ui_url}/projects/charts?on=broken')
    branch = page.get_by_test_id('history-branch')
    expect(branch.get_by_role('heading')).to_have_text('Branch broken')
    # the project's chart above it says whose runs it counts
    expect(page.get_by_test_id('history').get_by_role('heading')).to_have_text('History of all branches')
    options = chart_options(branch.get_by_test_id('history-durations'), 2)
    assert_bars(options, broken, LIGHT)
    assert {bar['itemStyle']['color'] for bar in options['series'][0]['data']} == {LIGHT.failed}
    chart_options(page.get_by_test_id('history').get_by_test_id('history-durations'), len(finished_runs(env)))


def test_dashboard_cards_show_a_sparkline_with_an_accessible_summary(page: Page, env: Stack) -> None:
    runs = finished_runs(env, limit='20')
    page.goto(env.ui_url + '/')
    card = page.locator('[data-project=charts]')
    spark = card.get_by_test_id('sparkline').locator('svg')
    counts = {o: sum(1 for r in runs if outcome_of(r['status']) == o) for o in ('succeeded', 'failed', 'stopped')}
    label = f'last {len(runs)} runs: {counts["succeeded"]} succeeded, {counts["failed"]} failed'
    label += f', {counts["stopped"]} stopped' if counts['stopped'] else ''
    expect(spark).to_have_attribute('role', 'img')
    expect(spark).to_have_attribute('aria-label', label)
    bars = spark.locator('rect')
    expect(bars).to_have_count(len(runs))
    assert bars.evaluate_all('rs => rs.map(r => r.dataset.sparkRun)') == [r['id'] for r in reversed(runs)]
    assert bars.evaluate_all('rs => rs.map(r => r.getAttribute("class"))') == [
        f'rb-spark-{outcome_of(r["status"])}' for r in reversed(runs)
    ]
    assert bars.first.evaluate('r => getComputedStyle(r).fill') == 'rgb(46, 125, 50)'  # the first run succeeded
    expect(page.locator('[data-project=quiet]').get_by_test_id('sparkline')).to_be_hidden()
    screenshot(page, 'dashboard-sparklines.png')


def test_a_run_finishing_redraws_the_chart_and_the_sparkline_live(browser: Browser, env: Stack) -> None:
    before = len(finished_runs(env))
    context = browser.new_context(viewport={'width': 1200, 'height': 900})
    try:
        project_page, dashboard = context.new_page(), context.new_page()
        project_page.goto(f'{env.ui_url}/projects/charts')
        chart_options(project_page.get_by_test_id('history-durations'), before)
        dashboard.goto(env.ui_url + '/')
        sparkline = dashboard.locator('[data-project=charts]').get_by_test_id('sparkline').locator('rect')
        expect(sparkline).to_have_count(before)
        expect(project_page.get_by_test_id('live')).to_contain_text('live')
        run_id = env.trigger('charts', 'broken').json()['id']
        wait_terminal(env, run_id)
        options = chart_options(project_page.get_by_test_id('history-durations'), before + 1)
        newest = options['series'][0]['data'][-1]
        assert newest['run_id'] == run_id and newest['itemStyle']['color'] == LIGHT.failed
        expect(sparkline).to_have_count(min(before + 1, 20))
        expect(sparkline.last).to_have_attribute('data-spark-run', run_id)
    finally:
        context.close()


def test_a_runs_branch_opens_the_branchs_runs_and_history(page: Page, env: Stack) -> None:
    """The run page's branch is a link, as a workflow run's branch is on GitHub: to the project page filtered to the
    branch, its history chart and its runs only."""
    broken = finished_runs(env, branch='broken')
    page.goto(f'{env.ui_url}/runs/{broken[-1]["id"]}')
    page.get_by_test_id('run-header').get_by_role('link', name='broken', exact=True).click()
    page.wait_for_url('**/projects/charts?on=broken')
    expect(page.get_by_test_id('history-branch').get_by_role('heading')).to_have_text('Branch broken')
    rows = page.locator('[data-run]')
    expect(rows).to_have_count(len(broken))
