"""The run timeline in real Chromium: live output with stage markers, status changes, Retry, and a
100,000-line output that the tab shows as a window."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import Stack, gates_dir, screenshot, stack, wait_form_ready

pytestmark = pytest.mark.e2e

PIPELINE = """#!/bin/sh
echo "::stage:: install"
echo "resolving $RUNBOARD_TARGET_FRAMEWORK dependencies"
sleep 2
echo "::stage:: test"
echo "running $RUNBOARD_DEPTH_LEVEL suite on $RUNBOARD_BRANCH"
echo "test_login ... FAILED"
sleep 1
exit 1
"""
COLOURED = (
    "#!/bin/sh\nprintf '\\033[31merror: something broke\\033[0m\\n'\n"
    "printf 'tests \\033[1;32mPASSED\\033[0m <b>not markup</b>\\n'\nexit 1\n"
)
HUGE = '#!/bin/sh\necho "::stage:: flood"\nseq 1 100000\necho "::stage:: done"\n'


def gated(gate: Path) -> str:
    """PIPELINE's steps, but the test stage only starts once `gate` exists (the test decides when, not a sleep)."""
    return PIPELINE.replace('sleep 2\n', f'while [ ! -f {gate} ]; do sleep 0.1; done\n')


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    base = tmp_path_factory.mktemp('timeline')
    branches = {
        'main': {'run.sh': PIPELINE},
        'huge': {'run.sh': HUGE},
        'coloured': {'run.sh': COLOURED},
        'gated': {'run.sh': gated(gates_dir(base) / 'gate')},
        'held': {'run.sh': gated(gates_dir(base) / 'held-gate')},
    }
    with stack(base, branches, RUNBOARD_RATE_LIMIT_RUNS='1000') as s:
        s.create_project('alpha', max_concurrent_runs=10)
        yield s


