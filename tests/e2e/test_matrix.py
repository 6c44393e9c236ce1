"""Matrix batches in real Chromium: the Run form's Matrix toggle makes a 2x2 batch and its page shows the four
cells following their runs live, and "Re-run failed" runs the failed cell again in its place; a refused cell says
why, and "Send again" admits it without repeating the rest."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers.e2e import Stack, gates_dir, screenshot, stack, wait_form_ready
from tests.helpers.repos import make_repo

pytestmark = pytest.mark.e2e

# deep/node fails; while the test holds its gate file it waits first (a retry the page must see under way)
PIPELINE = """#!/bin/sh
echo "building for $RUNBOARD_TARGET_FRAMEWORK at $RUNBOARD_DEPTH_LEVEL"
sleep 3
if [ "$RUNBOARD_DEPTH_LEVEL" = deep ] && [ "$RUNBOARD_TARGET_FRAMEWORK" = node ]; then
  while [ -f '{hold}' ]; do sleep 0.1; done
  echo "broke"; exit 1
fi
echo "ok"
"""


def branches(base: Path) -> dict:
    return {'main': {'run.sh': PIPELINE.replace('{hold}', str(gates_dir(base) / 'hold-deep-node'))}}


GATED = """#!/bin/sh
echo "waiting for the gate"
while [ ! -f '{gate}' ]; do sleep 0.1; done
echo "through"
"""
# runs until stopped, and takes a second to end when asked (a build tearing down): the page reads the batch while it
# is still running after Stop
SLOW_TO_STOP = """#!/bin/sh
trap 'echo "tearing down"; sleep 1; exit 143' TERM
while true; do sleep 0.1; done
"""
ENDED = re.compile('^(succeeded|failed)$')


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    base = tmp_path_factory.mktemp('matrix')
    with stack(base, branches(base), RUNBOARD_RATE_LIMIT_RUNS='1000') as s:
        s.create_project('alpha', max_concurrent_runs=10)
        s.create_project('small', max_concurrent_runs=3, repository=str(make_repo(base / 'repo2', branches(base))))
        gated = {'main': {'run.sh': GATED.replace('{gate}', str(gates_dir(base) / 'gate'))}}
        s.create_project('gated', repository=str(make_repo(base / 'repo3', gated)))
        held = {'main': {'run.sh': GATED.replace('{gate}', str(gates_dir(base) / 'never'))}}  # runs until stopped
        s.create_project('held', max_concurrent_runs=4, repository=str(make_repo(base / 'repo4', held)))
        slow = {'main': {'run.sh': SLOW_TO_STOP}}
        s.create_project('slow-stop', repository=str(make_repo(base / 'repo5', slow)))
        yield s


def pick(page: Page, select: str, option: str) -> None:
    """Add `option` to a multi-select."""
    page.get_by_test_id(select).click()
    page.get_by_role('option', name=option, exact=True).click()
    page.keyboard.press('Escape')
    expect(page.get_by_role('option')).to_have_count(0)  # the menu has closed


def cell_status(page: Page, cell: str):  # noqa: ANN201
    return page.locator(f'[data-cell="{cell}"] [data-status]')


def wait_for_catch_up_read(env: Stack, path: str) -> None:
    """The page's first load of the batch, then the read it makes when its event stream opens."""
    deadline = time.monotonic() + 10
    while len(env.proxy.requests('GET', path)) < 2:
        assert time.monotonic() < deadline, 'the page never read the batch again when its stream opened'
        time.sleep(0.05)


