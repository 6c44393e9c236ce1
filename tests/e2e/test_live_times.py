"""Relative times tick in the browser without a server round trip, and each says exactly one thing: the card's
"finished … ago" (counted from the finish), the list row's "… ago", a running run's duration, the card's "next
run in …", and the run page's started/created line (a run that has not started says created). Each past one names
its moment on hover, in the browser's time zone."""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.helpers.e2e import Stack, stack

pytestmark = pytest.mark.e2e

BRANCHES = {
    'main': {'run.sh': '#!/bin/sh\necho done\n'},
    'slow': {'run.sh': '#!/bin/sh\necho working\nsleep 60\n'},
    'hungry': {  # 30 MiB held for a minute
        'run.sh': '#!/bin/sh\n/usr/bin/python3 -c "import time; b = bytes(range(256)) * (30 * 4096); time.sleep(60)"\n'
    },
}

# a moment as an en-US browser says it (`Nov 30, 2026, 5:10:12 AM`; ICU puts a narrow space before AM)
MOMENT = re.compile(r'^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d\d:\d\d\s[AP]M$')


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    with stack(tmp_path_factory.mktemp('live-times'), BRANCHES, RUNBOARD_RATE_LIMIT_RUNS='1000') as s:
        s.create_project('alpha', max_concurrent_runs=10)
        yield s


def wait_for_status(env: Stack, run_id: str, status: str) -> dict:
    deadline = time.monotonic() + 30
    with env.api() as api:
        while (run := api.get(f'/api/runs/{run_id}').json())['status'] != status:
            assert time.monotonic() < deadline, run
            time.sleep(0.2)
    return run


def ticks(locator: Locator, pattern: str) -> None:
    """The element reads exactly `pattern` (one time, not two glued together), then changes by itself."""
    whole = re.compile(rf'^{pattern}$')
    expect(locator).to_have_text(whole, timeout=15_000)
    before = locator.inner_text()
    expect(locator).not_to_have_text(before, timeout=10_000)
    expect(locator).to_have_text(whole)


def test_times_on_cards_rows_and_run_pages_tick_and_say_one_thing(page: Page, env: Stack) -> None:
    slow = env.trigger('alpha', 'slow').json()
    wait_for_status(env, slow['id'], 'running')
    with env.api() as api:
        later = api.post(
            '/api/runs',
            json={
                'project_id': 'alpha',
                'branch': 'main',
                'depth_level': 'shallow',
                'target_framework': 'python',
                'run_in': '1h',
            },
        )
        assert later.status_code == 201, later.text
        schedule = api.post(
            '/api/projects/alpha/schedules',
            json={
                'name': 'hourly',
                'cron': '0 * * * *',
                'timezone': 'UTC',
                'branch': 'main',
                'depth_level': 'shallow',
                'target_framework': 'python',
            },
        )
        assert schedule.status_code == 201, schedule.text
    done = env.trigger('alpha', 'main').json()  # the newest run: the card's last run
    wait_for_status(env, done['id'], 'succeeded')

    page.goto(env.ui_url)
    card = page.locator('[data-project=alpha]')
    # the newest finished run: counted from its finish, and it keeps counting
    ticks(card.locator('[data-field=last-run-time]'), r'finished (\d+ s ago|just now)')
    # (an hourly schedule: in seconds during the last minute before the hour)
    expect(card.locator('[data-field=next-schedule]')).to_have_text(re.compile(r'^next run in \d+ (min|s) · hourly$'))
    row = page.locator(f'[data-run="{slow["id"]}"]')
    ticks(row.locator('[data-field=duration]'), r'\d+:\d\d')

    page.goto(f'{env.ui_url}/runs/{slow["id"]}')
    header = page.get_by_test_id('run-header')
    expect(header.get_by_test_id('when-name')).to_have_text('started')
    ticks(header.locator('[data-field=duration]'), r'\d+:\d\d')

    page.goto(f'{env.ui_url}/runs/{later.json()["id"]}')
    expect(header.locator('[data-status]')).to_have_attribute('data-status', 'delayed')
    expect(header.get_by_test_id('when-name')).to_have_text('created')  # it has not started
    with env.api() as api:
        api.post(f'/api/runs/{slow["id"]}/stop')


