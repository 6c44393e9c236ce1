"""With JavaScript off, every page links to the plain project list, where a paused project is reset
with a plain form (CSRF-checked, 303 back), and parked issues can be requeued."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.helpers.e2e import screenshot
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project, wait_for_status
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e


def _fail_three_afk_runs(api: httpx.Client) -> None:
    for _ in range(3):
        run = api.post('/api/afk/start/flaky')
        assert run.status_code == 201, run.text
        assert wait_for_status(api, run.json()['id'])['status'] == 'failed'


def test_reset_a_paused_project_without_javascript(tmp_path: Path, browser) -> None:  # noqa: ANN001
    data = tmp_path / 'data'
    data.mkdir()
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': '#!/bin/sh\necho "tests: 3 failed"\nexit 1\n'}})
    env = {'RUNBOARD_DEMO': 'false', 'RUNBOARD_AFK_SWEEP_SECONDS': '600'}
    with app_process(data, env=env) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        api = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
        create_project(api, repo, project_id='flaky')
        for n in range(4):
            api.post('/api/projects/flaky/issues', json={'title': f'Task {n + 1}', 'labels': ['ready-for-agent']})
        _fail_three_afk_runs(api)
        assert api.get('/api/projects/flaky').json()['paused']

        context = browser.new_context(java_script_enabled=False, viewport={'width': 900, 'height': 900})
        try:
            page = context.new_page()
            page.goto(app['url'] + '/projects/flaky')  # any page: the <noscript> line leads to the plain list
            page.locator('noscript a[href="/plain"], a[href="/plain"]').first.click()
            expect(page).to_have_url(app['url'] + '/plain')
            section = page.locator('section[data-project=flaky]')
            expect(section.locator('.paused')).to_have_text('Auto paused · 3 fails (auto is off)')
            expect(section.locator('li')).to_have_count(3)  # the parked issues, each with Requeue / Discard
            screenshot(page, 'no-javascript-paused.png')

            section.get_by_role('button', name='Reset').click()
            expect(page).to_have_url(app['url'] + '/plain')  # the 303 came back here
            expect(page.locator('[role=status]')).to_have_text('flaky re-armed: failure counter reset.')
            expect(section.locator('.paused')).to_have_count(0)
            project = api.get('/api/projects/flaky').json()
            assert project['consecutive_failures'] == 0 and not project['paused']

            section.locator('li', has_text='#1 ').get_by_role('button', name='Requeue').click()
            expect(page.locator('[role=status]')).to_have_text('Issue #1 is ready again.')
            assert api.get('/api/projects/flaky').json()['parked_count'] == 2

            # a post from another page changes nothing: without the sign-in cookie (SameSite=Strict keeps it from
            # cross-site posts) it is refused, and with it but no matching CSRF cookie and Origin it is sent back
            forged = {'data': {'csrf_token': 'guess'}, 'headers': {'Origin': 'http://evil.example'}}
            assert httpx.post(app['url'] + '/plain/flaky/auto-on', **forged).status_code == 401
            forged_in = httpx.post(app['url'] + '/plain/flaky/auto-on', cookies=app['cookies'], **forged)
            assert forged_in.status_code == 303
            time.sleep(0.2)
            assert api.get('/api/projects/flaky').json()['auto_enabled'] is False
        finally:
            context.close()
