"""The audit log page in Chromium: each action with its actor, filters in the URL across a reload, links to
what was acted on."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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
            assert api.put('/api/projects/alpha/variables/COLOUR', json={'value': 'red'}).status_code in (200, 201)
            assert api.put('/api/projects/alpha/secrets/TOKEN', json={'value': 's3cret'}).status_code in (200, 201)
        page.goto(env.ui_url + '/')
        page.get_by_test_id('nav-audit').click()
        page.wait_for_url(re.compile(r'/audit$'))
        expect(page).to_have_title('Audit log · Runboard')
        rows = page.locator('[data-testid=audit] [data-action]')
        expect(rows).to_have_count(6)
        assert rows.evaluate_all('rows => rows.map(r => r.dataset.action)') == [
            'project.secret.set',
            'project.variable.set',
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

        # the picker offers the finer groups and each action under its group, as the API takes them
        page.locator('[data-filter=action]').click()
        page.get_by_role('option', name='Projects › variable › any', exact=True).click()
        page.wait_for_url(re.compile(r'/audit\?action=project\.variable$'))
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute('data-action', 'project.variable.set')
        page.locator('[data-filter=action]').click()
        options = page.get_by_role('option')
        expect(options.filter(has_text='Projects › secret › set')).to_have_count(1)
        screenshot(page, 'audit-log-action-picker.png')
        page.get_by_role('option', name='Projects › any', exact=True).click()
        page.wait_for_url(re.compile(r'/audit\?action=project$'))
        expect(rows).to_have_count(4)
        page.locator('[data-filter=action]').click()
        page.get_by_role('option', name='Runs › any', exact=True).click()
        page.wait_for_url(re.compile(r'/audit\?action=run$'))
        expect(rows).to_have_count(2)
        # 47 choices: typing narrows them to those whose name has the text
        page.locator('[data-filter=action]').fill('stop')
        expect(options).to_have_text(['Runs › stopped'])
        options.first.click()
        page.wait_for_url(re.compile(r'/audit\?action=run\.stopped$'))
        expect(rows).to_have_count(1)
        page.reload()
        expect(rows).to_have_count(1)
        expect(page.locator('[data-filter=action]')).to_have_value('Runs › stopped')
        page.goto(env.ui_url + '/audit?action=project.secret.set')  # a bookmark of one action: the picker names it
        expect(rows).to_have_count(1)
        expect(page.locator('[data-filter=action]')).to_have_value('Projects › secret › set')
        page.goto(env.ui_url + '/audit?action=run')
        expect(rows).to_have_count(2)
        # a range the server refuses: said, and the entries read for the filters before are not shown under it
        today = datetime.now(UTC).date()
        page.locator('input[data-filter=since]').fill(today.isoformat())
        expect(rows).to_have_count(2)
        page.locator('input[data-filter=until]').fill((today - timedelta(days=1)).isoformat())
        expect(page.get_by_test_id('error-notice')).to_contain_text('The end of the time range is before its start.')
        expect(rows).to_have_count(0)
        expect(page.get_by_test_id('audit')).to_contain_text('No entries shown: the server refused these filters')
        page.locator('input[data-filter=until]').fill('')
        expect(rows).to_have_count(2)
        expect(page.get_by_test_id('error-notice')).to_have_count(0)
        stopped.get_by_role('link', name=run['id']).click()
        page.wait_for_url(re.compile(rf'/runs/{run["id"]}$'))
