"""The runs list in Chromium past its first page: "Load older runs" reads the next page below the oldest
row shown (keyset), keeps the URL's filters, and disappears when nothing older is left."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import screenshot, stack

pytestmark = pytest.mark.e2e
RUNS = 45  # more than two pages of the list (20 shown, then 50 more per click)


def test_load_older_runs_pages_through_every_run_with_the_filters_kept(tmp_path, page: Page) -> None:  # noqa: ANN001
    branches = {'main': {'run.sh': 'echo hi\n'}, **{f'p/{n:02d}': {'f.txt': f'{n}\n'} for n in range(RUNS)}}
    with stack(tmp_path, branches, RUNBOARD_RATE_LIMIT_RUNS='1000', RUNBOARD_GLOBAL_RUN_CAP='0') as env:
        env.create_project('alpha', max_concurrent_runs=100)
        ids = [env.trigger('alpha', f'p/{n:02d}').json()['id'] for n in range(RUNS)]
        page.goto(env.ui_url + '/?status=queued')
        rows = page.locator('[data-testid=runs] [data-run]')
        expect(rows).to_have_count(20)
        expect(rows.first).to_have_attribute('data-run', ids[-1])  # newest first
        expect(page.get_by_test_id('runs-shown')).to_have_text('20 runs shown, older ones below')
        page.get_by_test_id('load-older').click()
        expect(rows).to_have_count(RUNS)
        assert rows.evaluate_all('rows => rows.map(r => r.dataset.run)') == ids[::-1]  # each once, in order
        expect(page.get_by_test_id('load-older')).to_be_hidden()
        expect(page.get_by_test_id('runs-shown')).to_have_text(f'{RUNS} runs shown')
        assert page.url.endswith('/?status=queued')  # the filter stayed
        screenshot(page, 'runs-list-load-older.png')

        newest = env.trigger('alpha', 'main').json()['id']  # a live row on top keeps the loaded ones
        expect(rows.first).to_have_attribute('data-run', newest)
        expect(rows).to_have_count(RUNS + 1)


def test_branch_and_person_filters_narrow_the_list_and_live_in_the_url(tmp_path, page: Page) -> None:  # noqa: ANN001
    branches = {'main': {'run.sh': 'echo hi\n'}, 'feature/a': {'a.txt': 'a\n'}, 'feature/ab': {'b.txt': 'b\n'}}
    with stack(tmp_path, branches, RUNBOARD_RATE_LIMIT_RUNS='1000', RUNBOARD_GLOBAL_RUN_CAP='0') as env:
        env.create_project('alpha', max_concurrent_runs=100)
        wanted = env.trigger('alpha', 'feature/a').json()['id']
        env.trigger('alpha', 'feature/ab')
        env.trigger('alpha', 'main')
        page.goto(env.ui_url + '/')
        rows = page.locator('[data-testid=runs] [data-run]')
        expect(rows).to_have_count(3)
        branch = page.locator('input[data-filter=branch], [data-filter=branch] input').first
        branch.fill('feature/a')
        branch.press('Enter')
        expect(rows).to_have_count(1)  # exact: feature/ab is not feature/a
        expect(rows.first).to_have_attribute('data-run', wanted)
        page.wait_for_url('**/?on=feature%2Fa')
        person = page.locator('input[data-filter=by], [data-filter=by] input').first
        person.fill('nobody')
        person.press('Enter')
        expect(page.get_by_text('No runs match these filters.')).to_be_visible()
        page.goto(env.ui_url + '/?on=feature%2Fa&by=local')  # a shared link opens with the same filters
        expect(rows).to_have_count(1)
        expect(page.locator('input[data-filter=branch], [data-filter=branch] input').first).to_have_value('feature/a')
        newer = env.trigger('alpha', 'feature/a')  # the PR lock: feature/a is busy, so nothing new appears
        assert newer.status_code == 409
