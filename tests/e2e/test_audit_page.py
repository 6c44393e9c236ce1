"""The audit log page in Chromium: each action with its actor, filters in the URL across a reload, links to
what was acted on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import screenshot, stack

pytestmark = pytest.mark.e2e


def test_the_audit_log_shows_who_did_what_and_filters_by_action(tmp_path, page: Page) -> None:  # noqa: ANN001
    with stack(tmp_path, RUNBOARD_GLOBAL_RUN_CAP='0') as env:
        env.create_project('alpha', max_concurrent_runs=5)
        run = env.trigger('alpha', 'main').json()
        with env.api() as api:
            api.post(f'/api/runs/{run["id"]}/stop')
            api.patch('/api/projects/alpha', json={'max_concurrent_runs': 3})
        page.goto(env.ui_url + '/')
        page.get_by_test_id('nav-audit').click()
        page.wait_for_url(re.compile(r'/audit$'))
        expect(page).to_have_title('Audit log · Runboard')
        rows = page.locator('[data-testid=audit] [data-action]')
        expect(rows).to_have_count(4)
        assert rows.evaluate_all('rows => rows.map(r => r.dataset.action)') == [
            'project.updated',
            'run.stopped',
            'run.triggered',
            'project.created',
        ]
        stopped = page.locator('[data-action="run.stopped"]')
        expect(stopped).to_contain_text('local stopped run')
        expect(stopped).to_contain_text('token tok_')
        expect(page.locator('[data-action="project.updated"]')).to_contain_text('max_concurrent_runs → 3')
        screenshot(page, 'audit-log.png')

        page.locator('[data-filter=action]').click()
        page.get_by_role('option', name='Runs', exact=True).click()
        page.wait_for_url(re.compile(r'/audit\?action=run$'))
        expect(rows).to_have_count(2)
        page.reload()
        expect(rows).to_have_count(2)
        stopped.get_by_role('link', name=run['id']).click()
        page.wait_for_url(re.compile(rf'/runs/{run["id"]}$'))
