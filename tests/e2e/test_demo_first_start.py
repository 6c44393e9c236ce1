"""First start as a person sees it: `python main.py` on an empty data dir shows the demo project;
a run started from the browser streams its output live and ends as the demo script decides."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import wait_form_ready
from tests.helpers.runs import wait_for_status
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e


def test_demo_project_runs_from_the_browser_and_both_outcomes_happen(page: Page, tmp_path) -> None:  # noqa: ANN001
    data = tmp_path / 'data'
    with app_process(data) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        # a project variable reaches the demo script (the server's own environment never does): less waiting
        httpx.put(
            app['url'] + '/api/projects/demo/variables/DEMO_PACE',
            json={'value': '0.2'},
            headers={'Authorization': f'Bearer {token}'},
        ).raise_for_status()
        page.goto(app['url'] + '/')
        card = page.locator('[data-project=demo]')
        expect(card).to_contain_text('Demo pipeline')
        page.goto(app['url'] + '/projects/demo')
        expect(page.get_by_test_id('branch')).to_have_value(re.compile('^main'))
        wait_form_ready(page)
        page.get_by_test_id('run').click()
        page.wait_for_url(re.compile(r'/runs/run_'))
        output = page.get_by_test_id('output')
        expect(output).to_contain_text('install', timeout=20_000)  # live, before the run ends
        expect(page.get_by_test_id('run-header').locator('[data-status=succeeded]')).to_be_visible(timeout=30_000)
        expect(output).to_contain_text('pipeline finished: all stages passed')
        succeeded = page.url.rsplit('/', 1)[-1]
        # it keeps what a real pipeline keeps: its package, its test and coverage reports and the summary it wrote,
        # shown above the log as Markdown (a heading and a table)
        expect(page.get_by_role('tab', name='Artifacts (4)')).to_be_visible()
        expect(page.get_by_role('tab', name='Tests (3)')).to_be_visible()
        expect(page.get_by_test_id('run-results')).to_have_text(re.compile(r'^3 tests passed · coverage \d+\.\d\d %'))
        summary = page.get_by_test_id('summary-body')
        expect(summary.locator('h3')).to_contain_text('all 3 tests passed')
        expect(summary.locator('table tr')).to_have_count(4)

        with httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30) as api:
            reply = api.post(
                '/api/runs',
                json={
                    'project_id': 'demo',
                    'branch': 'fix/flaky-test',
                    'depth_level': 'standard',
                    'target_framework': 'python',
                },
            )
            assert reply.status_code == 201, reply.text
            failed = wait_for_status(api, reply.json()['id'], timeout=60)
            kept = api.get(f'/api/runs/{succeeded}/artifacts').json()['items']
            assert sorted(a['path'] for a in kept) == ['coverage.xml', 'demo-1.0.tar.gz', 'junit.xml', 'summary.md']
        assert failed['status'] == 'failed' and failed['exit_code'] == 1
        page.goto(app['url'] + f'/runs/{failed["id"]}')
        expect(page.get_by_test_id('output')).to_contain_text('FAILED (connection reset by peer)')
        page.get_by_role('tab', name='Tests (1 failed)').click()  # the failure, as its test report tells it
        failure = page.get_by_test_id('test-failure')
        expect(failure).to_contain_text('tests.test_app::test_flaky_network')
        expect(failure).to_contain_text('connection reset by peer')