def test_the_matrix_toggle_makes_a_2x2_batch_whose_page_follows_four_cells_live(page: Page, env: Stack) -> None:
    page.goto(f'{env.ui_url}/projects/alpha')
    wait_form_ready(page)  # the page built and live: a field filled sooner was once sent without its value
    page.get_by_test_id('matrix-toggle').click()
    expect(page.get_by_test_id('matrix-depths')).to_be_visible()
    expect(page.get_by_test_id('depth')).to_be_hidden()  # the single selects step aside
    pick(page, 'matrix-depths', 'deep')
    pick(page, 'matrix-frameworks', 'node')
    expect(page.get_by_test_id('matrix-count')).to_have_text('2 × 2 = 4 runs')
    expect(page.get_by_test_id('run')).to_contain_text('Run 4')
    # every run of the batch gets it. Twice in CI (of ~15 runs) the field was found empty right after the fill, its
    # element the same (not reproduced here in 20 tries; the note of 2026-11-29 says what was seen): typed again
    # then, as a person would; that the batch carries the variables is asserted below
    variables = page.get_by_test_id('variables')
    for _attempt in range(3):
        variables.fill('SUITE=matrix')
        with contextlib.suppress(AssertionError):
            expect(variables).to_have_value('SUITE=matrix', timeout=2_000)
            break
    expect(variables).to_have_value('SUITE=matrix')
    screenshot(page, 'run-form-matrix.png')
    env.proxy.add_rule('POST', '/api/runs/batch', 'delay', seconds=1)
    page.get_by_test_id('run').click()
    expect(page.get_by_test_id('progress')).to_contain_text('Submitting')
    expect(page.locator('[data-optimistic]')).to_have_count(0)  # a batch is not one run: no `Submitting…` row
    page.wait_for_url(re.compile(r'/batches/bat_'))
    batch_id = page.url.rsplit('/', 1)[1]

    sent = env.proxy.requests('POST', '/api/runs/batch')
    assert len(sent) == 1 and sent[0].headers.get('idempotency-key')
    expect(page.get_by_test_id('batch-variables')).to_contain_text('SUITE=matrix')
    page.evaluate('window.rbSamePage = true')  # gone if the page reloads: the cells must change in place
    expect(page.get_by_test_id('cell')).to_have_count(4)
    expect(page.get_by_test_id('batch-summary')).to_contain_text('4 runs · 4 admitted')
    # a cell shows its run as it is: under load a run (3 s) may have ended before the page drew it
    expect(cell_status(page, 'shallow/python')).to_have_attribute(
        'data-status', re.compile('^(queued|running|succeeded)$')
    )
    for cell, outcome in (
        ('shallow/python', 'succeeded'),
        ('shallow/node', 'succeeded'),
        ('deep/python', 'succeeded'),
        ('deep/node', 'failed'),
    ):
        expect(cell_status(page, cell)).to_have_attribute('data-status', outcome, timeout=40_000)
    expect(page.get_by_test_id('batch-summary')).to_contain_text('1 failed, 3 succeeded')
    assert page.evaluate('window.rbSamePage') is True

    with env.api() as api:
        batch = api.get(f'/api/runs/batch/{batch_id}').json()
    assert batch['status'] == 'admitted' and len({c['run']['id'] for c in batch['children']}) == 4
    assert batch['variables'] == {'SUITE': 'matrix'}

    # Re-run failed (GitHub's "re-run failed jobs"): the failed cell runs again in its place, the others keep theirs
    first = {f'{c["depth_level"]}/{c["target_framework"]}': c['run'] for c in batch['children']}
    expect(page.get_by_test_id('rerun-failed')).to_contain_text('Re-run failed (1)')
    hold = gates_dir(env.base) / 'hold-deep-node'  # the retry is held under way until the page has been read
    hold.touch()
    page.get_by_test_id('rerun-failed').click()
    expect(page.get_by_test_id('batch-action-summary')).to_have_text('1 retried, 0 skipped, 0 refused')
    expect(page.get_by_test_id('rerun-failed')).to_be_hidden()  # nothing failed while the retry runs
    expect(cell_status(page, 'deep/node')).to_have_attribute('data-status', re.compile('^(queued|running)$'))
    expect(page.get_by_test_id('batch-action-summary')).to_have_text('1 retried, 0 skipped, 0 refused')  # said still
    screenshot(page, 'matrix-rerun-failed.png')
    hold.unlink()
    expect(cell_status(page, 'deep/node')).to_have_attribute('data-status', 'failed', timeout=40_000)
    expect(page.locator('[data-cell="deep/node"] [data-field=retry]')).to_be_visible()
    expect(page.locator('[data-cell="deep/python"] [data-field=retry]')).to_have_count(0)
    expect(page.get_by_test_id('rerun-failed')).to_contain_text('Re-run failed (1)')
    with env.api() as api:
        after = api.get(f'/api/runs/batch/{batch_id}').json()
    now = {f'{c["depth_level"]}/{c["target_framework"]}': c['run'] for c in after['children']}
    assert now['deep/node']['retry_of'] == first['deep/node']['id'] != now['deep/node']['id']
    assert {cell: run['id'] for cell, run in now.items() if cell != 'deep/node'} == {
        cell: run['id'] for cell, run in first.items() if cell != 'deep/node'
    }
    page.locator('[data-cell="deep/node"]').click()  # a cell opens its run: its latest attempt
    page.wait_for_url(f'**/runs/{now["deep/node"]["id"]}')
    expect(page.get_by_test_id('batch-link')).to_have_text(batch_id)


