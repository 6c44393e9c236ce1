"""Schedules, delayed runs and queued TTLs in real Chromium: an operator creates a schedule and sees its next
firing (on the schedules page and the project card) and a firing in its history, and an edit of a schedule another
operator changed meanwhile is refused in words, with Reload; a delayed run shows `delayed` with its time and is
cancelled; a run that waited past its TTL shows `expired` and why."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers.e2e import Stack, screenshot, stack, wait_form_ready

pytestmark = pytest.mark.e2e

BRANCHES = {
    'main': {'run.sh': '#!/bin/sh\necho "nightly checks"\n'},
    'hold': {'run.sh': '#!/bin/sh\necho holding\nsleep 300\n'},
    'feature/x': {'run.sh': '#!/bin/sh\necho x\n'},
}


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    with stack(
        tmp_path_factory.mktemp('schedules'),
        BRANCHES,
        RUNBOARD_RATE_LIMIT_RUNS='1000',
        RUNBOARD_GLOBAL_RUN_CAP='1',
        RUNBOARD_SCHEDULE_SWEEP_SECONDS='1',
        RUNBOARD_SCHEDULE_GRACE_SECONDS='600',  # the slot make_due goes back to still counts as on time
    ) as s:
        s.create_project('alpha', max_concurrent_runs=10)
        yield s


BROWSER_ZONE = 'Intl.DateTimeFormat().resolvedOptions().timeZone'


def make_due(env: Stack, schedule_id: str) -> datetime:
    """As if the clock had reached the schedule's next slot: its next firing becomes the latest */5 slot (the
    server's own sweep then fires it, as it would have). Returns that slot."""
    assert env.base is not None
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    with sqlite3.connect(env.base / 'api' / 'runboard.db', timeout=30) as db:
        db.execute(
            'UPDATE schedule SET next_fire_at = ? WHERE id = ?', (now.strftime('%Y-%m-%d %H:%M:%S.%f'), schedule_id)
        )
    return now


def test_an_operator_schedules_runs_and_sees_the_next_and_past_firings(page: Page, env: Stack) -> None:
    page.goto(f'{env.ui_url}/projects/alpha')
    zone = page.evaluate(BROWSER_ZONE)  # the form's default (UTC here unless the machine's zone is another)
    page.get_by_test_id('schedules-link').click()
    page.wait_for_url(re.compile(r'/projects/alpha/schedules$'))
    expect(page.get_by_test_id('no-schedules')).to_be_visible()
    page.get_by_test_id('new-schedule').click()
    form = page.get_by_test_id('schedule-form')
    form.locator('input[data-field=name]').fill('nightly checks')
    form.locator('input[data-field=cron]').fill('61 * * * *')
    form.get_by_test_id('save-schedule').click()
    expect(form).to_contain_text('61')  # the server's 422 beside the cron box
    form.locator('input[data-field=cron]').fill('*/5 * * * *')
    variables = form.locator('textarea[data-field=variables]')
    variables.fill('TARGET')
    form.get_by_test_id('save-schedule').click()
    expect(form).to_contain_text('line 1: write NAME=value')  # said at the field; nothing sent
    variables.fill('TARGET=nightly')
    form.get_by_test_id('save-schedule').click()
    expect(form).to_be_hidden()
    card = page.locator('[data-schedule]')
    expect(card).to_contain_text(f'*/5 * * * * ({zone})')
    expect(card).to_contain_text('main · shallow/python · as local')
    expect(card.get_by_test_id('schedule-variables')).to_have_text('variablesTARGET=nightly')
    expect(card.locator('[data-field=next]')).to_have_text(re.compile(r'^next run (in \d+ (s|min)|due now)$'))
    expect(card.get_by_test_id('no-firings')).to_be_visible()

    schedule_id = card.get_attribute('data-schedule')
    assert schedule_id
    slot = make_due(env, schedule_id)
    # the slot's own firing: if the test crosses a */5 boundary, the real next slot fires too and lists above it
    fired = card.locator('[data-firing=admitted]', has_text=f'{slot:%H:%M:%S} UTC')
    expect(fired).to_be_visible(timeout=30_000)  # the sweep fired it; the page followed the change
    expect(fired.locator('a')).to_have_text(re.compile(r'^run_'))
    expect(fired.locator('[data-status]')).to_have_attribute('data-status', 'succeeded', timeout=30_000)
    screenshot(page, 'schedules.png')
    fired.locator('a').click()  # the run it fired has the schedule's variables
    expect(page.get_by_test_id('run-variables')).to_contain_text('TARGET=nightly')

    page.goto(f'{env.ui_url}/')
    nxt = page.locator('[data-project=alpha] [data-field=next-schedule]')
    expect(nxt).to_have_text(re.compile(r'^next run (in \d+ (s|min)|due now) · nightly checks$'))

    page.goto(f'{env.ui_url}/projects/alpha/schedules')
    page.get_by_test_id('pause').click()
    expect(page.locator('[data-schedule]')).to_have_attribute('data-paused', 'true')
    expect(page.locator('[data-field=next]')).to_have_text('paused')

    # edited by another operator while the dialog is open: the card follows, the dialog and what was typed stay;
    # Save is refused in words (nothing saved) with Reload, which shows the schedule as it is now; saved on that, the
    # change is kept
    page.get_by_test_id('edit').click()
    name = form.locator('input[data-field=name]')
    expect(name).to_have_value('nightly checks')
    name.fill('weeknights')
    with env.api() as api:
        theirs = api.patch(f'/api/projects/alpha/schedules/{schedule_id}', json={'cron': '*/10 * * * *'})
    assert theirs.status_code == 200, theirs.text
    expect(card).to_contain_text(f'*/10 * * * * ({zone})')
    expect(name).to_have_value('weeknights')
    form.get_by_test_id('save-schedule').click()
    problem = form.get_by_test_id('schedule-problem')
    expect(problem).to_contain_text(
        'Could not save “nightly checks”: someone else changed this schedule since you opened it'
    )
    expect(problem.locator('[data-correlation-id]')).not_to_have_attribute('data-correlation-id', '')
    expect(name).to_have_value('weeknights')
    with env.api() as api:
        assert api.get(f'/api/projects/alpha/schedules/{schedule_id}').json()['name'] == 'nightly checks'
    screenshot(page, 'schedule-edit-conflict.png')
    problem.get_by_test_id('schedule-reload').click()
    expect(form.locator('input[data-field=cron]')).to_have_value('*/10 * * * *')
    expect(name).to_have_value('nightly checks')
    expect(problem).to_have_count(0)
    name.fill('weeknights')
    form.get_by_test_id('save-schedule').click()
    expect(form).to_be_hidden()
    expect(card).to_contain_text('weeknights')
    with env.api() as api:
        kept = api.get(f'/api/projects/alpha/schedules/{schedule_id}').json()
    assert (kept['name'], kept['cron'], kept['edit_version']) == (
        'weeknights',
        '*/10 * * * *',
        theirs.json()['edit_version'] + 1,
    )


