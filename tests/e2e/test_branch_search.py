"""A repository with more branches than the picker holds: typing asks the server for the matches, so a
branch far down the list can be found and run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.helpers.repos import add_branches, make_repo
from tests.helpers.runs import create_project
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e


def test_picker_finds_a_branch_beyond_the_first_hundred(tmp_path: Path, browser) -> None:  # noqa: ANN001
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': 'echo hi\n'}})
    add_branches(repo, 1500, prefix='topic/')
    data = tmp_path / 'data'
    with app_process(data, env={'RUNBOARD_DEMO': 'false', 'RUNBOARD_GLOBAL_RUN_CAP': '0'}) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        api = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
        create_project(api, repo, project_id='big')
        first_page = [b['name'] for b in api.get('/api/projects/big/branches').json()]
        assert len(first_page) == 100 and 'topic/1234' not in first_page
        context = browser.new_context(viewport={'width': 1000, 'height': 800})
        try:
            page = context.new_page()
            page.goto(app['url'] + '/projects/big')
            picker = page.get_by_test_id('branch')
            expect(picker).to_have_value(re.compile(r'^main\s+\(base\)'))
            picker.click()
            picker.fill('topic/1234')
            option = page.get_by_role('option', name='topic/1234', exact=True)
            expect(option).to_be_visible(timeout=10_000)
            option.click()
            page.get_by_test_id('run').click()
            expect(page).to_have_url(re.compile(r'/runs/run_'), timeout=15_000)
            assert api.get('/api/runs').json()['items'][0]['branch_name'] == 'topic/1234'
        finally:
            context.close()


def test_typing_a_branch_then_enter_or_tab_runs_that_branch(tmp_path: Path, browser) -> None:  # noqa: ANN001
    """From the keyboard, as GitHub's branch picker works: the text typed and Enter (or Tab away) takes the branch it
    names or the first that matches, never the base branch left in place; a text no branch matches says so."""
    repo = make_repo(
        tmp_path / 'repo',
        {'main': {'run.sh': 'echo hi\n'}, 'fix/flaky-test': {'run.sh': 'echo fix\n'}, 'feature/login': {'a': '1'}},
    )
    data = tmp_path / 'data'
    with app_process(data, env={'RUNBOARD_DEMO': 'false', 'RUNBOARD_GLOBAL_RUN_CAP': '0'}) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        api = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
        create_project(api, repo, project_id='keys')
        context = browser.new_context(viewport={'width': 1000, 'height': 800})
        try:
            page = context.new_page()
            page.goto(app['url'] + '/projects/keys')
            expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')  # the page is connected
            picker = page.get_by_test_id('branch')
            expect(picker).to_have_value(re.compile(r'^main\s+\(base\)'))
            picker.click()
            picker.press_sequentially('LOGIN')
            picker.press('Tab')  # the first (only) match, in any case
            expect(picker).to_have_value('feature/login')
            picker.click()
            picker.press_sequentially('nothing-like-it')
            picker.press('Enter')
            said = 'No branch matches "nothing-like-it": feature/login is still chosen'
            expect(page.get_by_text(said)).to_be_visible()
            picker.click()
            picker.press('Control+a')  # the text that matched nothing is still there to correct
            picker.press_sequentially('flaky')
            picker.press('Enter')
            expect(picker).to_have_value('fix/flaky-test')
            page.get_by_test_id('run').click()
            expect(page).to_have_url(re.compile(r'/runs/run_'), timeout=15_000)
            assert api.get('/api/runs').json()['items'][0]['branch_name'] == 'fix/flaky-test'
        finally:
            context.close()