def test_a_refused_cell_says_why_and_send_again_admits_only_it(browser: Browser, page: Page, env: Stack) -> None:
    with env.api() as api:
        body = {
            'project_id': 'small',
            'branch': 'main',
            'matrix': {'depth_level': ['shallow', 'deep'], 'target_framework': ['python', 'node']},
        }
        first = api.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'e2e-small'}).json()
    assert first['summary'] == {'total': 4, 'admitted': 3, 'refused': 1, 'pending': 0}
    admitted = {c['run']['id'] for c in first['children'] if c['run']}

    page.goto(f'{env.ui_url}/batches/{first["id"]}')
    refused = page.locator('[data-cell="deep/node"]')
    expect(refused).to_have_attribute('data-outcome', 'refused')
    expect(refused.locator('[data-field=reason]')).to_contain_text('concurrency_limit: This repository is at maximum')
    expect(page.get_by_test_id('mode')).to_have_text('best effort')
    # admitted, it went live (or, on a loaded machine, ended before the page opened)
    expect(cell_status(page, 'deep/python')).to_have_attribute(
        'data-status', re.compile('^(running|succeeded)$'), timeout=20_000
    )
    screenshot(page, 'matrix-batch.png')
    dark = browser.new_context(viewport={'width': 1200, 'height': 900}, color_scheme='dark')
    try:
        dark_page = dark.new_page()
        dark_page.goto(f'{env.ui_url}/batches/{first["id"]}')
        expect(dark_page.locator('[data-cell="deep/node"] [data-field=reason]')).to_be_visible()
        assert dark_page.evaluate("document.body.classList.contains('body--dark')")
        screenshot(dark_page, 'matrix-batch-dark.png')
    finally:
        dark.close()

    for cell in ('shallow/python', 'shallow/node', 'deep/python'):  # the three end, freeing their slots
        expect(cell_status(page, cell)).to_have_attribute('data-status', ENDED, timeout=40_000)
    page.get_by_test_id('resend').click()
    expect(refused).to_have_attribute('data-outcome', 'admitted')
    expect(cell_status(page, 'deep/node')).to_have_attribute('data-status', 'failed', timeout=40_000)
    expect(page.get_by_test_id('resend')).to_have_count(0)  # nothing missing any more
    with env.api() as api:
        now = api.get(f'/api/runs/batch/{first["id"]}').json()
        runs = api.get('/api/runs', params={'project': 'small', 'limit': 100}).json()['items']
    assert now['status'] == 'admitted' and admitted < {c['run']['id'] for c in now['children']}
    assert len(runs) == 4  # the three admitted first were not made again


def test_stop_all_stops_the_cells_still_running_and_re_run_failed_runs_them_again(page: Page, env: Stack) -> None:
    # GitHub's "cancel workflow": every cell still queued or running is stopped, under one bulk action
    with env.api() as api:
        body = {
            'project_id': 'held',
            'branch': 'main',
            'matrix': {'depth_level': ['shallow'], 'target_framework': ['python', 'node']},
        }
        batch = api.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'e2e-held'}).json()
    page.goto(f'{env.ui_url}/batches/{batch["id"]}')
    for cell in ('shallow/python', 'shallow/node'):
        expect(cell_status(page, cell)).to_have_attribute('data-status', re.compile('^(queued|running)$'))
    expect(page.get_by_test_id('rerun-failed')).to_have_count(0)
    page.get_by_test_id('stop-all').click()
    expect(page.get_by_test_id('batch-action-summary')).to_have_text('2 stop requested, 0 skipped, 0 refused')
    for cell in ('shallow/python', 'shallow/node'):
        expect(cell_status(page, cell)).to_have_attribute('data-status', 'stopped', timeout=20_000)
    expect(page.get_by_test_id('stop-all')).to_have_count(0)
    expect(page.get_by_test_id('rerun-failed')).to_contain_text('Re-run failed (2)')  # a stopped cell may run again
    page.get_by_test_id('rerun-failed').click()
    for cell in ('shallow/python', 'shallow/node'):
        expect(page.locator(f'[data-cell="{cell}"] [data-field=retry]')).to_be_visible()
    # the retries arrive one event at a time: the button offers both once both are in the grid
    expect(page.get_by_test_id('stop-all')).to_contain_text('Stop all (2)')
    page.get_by_test_id('stop-all').click()  # and stopped again: a new set of runs, a new action
    for cell in ('shallow/python', 'shallow/node'):
        expect(cell_status(page, cell)).to_have_attribute('data-status', 'stopped', timeout=20_000)