def wait_terminal(env: Stack, run_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    with env.api() as api:
        while True:
            run = api.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()
            if run['status'] not in ('queued', 'running'):
                return run
            assert time.monotonic() < deadline, run
            time.sleep(0.2)


def test_timeline_follows_output_and_status_then_retry_opens_the_form(page: Page, env: Stack) -> None:
    page.goto(f'{env.ui_url}/projects/alpha')
    wait_form_ready(page)
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    run_id = page.url.rsplit('/', 1)[1]
    output = page.get_by_test_id('output')
    expect(output).to_contain_text('resolving python dependencies')
    expect(output).to_contain_text('running shallow suite on main', timeout=30_000)
    stages = page.get_by_test_id('stages')
    expect(stages).to_contain_text('install')
    expect(stages).to_contain_text('test')
    header = page.get_by_test_id('run-header')
    expect(header.locator('[data-status]')).to_have_attribute('data-status', 'failed', timeout=30_000)
    expect(header).to_contain_text('exit code 1')
    screenshot(page, 'run-timeline.png')
    page.get_by_test_id('retry').click()
    page.wait_for_url(re.compile(r'/projects/alpha\?retry_of='))
    expect(page.get_by_test_id('run-form')).to_contain_text(run_id)
    expect(page.get_by_test_id('run-form')).to_contain_text('Retry of')
    expect(page.get_by_test_id('branch')).to_have_value(re.compile('^main'))
    wait_form_ready(page)
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    assert page.url.rsplit('/', 1)[1] != run_id
    expect(page.get_by_test_id('retry-of')).to_have_text(run_id)
    expect(page.locator('[data-param=kind]')).to_have_text('retry')


def test_a_submitted_run_opens_in_place_and_back_returns_to_the_project(page: Page, env: Stack) -> None:
    """Click Run -> the timeline without a page load (the tab keeps its document), live as on the run page;
    the address is the run's, so Back, Forward and Reload behave as after a real navigation."""
    env.stop_active()  # an earlier test's run on main would hold its PR lock, and Run would be refused
    page.goto(f'{env.ui_url}/projects/alpha')
    expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')
    expect(page.get_by_test_id('run')).to_be_enabled(timeout=15_000)
    page.evaluate('() => { window.__samePage = true; }')
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    run_id = page.url.rsplit('/', 1)[1]
    header = page.get_by_test_id('run-header')
    expect(header).to_contain_text(run_id)
    assert page.evaluate('() => window.__samePage') is True  # no page load happened
    expect(page.get_by_test_id('page-name')).to_have_text(f'Run {run_id}')
    expect(page.get_by_test_id('run-form')).to_have_count(0)  # the project page is gone, not hidden
    expect(page.get_by_test_id('output')).to_contain_text('resolving python dependencies')
    expect(header.locator('[data-status]')).to_have_attribute('data-status', 'failed', timeout=30_000)
    expect(page).to_have_title(f'{run_id} · failed · Runboard')

    page.go_back()
    page.wait_for_url(re.compile(r'/projects/alpha$'))
    expect(page.get_by_test_id('run-form')).to_be_visible()
    expect(page.locator(f'[data-run="{run_id}"]')).to_have_attribute('data-status', 'failed')
    page.go_forward()
    page.wait_for_url(re.compile(rf'/runs/{run_id}$'))
    expect(page.get_by_test_id('run-header').locator('[data-status]')).to_have_attribute('data-status', 'failed')
    expect(page.get_by_test_id('output')).to_contain_text('test_login ... FAILED')


def test_ansi_colours_are_shown_as_colours_not_codes(page: Page, env: Stack) -> None:
    run = env.trigger('alpha', 'coloured').json()
    wait_terminal(env, run['id'])
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    expect(page).to_have_title(f'{run["id"]} · failed · Runboard')  # each page says what it is, and how it stands
    output = page.get_by_test_id('output')
    error = output.locator('.rb-ansi-1', has_text='error: something broke')
    expect(error).to_be_visible()
    assert error.evaluate('e => getComputedStyle(e).color') == 'rgb(198, 40, 40)'  # red, from the stylesheet
    passed = output.locator('.rb-ansi-2', has_text='PASSED')
    expect(passed).to_have_css('font-weight', '700')
    expect(output).to_contain_text('<b>not markup</b>')  # text stays text
    assert '[31m' not in output.inner_text() and '\x1b' not in output.inner_text()
    screenshot(page, 'run-output-ansi.png')


def test_100k_lines_are_windowed_and_earlier_lines_load_on_demand(page: Page, env: Stack) -> None:
    run = env.trigger('alpha', 'huge').json()
    page.goto(f'{env.ui_url}/runs/{run["id"]}')  # watch it live while the flood arrives
    output = page.get_by_test_id('output')
    expect(output).to_contain_text('100000', timeout=120_000)
    expect(page.get_by_test_id('run-header').locator('[data-status]')).to_have_attribute(
        'data-status', 'succeeded', timeout=60_000
    )
    assert wait_terminal(env, run['id'])['output_lines'] == 100_000
    shown = output.locator('[data-seq]').count()
    assert 0 < shown <= 1000  # a window of the tail, not 100,000 nodes
    expect(page.get_by_test_id('stages')).to_contain_text('flood')
    first_tail = int(output.locator('[data-seq] .rb-text').nth(0).text_content())
    page.get_by_test_id('earlier').click()
    earlier = output.get_by_text(str(first_tail - 1), exact=True)  # the page before, above the tail
    expect(earlier).to_be_visible(timeout=15_000)  # a page of 1,000 lines, on a busy 2-core machine


def test_pause_follow_holds_new_lines_until_resumed(page: Page, env: Stack) -> None:
    assert env.base is not None
    gate = gates_dir(env.base) / 'gate'
    page.goto(f'{env.ui_url}/projects/alpha?branch=gated')
    expect(page.get_by_test_id('branch')).to_have_value(re.compile(r'^gated'))
    expect(page.get_by_test_id('run')).to_be_enabled()
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'), timeout=30_000)
    output = page.get_by_test_id('output')
    try:
        expect(output).to_contain_text('resolving python dependencies')
        page.get_by_test_id('follow').click()  # pause
        expect(page.get_by_test_id('follow')).to_have_attribute('aria-checked', 'false')
        gate.touch()  # only now does the run print its next lines: they arrive while paused, however slow the machine
        expect(page.get_by_test_id('held')).to_contain_text('new lines held', timeout=30_000)
        expect(output).not_to_contain_text('running shallow suite on gated')
        page.get_by_test_id('follow').click()  # resume
        expect(output).to_contain_text('running shallow suite on gated')
        expect(page.get_by_test_id('held')).to_have_text('')
    finally:
        gate.touch()  # a failed test leaves no run waiting


def test_a_confirmation_stays_open_while_the_header_behind_it_is_redrawn(page: Page, env: Stack) -> None:
    """The person asked to stop; the run then changed (it ended), which redraws the header that held Stop. The
    question stays on screen until answered: a dialog that vanishes under the pointer looks like a stop that
    happened. Answered, the focus goes to Retry, where Stop was."""
    assert env.base is not None
    gate = gates_dir(env.base) / 'held-gate'
    run = env.trigger('alpha', 'held').json()
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    try:
        expect(page.get_by_test_id('output')).to_contain_text('resolving python dependencies', timeout=30_000)
        page.get_by_test_id('stop').click()
        dialog = page.get_by_role('alertdialog')
        expect(dialog).to_contain_text(f'Stop run {run["id"]}?')
        gate.touch()  # the run goes on and fails: its header is drawn again, Retry in place of Stop
        header = page.get_by_test_id('run-header')
        expect(header.get_by_test_id('retry')).to_be_visible(timeout=30_000)
        expect(dialog).to_be_visible()
        page.wait_for_timeout(1500)  # a person reads the question: answered after the redraw has long settled
        dialog.get_by_role('button', name='Cancel').click()
        expect(dialog).to_have_count(0)
        expect(header.locator('[data-status]')).to_have_attribute('data-status', 'failed')
        # the dialog gives the focus back to what opened it; Stop is gone, so its successor takes it (not the page)
        expect(header.get_by_test_id('retry')).to_be_focused()
    finally:
        gate.touch()
