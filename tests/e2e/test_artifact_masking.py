"""The run page in real Chromium shows what a run wrote into its files masked as its log (docs/artifacts.md, "Secrets:
what is masked and what is not"): a run whose failing pytest test prints a project secret has `***` in its summary
above the log and in its Tests tab (the failure's name, message, stack trace and standard output), its log too, and in
the Artifacts tab's previews; the tab says its downloads are the files as the run wrote them."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.artifacts import SECRET, SECRET_SCRIPT, SECRET_TESTS
from tests.helpers.e2e import screenshot, stack

pytestmark = pytest.mark.e2e


def test_the_summary_and_the_tests_tab_show_a_secret_masked(page: Page, tmp_path: Path) -> None:
    venv = Path(sys.prefix).resolve()  # the run's sandbox shows this Python and the virtualenv holding pytest
    shown = ','.join(sorted({str(venv), str(Path(sys.base_prefix).resolve())}))
    branches = {'main': {'run.sh': SECRET_SCRIPT, 'test_login.py': SECRET_TESTS}}
    with stack(tmp_path, branches, RUNBOARD_SANDBOX_READ_ONLY_PATHS=shown) as env:
        env.create_project('masked')
        with env.api() as api:
            assert api.put('/api/projects/masked/secrets/API_TOKEN', json={'value': SECRET}).status_code == 201
            assert api.put('/api/projects/masked/variables/PYTHON', json={'value': str(venv / 'bin' / 'python')})
            run = env.trigger('masked', 'main').json()
            deadline = time.monotonic() + 120
            while (run := api.get(f'/api/runs/{run["id"]}').json())['status'] in ('queued', 'running'):
                assert time.monotonic() < deadline, run
                time.sleep(0.2)
        assert run['status'] == 'failed', run

        page.goto(f'{env.ui_url}/runs/{run["id"]}')
        summary = page.get_by_test_id('summary-body')
        expect(summary.locator('h3')).to_have_text('Deploy')
        expect(summary).to_contain_text('used *** for ***')
        screenshot(page, 'run-summary-masked.png')

        page.get_by_test_id('tab-tests').click()
        failure = page.get_by_test_id('tests-panel').get_by_test_id('test-failure')
        expect(failure).to_have_count(1)
        expect(failure).to_contain_text('test_login[***]')
        expect(failure.locator('[data-field=message]')).to_contain_text('the server refused ***')
        failure.get_by_text('Stack trace').click()
        failure.get_by_text('Standard output').click()
        expect(failure).to_contain_text('logging in with *** as ***')
        screenshot(page, 'run-tests-masked.png')
        page.get_by_test_id('tab-artifacts').click()
        expect(page.get_by_test_id('artifacts-unmasked')).to_contain_text('secrets in them are not masked')
        report = page.get_by_test_id('artifacts-panel').locator('[data-path="junit.xml"]')
        expect(report.get_by_test_id('artifact-text')).to_contain_text('test_login[***]')
        expect(report.locator('[data-field=preview-note]')).to_contain_text('Secrets masked in this preview')
        screenshot(page, 'run-artifacts-masked.png')
        for shown_text in ('summary', 'tests-panel', 'output', 'artifacts-panel'):
            assert SECRET not in page.get_by_test_id(shown_text).inner_html(), shown_text
        download = report.get_by_test_id('artifact-download').get_attribute('href')
        assert SECRET in page.request.get(f'{env.ui_url}{download}').text()  # the file as the run wrote it