def test_a_read_that_answers_after_a_newer_event_does_not_undo_it(page: Page, env: Stack) -> None:
    """When its event stream opens, the page reads the batch again. If that read answers after an event newer than
    it (a run ending), the cell must show the event, not the older read."""
    with env.api() as api:
        body = {
            'project_id': 'gated',
            'branch': 'main',
            'matrix': {'depth_level': ['shallow'], 'target_framework': ['python']},
        }
        batch = api.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'e2e-gated'}).json()
        path = f'/api/runs/batch/{batch["id"]}'
        deadline = time.monotonic() + 20
        while api.get(path).json()['children'][0]['run']['status'] != 'running':
            assert time.monotonic() < deadline, 'the gated run never started'
            time.sleep(0.1)
    env.proxy.add_rule('GET', path, 'delay_reply', seconds=3, skip=1)  # the catch-up read, not the first load
    try:
        page.goto(f'{env.ui_url}/batches/{batch["id"]}')
        expect(cell_status(page, 'shallow/python')).to_have_attribute('data-status', 'running', timeout=10_000)
        wait_for_catch_up_read(env, path)
        time.sleep(0.5)  # the server has answered that read ("running"); its answer is held back
        (gates_dir(env.base) / 'gate').touch()  # the run ends while the stale answer is still on its way
        expect(cell_status(page, 'shallow/python')).to_have_attribute('data-status', 'succeeded', timeout=15_000)
        deadline = time.monotonic() + 10
        while not all(seen.replied_at for seen in env.proxy.requests('GET', path)):
            assert time.monotonic() < deadline, 'the held answer never arrived'
            time.sleep(0.05)
        page.wait_for_timeout(500)  # after the held answer has arrived, the cell still says what happened
        expect(cell_status(page, 'shallow/python')).to_have_attribute('data-status', 'succeeded')
    finally:
        env.proxy.clear()


def test_the_read_after_stop_all_does_not_bring_back_a_run_its_event_ended(page: Page, env: Stack) -> None:
    """After Stop all the page reads the batch again. The server answers that read while the run is still tearing
    down ("running"); if that answer arrives after the run's "stopped" event, the cell must stay stopped (a run of
    the suite once saw a cell left saying "running" for good)."""
    with env.api() as api:
        body = {
            'project_id': 'slow-stop',
            'branch': 'main',
            'matrix': {'depth_level': ['deep'], 'target_framework': ['python']},
        }
        batch = api.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'e2e-slow-stop'}).json()
    path = f'/api/runs/batch/{batch["id"]}'
    page.goto(f'{env.ui_url}/batches/{batch["id"]}')
    expect(cell_status(page, 'deep/python')).to_have_attribute('data-status', 'running', timeout=15_000)
    wait_for_catch_up_read(env, path)
    reads = len(env.proxy.requests('GET', path))
    env.proxy.add_rule('GET', path, 'delay_reply', seconds=3)  # the read Stop all makes, held after the server answers
    try:
        page.get_by_test_id('stop-all').click()
        expect(page.get_by_test_id('batch-action-summary')).to_have_text('1 stop requested, 0 skipped, 0 refused')
        expect(cell_status(page, 'deep/python')).to_have_attribute('data-status', 'stopped', timeout=10_000)
        deadline = time.monotonic() + 10
        held = env.proxy.requests('GET', path)[reads:]
        while not (held and all(seen.replied_at for seen in held)):
            assert time.monotonic() < deadline, 'the held answer never arrived'
            time.sleep(0.05)
            held = env.proxy.requests('GET', path)[reads:]
        page.wait_for_timeout(500)  # after the held answer has arrived, the cell still says what happened
        expect(cell_status(page, 'deep/python')).to_have_attribute('data-status', 'stopped')
        expect(page.get_by_test_id('stop-all')).to_have_count(0)
    finally:
        env.proxy.clear()
