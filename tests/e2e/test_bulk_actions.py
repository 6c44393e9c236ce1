"""Bulk Stop and Retry in Chromium: pick rows or "all matching these filters", one action, and each row says
what happened to it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import screenshot, stack

pytestmark = pytest.mark.e2e
BRANCHES = {'main': {'run.sh': 'exit 1\n'}, **{f'q/{n}': {'f.txt': f'{n}\n'} for n in range(6)}}


def test_select_rows_then_all_matching_stop_and_retry_with_per_row_outcomes(tmp_path, page: Page) -> None:  # noqa: ANN001
    with stack(tmp_path, BRANCHES, RUNBOARD_GLOBAL_RUN_CAP='0', RUNBOARD_RATE_LIMIT_RUNS='1000') as env:
        env.create_project('alpha', max_concurrent_runs=50)
        made = [env.trigger('alpha', f'q/{n}').json()['id'] for n in range(6)]
        page.goto(env.ui_url + '/?status=queued')
        runs = page.get_by_test_id('runs')
        expect(runs).to_have_attribute('data-live', 'true')
        page.get_by_test_id('bulk-select').click()
        page.locator(f'[data-pick={made[0]}]').click()
        page.locator(f'[data-pick={made[1]}]').click()
        expect(page.get_by_test_id('bulk-count')).to_have_text('2 runs selected')
        page.get_by_test_id('bulk-stop').click()
        page.get_by_role('alertdialog').get_by_role('button', name='Stop').click()
        expect(page.get_by_test_id('bulk-summary')).to_have_text('2 stop requested, 0 skipped, 0 refused')
        for run_id in made[:2]:  # stopped: they leave the status=queued list
            expect(runs.locator(f'[role=listitem][data-run={run_id}]')).to_have_count(0)

        page.get_by_test_id('bulk-all').click()  # still selecting: now the whole filter
        expect(page.get_by_test_id('bulk-count')).to_have_text('All runs matching these filters')
        page.get_by_test_id('bulk-stop').click()
        page.get_by_role('alertdialog').get_by_role('button', name='Stop').click()
        expect(page.get_by_test_id('bulk-summary')).to_have_text('4 stop requested, 0 skipped, 0 refused')
        expect(runs.locator('[role=listitem][data-run]')).to_have_count(0)
        assert {r['status'] for r in env.runs('alpha')} == {'stopped'}

        page.goto(env.ui_url + '/?status=stopped')  # retry them all: each follows the rules of a retry
        expect(runs).to_have_attribute('data-live', 'true')
        page.get_by_test_id('bulk-select').click()
        page.get_by_test_id('bulk-all').click()
        page.get_by_test_id('bulk-retry').click()
        page.get_by_role('alertdialog').get_by_role('button', name='Retry').click()
        expect(page.get_by_test_id('bulk-summary')).to_have_text('6 retried, 0 skipped, 0 refused')
        outcome = runs.locator(f'[role=listitem][data-run={made[0]}] [data-bulk-outcome=done]')
        expect(outcome).to_contain_text('retried as run_')
        screenshot(page, 'runs-bulk-retry.png')
        assert len([r for r in env.runs('alpha') if r['kind'] == 'retry']) == 6
