"""A project whose command always fails, auto switched on from its card, pauses itself at three
failures and says so on its card and on its project page (live, in another tab); Reset from the project page's AFK
menu, once confirmed in a dialog that says what it will do (Cancel changes nothing), re-arms it and the next sweep
launches; so does the card's plain HTML Reset form, with the same confirmation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.helpers.axe import axe_violations, by_rule
from tests.helpers.e2e import screenshot
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project, trigger, wait_for_status
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e


def _auto_runs(api: httpx.Client) -> list[dict]:
    return api.get('/api/runs', params={'project': 'flaky', 'kind': 'auto', 'limit': 100}).json()['items']


def _wait_for_issue(api: httpx.Client, number: int) -> None:
    deadline = time.monotonic() + 30
    while not any(r['issue_number'] == number for r in _auto_runs(api)):
        assert time.monotonic() < deadline, f'no AFK run on issue {number} after Reset'
        time.sleep(0.1)


def test_failing_project_pauses_on_its_card_and_reset_rearms_it(tmp_path: Path, browser: Browser) -> None:
    data = tmp_path / 'data'
    data.mkdir()
    # issues 4 to 6 fail after two seconds: the second pause comes well after the Reset's page and card were seen
    # following it (at once, the loop's three failures paused it again before the card was looked at)
    fails = '#!/bin/sh\n[ "${RUNBOARD_ISSUE_NUMBER:-0}" -ge 4 ] && sleep 2\necho "tests: 3 failed" >&2\nexit 1\n'
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': fails}})
    env = {'RUNBOARD_AFK_SWEEP_SECONDS': '0.5', 'RUNBOARD_DEMO': 'false', 'RUNBOARD_HEARTBEAT_SECONDS': '1'}
    with app_process(data, env=env) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        api = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
        create_project(api, repo, project_id='flaky')
        for n in range(9):
            assert (
                api.post(
                    '/api/projects/flaky/issues', json={'title': f'Task {n + 1}', 'labels': ['ready-for-agent']}
                ).status_code
                == 201
            )
        # the session's Chromium (a second sync Playwright in this process would fail once the first exists)
        page = browser.new_page(viewport={'width': 1200, 'height': 900})
        project_tab = browser.new_page(viewport={'width': 390, 'height': 844})  # another tab, a phone's width
        try:
            page.goto(app['url'] + '/')
            card = page.locator('[data-project=flaky]')
            expect(card).to_be_visible(timeout=20_000)
            expect(card.locator('[data-auto=off]')).to_be_visible()

            card.get_by_role('button', name='Project actions').click()
            menu = page.locator('.q-menu')
            expect(menu.get_by_text('Start AFK run (9 ready)')).to_be_visible()
            menu.get_by_text('Auto AFK runs: Off').click()
            expect(card.locator('[data-auto=on]')).to_be_visible(timeout=5_000)

            # by itself: three failed AFK runs, then the card says it is paused, with the causes
            banner = card.locator('[data-paused-banner]')
            expect(banner.get_by_text('Auto paused · 3 fails')).to_be_visible(timeout=60_000)
            expect(banner.get_by_text('exit code 1')).to_have_count(3)
            expect(card.get_by_role('button', name='Parked (3)')).to_be_visible()
            # a pipeline run of the project failing since is not among the pause's causes: only AFK runs count
            pipeline = wait_for_status(api, trigger(api, 'flaky').json()['id'])
            assert pipeline['status'] == 'failed' and pipeline['kind'] == 'manual'
            page.reload()
            expect(banner.get_by_text('exit code 1')).to_have_count(3)
            expect(banner).not_to_contain_text('main: failed')
            runs = _auto_runs(api)
            assert sorted(r['issue_number'] for r in runs) == [1, 2, 3]
            assert all(r['status'] == 'failed' for r in runs)
            time.sleep(2)  # four sweep periods with auto still on: nothing more is launched
            assert len(_auto_runs(api)) == 3
            assert api.get('/api/projects/flaky').json()['auto_enabled'] is True

            card.get_by_role('button', name='Project actions').click()
            expect(menu.get_by_text('Auto paused · 3 fails')).to_be_visible()
            page.keyboard.press('Escape')

            # the project page (where a person lands from a run) has the card's AFK controls and states
            project_tab.goto(app['url'] + '/projects/flaky')
            afk = project_tab.locator('[data-testid=afk-controls]')
            page_banner = afk.locator('[data-paused-banner]')
            expect(page_banner.get_by_text('Auto paused · 3 fails')).to_be_visible()
            expect(page_banner.get_by_text('exit code 1')).to_have_count(3)
            expect(afk.get_by_role('button', name='Parked (3)')).to_be_visible()
            # Reset asks first, saying what will happen; Cancel has the focus and changes nothing
            afk.get_by_role('button', name='AFK actions').click()
            project_tab.locator('.q-menu').get_by_text('Reset', exact=True).click()
            dialog = project_tab.get_by_role('alertdialog')
            expect(dialog).to_contain_text(
                'Resume the AFK loop for Flaky? It will start on the 6 ready issues; the failure count goes back to 0.'
            )
            expect(dialog.get_by_role('button', name='Cancel')).to_be_focused()
            screenshot(project_tab, 'afk-reset-confirmation.png')
            found = axe_violations(project_tab, 'afk-reset-confirmation')
            assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)
            project_tab.keyboard.press('Enter')  # on Cancel
            expect(dialog).to_be_hidden()
            assert api.get('/api/projects/flaky').json()['consecutive_failures'] == 3
            expect(page_banner.get_by_text('Auto paused · 3 fails')).to_be_visible()
            afk.get_by_role('button', name='AFK actions').click()
            project_tab.locator('.q-menu').get_by_text('Reset', exact=True).click()
            dialog.get_by_role('button', name='Reset').click()
            expect(page_banner).to_be_hidden(timeout=5_000)
            expect(banner).to_be_hidden(timeout=5_000)  # the card, in the other tab, follows
            _wait_for_issue(api, 4)

            # it fails on 4, 5, 6 and pauses again (the project page follows); this time Reset through the card's
            # plain HTML form, which a page connected to its server answers with the same confirmation
            expect(banner.get_by_text('Auto paused · 3 fails')).to_be_visible(timeout=60_000)
            expect(page_banner.get_by_text('Auto paused · 3 fails')).to_be_visible(timeout=5_000)
            # the page's summary of the last 24 hours follows too, without a reload
            summary = project_tab.locator('[data-testid=afk-summary]')
            expect(summary.locator('[data-field=summary-runs]')).to_contain_text('6 AFK runs: 6 failed', timeout=10_000)
            expect(summary.locator('[data-field=loop-state]')).to_contain_text(
                'paused after 3 consecutive AFK failures'
            )
            expect(summary.locator('[data-field=loop-event]').filter(has_text='reset by')).to_have_count(1)
            form_button = card.locator('[data-reset-form=flaky]')
            expect(form_button).to_be_visible()
            form_button.click()
            card_dialog = page.get_by_role('alertdialog')
            expect(card_dialog).to_contain_text('Resume the AFK loop for Flaky? It will start on the 3 ready issues')
            card_dialog.get_by_role('button', name='Reset').click()
            expect(page.locator('[data-project=flaky] [data-paused-banner]')).to_be_hidden(timeout=10_000)
            expect(page_banner).to_be_hidden(timeout=5_000)
            _wait_for_issue(api, 7)

            # an ended AFK run's page: no pull request and no changes, said without a "yet" that will not come
            page.goto(app['url'] + f'/runs/{runs[0]["id"]}')
            expect(page.locator('[data-field=pr-none]')).to_have_text('none')
            expect(page.locator('[data-field=diff-none]')).to_have_text('no branch with changes')
        finally:
            project_tab.close()
            page.close()  # and its own context with it
            api.close()
