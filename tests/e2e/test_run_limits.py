"""Quota banners and the 429 countdown in real Chromium: a small sliding window (10 runs per 20 s) that the
test fills through the API, as another client of the same user would. The window is 20 s, not less: on a busy
machine filling it takes seconds, and the 429's banner must still be up while the test reads it."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import Stack, screenshot, stack

pytestmark = pytest.mark.e2e
LIMIT, WINDOW = 10, 20


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    with stack(
        tmp_path_factory.mktemp('limits'),
        RUNBOARD_GLOBAL_RUN_CAP='0',
        RUNBOARD_RATE_LIMIT_RUNS=str(LIMIT),
        RUNBOARD_RATE_LIMIT_WINDOW_SECONDS=str(WINDOW),
    ) as s:
        s.create_project('alpha', max_concurrent_runs=50)
        yield s


@pytest.fixture(autouse=True)
def full_quota(env: Stack) -> None:
    """Each test starts with the whole window free."""
    env.stop_active()
    deadline = time.monotonic() + WINDOW * 3
    while env.quota()['remaining'] < LIMIT:
        assert time.monotonic() < deadline, env.quota()
        time.sleep(0.25)


def use_quota(env: Stack, count: int) -> list[str]:
    ids = []
    for i in range(count):
        reply = env.trigger('alpha', f'quota/b{i}')
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()['id'])
    env.stop_active()  # frees the branches; the quota stays used
    return ids


def open_form(page: Page, env: Stack) -> None:
    page.goto(f'{env.ui_url}/projects/alpha')
    expect(page.get_by_test_id('runs')).to_have_attribute('data-loaded', 'true')
    expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')


def countdown(page: Page) -> int:
    text = page.get_by_test_id('rate-countdown').inner_text()
    match = re.search(r'(?:(\d+):)?(\d+)(?: s)?\.$', text)
    assert match, text
    return int(match.group(1) or 0) * 60 + int(match.group(2))


def test_amber_banner_when_close_to_the_limit_keeps_run_active(page: Page, env: Stack) -> None:
    use_quota(env, LIMIT - 1)
    open_form(page, env)
    amber = page.get_by_test_id('quota-amber')
    expect(amber).to_contain_text('You are close to your run limit. 1 run remaining in the current window (resets at ')
    expect(page.get_by_test_id('run')).to_be_enabled()


def test_red_banner_at_zero_disables_run_before_any_submit(page: Page, env: Stack) -> None:
    use_quota(env, LIMIT)
    open_form(page, env)
    expect(page.get_by_test_id('quota-red')).to_contain_text('Quota exhausted — next window opens in')
    expect(page.get_by_test_id('run')).to_be_disabled()
    expect(page.get_by_test_id('run-reason')).to_contain_text('quota exhausted')
    # the window slides by and Run comes back without a reload
    expect(page.get_by_test_id('run')).to_be_enabled(timeout=(WINDOW + 6) * 1000)
    expect(page.get_by_test_id('quota-red')).to_have_count(0)


def test_429_rolls_back_counts_down_and_re_enables_run(page: Page, env: Stack) -> None:
    open_form(page, env)
    expect(page.get_by_test_id('run')).to_be_enabled()
    other = use_quota(env, LIMIT)[-1]  # another client of the same user uses the whole window meanwhile
    page.get_by_test_id('run').click()
    banner = page.get_by_test_id('rate-banner')
    expect(banner).to_be_visible()
    expect(banner.locator('[data-correlation-id]')).to_contain_text('HTTP 429')
    expect(page.locator('[data-optimistic]')).to_have_count(0)
    expect(page.locator(f'[data-run={other}]')).to_have_count(1)  # the other client's runs arrived, live
    run = page.get_by_test_id('run')
    expect(run).to_be_disabled()
    expect(run).to_have_attribute('aria-describedby', 'rb-run-reason')
    expect(page.get_by_test_id('run-reason')).to_contain_text('run limit reached')
    # the disabled Run is still a keyboard stop, named with its reason (a screen reader says why)
    unavailable = page.get_by_role('button', name=re.compile(r'^Run \(unavailable: .*run limit reached'))
    expect(unavailable).to_have_attribute('tabindex', '0')
    expect(unavailable).to_have_attribute('aria-disabled', 'true')
    screenshot(page, 'rate-limited-429.png')
    first = countdown(page)
    page.wait_for_timeout(2100)
    assert countdown(page) < first
    expect(run).to_be_enabled(timeout=(WINDOW + 6) * 1000)
    expect(banner).to_have_count(0)