def test_a_running_runs_page_follows_what_it_used_so_far(page: Page, env: Stack) -> None:
    """Its cgroup's count at each heartbeat (1 s here), in the header without a reload; the end's figures after."""
    run = env.trigger('alpha', 'hungry').json()
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    used = page.locator('[data-param=resources]')
    so_far = re.compile(r'^peak memory ([3-9]\d|\d{3})\.\d MiB · CPU \d+\.\d\d s so far$')
    expect(used).to_have_text(so_far, timeout=20_000)  # at least the 30 MiB it holds
    with env.api() as api:
        assert api.post(f'/api/runs/{run["id"]}/stop').status_code == 202
    expect(page.get_by_test_id('stop')).to_have_count(0)
    expect(used).to_have_text(re.compile(r'^peak memory ([3-9]\d|\d{3})\.\d MiB · CPU \d+\.\d\d s$'))


def test_the_afk_summarys_loop_events_say_how_long_ago_as_the_pages_other_times(page: Page, env: Stack) -> None:
    """The project page's "AFK in the last 24 hours" lists what happened to the loop as the page's other times read:
    how long ago, ticking in the browser, the exact time on hover; not a full UTC timestamp."""
    env.create_project('looped')
    with env.api() as api:
        assert api.post('/api/afk/auto/looped', json={'enabled': True}).status_code == 200
    page.goto(f'{env.ui_url}/projects/looped')
    event = page.get_by_test_id('afk-summary').locator('[data-field=loop-event]')
    expect(event).to_have_text(re.compile(r'^(\d+ s ago|just now) — auto-loop switched on by \S+$'), timeout=15_000)
    ticks(event.locator('[data-field=loop-event-time]'), r'(\d+ s ago|just now)')
    # the moment on hover, as every relative time of the pages (test_a_relative_time_names_its_moment_on_hover...)
    expect(event.locator('[data-field=loop-event-time]')).to_have_attribute('title', MOMENT)
    with env.api() as api:
        assert api.post('/api/afk/auto/looped', json={'enabled': False}).status_code == 200


def test_a_local_servers_workers_page_leads_to_its_runs_under_way(page: Page, env: Stack) -> None:
    """With RUNBOARD_EXECUTOR=local the server runs every run itself and has no workers to list: the page said only
    that, a dead end for whoever opened it to see what runs now. It links the runs list filtered to running runs."""
    slow = env.trigger('alpha', 'slow').json()
    wait_for_status(env, slow['id'], 'running')
    page.goto(f'{env.ui_url}/workers')
    expect(page.get_by_test_id('capacity')).to_contain_text('it has no workers to list')
    page.get_by_test_id('running-runs').click()
    page.wait_for_url('**/?status=running')
    expect(page.locator(f'[data-run="{slow["id"]}"]')).to_be_visible()
    with env.api() as api:
        api.post(f'/api/runs/{slow["id"]}/stop')


def test_a_relative_time_names_its_moment_on_hover_in_the_browsers_time_zone(browser: Browser, env: Stack) -> None:
    """ "3 d ago" alone cannot tell two runs apart or be matched to a log line's time: a run's row and its page name
    the moment it started on hover, in the browser's own zone and language (as GitHub's relative times do)."""
    run = env.trigger('alpha', 'main').json()
    started = datetime.fromisoformat(wait_for_status(env, run['id'], 'succeeded')['started_at'])
    there = started.astimezone(ZoneInfo('Asia/Kolkata'))  # UTC+5:30: neither the server's zone nor a whole hour off
    moment = re.compile(rf'^{there:%b} {there.day}, {there.year}, {there.hour % 12 or 12}:{there:%M:%S}\s{there:%p}$')
    context = browser.new_context(timezone_id='Asia/Kolkata', locale='en-US', viewport={'width': 1200, 'height': 900})
    try:
        page = context.new_page()
        page.goto(f'{env.ui_url}/projects/alpha')
        expect(page.locator(f'[data-run="{run["id"]}"] [data-field=started]')).to_have_attribute('title', moment)
        page.goto(f'{env.ui_url}/runs/{run["id"]}')
        expect(page.locator('[data-param=started]')).to_have_attribute('title', moment)
    finally:
        context.close()