def test_a_new_schedule_starts_in_the_browsers_time_zone(browser: Browser, env: Stack) -> None:
    """A person in Berlin creating a schedule gets Europe/Berlin, as the Run form's "Run at" reads their time; the API's
    default for a script that names no zone stays UTC (tests/api/test_schedules.py)."""
    context = browser.new_context(viewport={'width': 1200, 'height': 900}, timezone_id='Europe/Berlin')
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(f'{env.ui_url}/projects/alpha/schedules')
        assert page.evaluate(BROWSER_ZONE) == 'Europe/Berlin'
        page.get_by_test_id('new-schedule').click()
        form = page.get_by_test_id('schedule-form')
        expect(form.locator('input[data-field=timezone]')).to_have_value('Europe/Berlin')
        expect(form.get_by_test_id('cron-preview')).to_have_text(re.compile(r'^Next: .* 02:30 \(Europe/Berlin\)$'))
        form.locator('input[data-field=name]').fill('berlin nights')
        form.get_by_test_id('save-schedule').click()
        expect(form).to_be_hidden()
        card = page.locator('[data-schedule]', has_text='berlin nights')
        expect(card).to_contain_text('30 2 * * * (Europe/Berlin)')
        schedule_id = card.get_attribute('data-schedule')
        with env.api() as api:
            assert api.get(f'/api/schedules/{schedule_id}').json()['timezone'] == 'Europe/Berlin'
            assert api.delete(f'/api/projects/alpha/schedules/{schedule_id}').status_code == 204
    finally:
        context.close()


def test_a_delayed_run_shows_its_time_and_can_be_cancelled(page: Page, env: Stack) -> None:
    page.goto(f'{env.ui_url}/projects/alpha')
    wait_form_ready(page)
    page.get_by_test_id('when').click()
    page.get_by_role('option', name='Run in…').click()
    page.get_by_test_id('run-in').fill('1h')
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    header = page.get_by_test_id('run-header')
    expect(header.locator('[data-status]')).to_have_attribute('data-status', 'delayed')
    expect(header.locator('[data-field=timing]')).to_have_text(re.compile(r'^runs in (59 min|1 h)$'))
    expect(header.get_by_test_id('when-name')).to_have_text('created')  # it has not started
    expect(page.get_by_test_id('output')).to_contain_text('delayed until')  # its timeline says until when
    screenshot(page, 'run-delayed.png')
    run_id = page.url.rsplit('/', 1)[1]
    page.get_by_test_id('cancel').click()
    page.get_by_role('button', name='Cancel run').click()
    expect(header.locator('[data-status]')).to_have_attribute('data-status', 'stopped', timeout=15_000)
    with env.api() as api:
        run = api.get(f'/api/runs/{run_id}').json()
    assert run['started_at'] is None
    assert any('cancelled by local before it was due' in e['text'] for e in run['events'])


def test_a_run_that_waited_past_its_ttl_shows_expired(page: Page, env: Stack) -> None:
    holder = env.trigger('alpha', 'hold').json()  # takes the only run slot
    with env.api() as api:
        deadline = time.monotonic() + 30
        while api.get(f'/api/runs/{holder["id"]}').json()['status'] != 'running':
            assert time.monotonic() < deadline
            time.sleep(0.2)
    try:
        page.goto(f'{env.ui_url}/projects/alpha?branch=feature/x')
        wait_form_ready(page)
        page.get_by_test_id('ttl').fill('2s')
        page.get_by_test_id('run').click()
        page.wait_for_url(re.compile(r'/runs/run_'))
        header = page.get_by_test_id('run-header')
        expect(header.locator('[data-status]')).to_have_attribute('data-status', 'expired', timeout=30_000)
        expect(header).to_contain_text('Queued TTL of 2 s passed before it started')
        expect(header).to_contain_text('waiting for a free run slot (1 of 1 running)')
        screenshot(page, 'run-expired.png')
        page.goto(f'{env.ui_url}/projects/alpha')
        row = page.locator('[data-status=expired]').first
        expect(row.locator('[data-field=not-started]')).to_contain_text('Queued TTL of 2 s passed')
    finally:
        env.stop_active()
