"""The Run form in real Chromium, with faults injected between the UI process and the API by the proxy.
global_run_cap=0 keeps every run queued (active), so locks and limits stay in place while we look."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import BRANCHES, Stack, expect_clipboard, screenshot, stack, wait_form_ready
from tests.helpers.repos import make_repo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    base = tmp_path_factory.mktemp('form')
    with stack(base, RUNBOARD_GLOBAL_RUN_CAP='0', RUNBOARD_RATE_LIMIT_RUNS='1000') as s:
        s.create_project('alpha', max_concurrent_runs=50)
        s.create_project('single', max_concurrent_runs=1, repository=str(make_repo(base / 'repo2', BRANCHES)))
        yield s


@pytest.fixture(autouse=True)
def clean(env: Stack) -> None:
    env.proxy.clear()
    env.stop_active()
    yield
    env.proxy.clear()


def rows(page: Page) -> list[tuple]:
    """The runs list as a person sees it, top to bottom: (run id, status, parameters) per row."""
    return (
        page.get_by_test_id('runs')
        .get_by_role('listitem')
        .evaluate_all(
            """items => items.map(i => [i.dataset.run || 'optimistic', i.dataset.status,
                                   i.querySelector('[data-field=params]').innerText])"""
        )
    )


def open_form(page: Page, env: Stack, project: str = 'alpha') -> None:
    page.goto(f'{env.ui_url}/projects/{project}')
    wait_form_ready(page)
    expect(page.get_by_test_id('runs')).to_have_attribute('data-loaded', 'true')


def word_beside_run(page: Page) -> str:
    """What the CSS draws after the progress text beside Run ('none' when nothing)."""
    return page.get_by_test_id('progress').evaluate("e => getComputedStyle(e, '::after').content")


def choose_branch(page: Page, name: str) -> None:
    page.get_by_test_id('branch').click()
    page.get_by_test_id('branch').fill(name)
    page.get_by_role('option').filter(has_text=name).first.click()
    expect(page.get_by_test_id('branch')).to_have_value(re.compile('^' + re.escape(name)))


def post_keys(env: Stack) -> list[str]:
    return [s.headers.get('idempotency-key') for s in env.proxy.requests('POST', '/api/runs')]


def test_branch_picker_preselects_base_and_filters(page: Page, env: Stack) -> None:
    holder = env.trigger('alpha', 'fix/typo').json()
    open_form(page, env)
    expect(page.get_by_test_id('branch')).to_have_value(re.compile(r'^main\s+\(base\)'))
    # what the chosen branch points to, before Run is pressed
    head = page.get_by_test_id('branch-head')
    expect(head.locator('[data-field=head-sha]')).to_have_text(head_of(env, 'main')[:7])
    expect(head).to_contain_text('committed')
    screenshot(page, 'run-form.png')
    page.get_by_test_id('branch').click()
    page.get_by_test_id('branch').fill('feat')
    options = page.get_by_role('option')
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text('feature/')
    expect(options.nth(1)).to_contain_text('feature/')
    # a run starting on a listed branch marks it live, and the list stays filtered by what was typed (it once
    # showed every branch again, and a click meant for a match landed on another branch)
    marked = env.trigger('alpha', 'feature/search').json()
    expect(options.filter(has_text=f'busy: {marked["id"]}')).to_have_count(1)
    expect(options).to_have_count(2)
    page.get_by_test_id('branch').fill('typo')
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text(f'busy: {holder["id"]}')  # an active run holds fix/typo


def head_of(env: Stack, branch: str) -> str:
    return subprocess.run(
        ['git', 'rev-parse', branch], cwd=env.repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_successful_submit_lands_on_timeline(page: Page, env: Stack) -> None:
    open_form(page, env)
    choose_branch(page, 'feature/login')
    expected = head_of(env, 'feature/login')
    expect(page.get_by_test_id('branch-head').locator('[data-field=head-sha]')).to_have_text(expected[:7])
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    run_id = page.url.rsplit('/', 1)[1]
    expect(page.get_by_test_id('run-header')).to_contain_text(run_id)
    expect(page.locator('[data-param=branch]')).to_have_text('feature/login')
    expect(page.get_by_test_id('output')).to_contain_text('queued')
    assert [r['id'] for r in env.runs('alpha') if r['branch_name'] == 'feature/login'][:1] == [run_id]
    with env.api() as api:
        assert api.get(f'/api/runs/{run_id}').json()['commit_sha'] == expected  # the head the form showed


def test_variables_typed_in_the_form_reach_the_run_and_its_page(page: Page, env: Stack) -> None:
    open_form(page, env)
    choose_branch(page, 'feature/login')
    variables = page.get_by_test_id('variables')
    variables.fill('oops')
    page.get_by_test_id('run').click()
    expect(page.get_by_text('line 1: write NAME=value')).to_be_visible()  # said at the field, nothing sent
    expect(page.locator('[data-optimistic]')).to_have_count(0)
    variables.fill('TARGET=staging\nGREETING=hello world')
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    run_id = page.url.rsplit('/', 1)[1]
    shown = page.get_by_test_id('run-variables').locator('[data-field=variable]')
    expect(shown).to_have_text(['GREETING=hello world', 'TARGET=staging'])
    with env.api() as api:
        assert api.get(f'/api/runs/{run_id}').json()['variables'] == {'GREETING': 'hello world', 'TARGET': 'staging'}

    # Run again (any ended run, a succeeded one too): the form filled in like it, variables in the address
    expect(page.get_by_test_id('run-again')).to_have_count(0)  # runs here stay queued: not ended yet
    env.stop_active()
    page.get_by_test_id('run-again').click()  # shown as soon as it has ended
    page.wait_for_url(re.compile(r'/projects/alpha\?branch=feature%2Flogin&.*var%5BTARGET%5D=staging'))
    wait_form_ready(page)
    expect(page.get_by_test_id('branch')).to_have_value(re.compile('^feature/login'))
    expect(page.get_by_test_id('variables')).to_have_value('GREETING=hello world\nTARGET=staging')
    page.get_by_test_id('variables').fill('TARGET=again')
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    again_id = page.url.rsplit('/', 1)[1]
    assert again_id != run_id
    expect(page.get_by_test_id('run-variables').locator('[data-field=variable]')).to_have_text(['TARGET=again'])
    with env.api() as api:
        again = api.get(f'/api/runs/{again_id}').json()
    assert (again['kind'], again['retry_of'], again['branch_name']) == ('manual', None, 'feature/login')


def test_optimistic_row_shows_before_the_answer_then_becomes_the_run(page: Page, env: Stack) -> None:
    env.trigger('alpha', 'fix/typo')  # something already in the list
    open_form(page, env)
    before = rows(page)
    # the answer is held long enough for the run's live event to reach the list first, on a loaded machine too
    env.proxy.add_rule('POST', '/api/runs', 'delay', seconds=5)
    page.get_by_test_id('run').click()
    optimistic = page.locator('[data-optimistic]')
    expect(optimistic).to_be_visible()
    expect(optimistic).to_contain_text('Submitting…')
    # the browser's copy shows first (it is no list item); then the server's own row takes its place
    expect(page.get_by_test_id('runs').get_by_role('listitem')).to_have_count(len(before) + 1)
    assert rows(page)[0][0] == 'optimistic' and rows(page)[1:] == before  # on top of the list as it was
    page.wait_for_url(re.compile(r'/runs/run_'))
    run_id = page.url.rsplit('/', 1)[1]
    page.go_back()
    expect(page.locator(f'[data-run={run_id}]')).to_have_count(1)
    expect(page.locator('[data-optimistic]')).to_have_count(0)


def test_submitting_row_shows_before_the_server_hears_the_click(page: Page, env: Stack) -> None:
    """The browser draws the `Submitting…` row itself: held here, the click has not reached the UI server."""
    held: list = []
    route = {}

    def intercept(ws) -> None:  # noqa: ANN001 - a Playwright WebSocketRoute
        server = ws.connect_to_server()
        route['server'] = server
        ws.on_message(lambda message: held.append(message) if route.get('hold') else server.send(message))

    page.route_web_socket(re.compile(r'/_nicegui_ws/'), intercept)
    env.trigger('alpha', 'fix/typo')
    open_form(page, env)
    choose_branch(page, 'feature/login')
    # the server redraws the hidden copy for the new branch; a click before that redraw lands would unhide the
    # old copy, which the redraw then replaces
    expect(page.locator('.rb-instant')).to_contain_text('feature/login · shallow · python · manual')
    before = rows(page)
    route['hold'] = True
    page.get_by_test_id('run').click()
    shown = page.locator('[data-optimistic]')
    expect(shown).to_be_visible()
    expect(shown).to_contain_text('Submitting…')
    expect(shown).to_contain_text('feature/login · shallow · python · manual')
    expect(page.get_by_test_id('progress')).to_be_in_viewport()  # beside Run, in view where the row may not be
    assert word_beside_run(page) == '"Submitting…"'
    page.wait_for_timeout(500)
    assert any('event' in str(m) for m in held)  # the click is still on its way
    assert len(env.runs('alpha')) == len(before)
    env.proxy.add_rule('POST', '/api/runs', 'delay', seconds=2)
    route['hold'] = False
    for message in held:
        route['server'].send(message)
    expect(page.get_by_test_id('progress')).to_have_text('Submitting…')  # the server has it now
    assert word_beside_run(page) == 'none'  # the word once, not twice
    expect(page.get_by_test_id('runs').get_by_role('listitem')).to_have_count(len(before) + 1)  # the server's row
    expect(shown).to_have_count(1)  # its own row took the place of the browser's: never both
    assert rows(page)[0][0] == 'optimistic' and rows(page)[1:] == before
    page.wait_for_url(re.compile(r'/runs/run_'))


def test_a_click_the_server_declines_leaves_no_submitting_row(page: Page, env: Stack) -> None:
    open_form(page, env)
    before = rows(page)
    page.get_by_test_id('when').click()
    page.get_by_role('option', name='Run in…').click()  # ... and no time given
    page.get_by_test_id('run').click()
    expect(page.get_by_text('Say in how long')).to_be_visible()
    expect(page.locator('[data-optimistic]')).to_have_count(0)
    assert word_beside_run(page) == 'none'  # nor a `Submitting…` beside Run
    assert rows(page) == before
    page.get_by_test_id('run-in').fill('1h')
    page.get_by_test_id('run').click()  # the next click shows the row again
    page.wait_for_url(re.compile(r'/runs/run_'))


def test_rollback_on_500_restores_the_prior_list_with_live_updates(page: Page, env: Stack) -> None:
    first = env.trigger('alpha', 'fix/typo').json()
    second = env.trigger('alpha', 'feature/search').json()
    open_form(page, env)
    before = rows(page)
    assert len(before) >= 2
    env.proxy.add_rule('POST', '/api/runs', 'fail500', seconds=2.5)
    page.get_by_test_id('run').click()
    expect(page.locator('[data-optimistic]')).to_be_visible()
    with env.api() as api:  # a live change while the submit is in flight
        assert api.post(f'/api/runs/{first["id"]}/stop').status_code == 202
    expect(page.get_by_test_id('failure')).to_be_visible(timeout=20_000)
    expect(page.locator('[data-optimistic]')).to_have_count(0)
    expect(page.locator(f'[data-run={first["id"]}]')).to_have_attribute('data-status', 'stopped')
    after = rows(page)
    assert [[i, 'queued' if i == first['id'] else status, params] for i, status, params in after] == before
    assert page.locator(f'[data-run={second["id"]}]').get_attribute('data-status') == 'queued'
    expect(page.get_by_test_id('failure')).to_contain_text('HTTP 500')
    chip = page.get_by_test_id('failure').locator('[data-correlation-id]')
    correlation_id = chip.get_attribute('data-correlation-id')
    assert correlation_id and correlation_id in chip.inner_text()
    chip.click()  # copies the id
    expect_clipboard(page, correlation_id)
    expect(page.get_by_test_id('run')).to_be_enabled()


def test_rollback_on_dropped_connection(page: Page, env: Stack) -> None:
    env.trigger('alpha', 'fix/typo')
    open_form(page, env)
    before = rows(page)
    runs_before = len(env.runs('alpha'))
    env.proxy.add_rule('POST', '/api/runs', 'drop', times=None, seconds=0.5)
    page.get_by_test_id('run').click()
    expect(page.locator('[data-optimistic]')).to_be_visible()
    expect(page.get_by_test_id('failure')).to_have_attribute('data-failure', 'network', timeout=20_000)
    expect(page.locator('[data-optimistic]')).to_have_count(0)
    assert rows(page) == before
    keys = post_keys(env)
    assert len(keys) >= 2 and len(set(keys)) == 1  # automatic retries reused the key
    assert len(env.runs('alpha')) == runs_before


def test_retry_after_dropped_reply_reuses_the_key_and_lands_on_the_same_run(page: Page, env: Stack) -> None:
    open_form(page, env)
    choose_branch(page, 'feature/search')
    runs_before = len(env.runs('alpha'))
    # the server creates the run but the answer never arrives, for the first attempt and its automatic retries
    env.proxy.add_rule('POST', '/api/runs', 'drop_reply', times=3)
    page.get_by_test_id('run').click()
    expect(page.get_by_test_id('failure')).to_have_attribute('data-failure', 'network', timeout=20_000)
    page.get_by_test_id('run').click()  # the person presses Run again
    page.wait_for_url(re.compile(r'/runs/run_'))
    run_id = page.url.rsplit('/', 1)[1]
    keys = post_keys(env)
    assert len(keys) == 4 and len(set(keys)) == 1
    created = [r for r in env.runs('alpha') if r['branch_name'] == 'feature/search' and r['status'] == 'queued']
    assert len(env.runs('alpha')) == runs_before + 1
    assert [r['id'] for r in created] == [run_id]
    page.goto(f'{env.ui_url}/projects/alpha')
    expect(page.locator(f'[data-run={run_id}]')).to_have_count(1)
    expect(page.locator('[data-run]')).to_have_count(runs_before + 1)


def test_409_concurrency_limit_message_links_the_active_runs(page: Page, env: Stack) -> None:
    blocker = env.trigger('single', 'main').json()
    open_form(page, env, 'single')
    choose_branch(page, 'feature/login')
    page.get_by_test_id('run').click()
    failure = page.get_by_test_id('failure')
    expect(failure).to_contain_text(
        'This repository is at maximum concurrency. Wait for an active run to complete and retry.'
    )
    expect(failure.locator(f'a[data-blocking={blocker["id"]}]')).to_have_attribute('href', f'/runs/{blocker["id"]}')
    expect(failure.locator('[data-correlation-id]')).to_contain_text('HTTP 409')
    expect(page.locator('[data-optimistic]')).to_have_count(0)


def test_409_pr_lock_names_the_cause_and_links_the_holder(page: Page, env: Stack) -> None:
    holder = env.trigger('alpha', 'feature/search').json()
    open_form(page, env)
    busy = page.get_by_test_id('branch-busy')
    expect(busy).to_be_hidden()  # main is free
    choose_branch(page, 'feature/search')
    # said before the click, whole (the picker's own "busy: run_…" is cut at the box's edge)
    expect(busy).to_have_text(f'Busy:{holder["id"]}holds feature/search; Run is refused until it ends.')
    expect(busy.locator(f'a[data-holder={holder["id"]}]')).to_have_attribute('href', f'/runs/{holder["id"]}')
    page.get_by_test_id('run').click()
    failure = page.get_by_test_id('failure')
    expect(failure).to_contain_text('pr_lock contention')
    expect(failure.locator(f'a[data-blocking={holder["id"]}]')).to_be_visible()
    with env.api() as api:  # the holder ends: the banner stops calling it active
        api.post(f'/api/runs/{holder["id"]}/stop')
    expect(failure).to_contain_text(f'{holder["id"]} has ended (stopped): Run may go ahead now.')
    expect(failure.locator(f'a[data-blocking={holder["id"]}]')).to_have_count(0)
    expect(busy).to_be_hidden()  # the branch is free again, live


def test_status_change_appears_without_reload(page: Page, env: Stack) -> None:
    page.goto(env.ui_url + '/')
    expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')  # its event stream is open
    run = env.trigger('alpha', 'feature/login').json()
    row = page.locator(f'[data-run={run["id"]}]')
    expect(row).to_have_attribute('data-status', 'queued')
    with env.api() as api:
        api.post(f'/api/runs/{run["id"]}/stop')
    expect(row).to_have_attribute('data-status', 'stopped')
    expect(row.get_by_role('button', name=re.compile('Retry'))).to_be_visible()


def test_form_works_at_360px_by_keyboard_with_44px_targets_and_dark_mode(browser, env: Stack) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={'width': 360, 'height': 800}, color_scheme='dark', has_touch=True)
    page = context.new_page()
    try:
        open_form(page, env)
        assert page.evaluate('document.documentElement.scrollWidth') <= 360  # nothing off-screen sideways
        assert page.evaluate("document.body.classList.contains('body--dark')")  # follows the system
        for name in ('run', 'reset'):
            box = page.get_by_test_id(name).bounding_box()
            assert box['height'] >= 44 and box['width'] >= 44
        screenshot(page, 'run-form-360-dark.png')
        page.get_by_test_id('run').focus()
        page.keyboard.press('Enter')
        page.wait_for_url(re.compile(r'/runs/run_'))
        expect(page.get_by_test_id('run-header')).to_be_visible()
    finally:
        context.close()


def test_filters_live_in_the_url_and_stop_asks_to_confirm(page: Page, env: Stack) -> None:
    stopped = env.trigger('alpha', 'fix/typo').json()
    with env.api() as api:
        api.post(f'/api/runs/{stopped["id"]}/stop')
    queued = env.trigger('alpha', 'feature/login').json()
    page.goto(f'{env.ui_url}/?status=queued')
    expect(page.get_by_test_id('runs')).to_have_attribute('data-loaded', 'true')
    expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')
    expect(page.locator(f'[data-run={queued["id"]}]')).to_be_visible()
    expect(page.locator(f'[data-run={stopped["id"]}]')).to_have_count(0)
    page.locator('[data-filter=kind]').click()
    page.get_by_role('option', name='manual', exact=True).click()
    page.wait_for_url(re.compile(r'/\?status=queued&kind=manual$'))
    row = page.locator(f'[data-run={queued["id"]}]')
    row.get_by_role('button', name=re.compile('Stop')).click()
    dialog = page.get_by_role('alertdialog')
    dialog.get_by_role('button', name='Cancel').click()
    expect(row).to_have_attribute('data-status', 'queued')
    row.get_by_role('button', name=re.compile('Stop')).click()
    page.get_by_role('alertdialog').get_by_role('button', name='Stop run').click()
    expect(row).to_have_count(0)  # stopped: no longer matches status=queued
    page.reload()
    expect(page.locator('[data-filter=status]')).to_contain_text('queued')


def test_run_again_after_an_error_reuses_the_key_and_reset_mints_a_new_one(page: Page, env: Stack) -> None:
    open_form(page, env)
    env.proxy.add_rule('POST', '/api/runs', 'fail500', times=2)
    page.get_by_test_id('run').click()
    expect(page.get_by_test_id('failure')).to_contain_text('HTTP 500')
    page.get_by_test_id('run').click()  # pressing Run again after the error
    deadline = time.monotonic() + 15
    while len(post_keys(env)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    expect(page.get_by_test_id('failure')).to_contain_text('HTTP 500')
    expect(page.get_by_test_id('run')).to_be_enabled()
    page.get_by_test_id('reset').click()
    expect(page.get_by_test_id('failure')).to_have_count(0)
    page.get_by_test_id('run').click()
    page.wait_for_url(re.compile(r'/runs/run_'))
    first, again, after_reset = post_keys(env)
    assert first == again and after_reset != first
