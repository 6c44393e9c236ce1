"""A project on a remote repository in Chromium: the page says when its mirror was fetched, "Refresh
branches" brings a branch pushed since into the picker, and credentials set in the settings panel are
stored without ever coming back to the page."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.helpers.e2e import screenshot
from tests.helpers.remote import Upstream
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e
SECRET = 'tok_e2e_never_shown_9x8y7z'


def test_remote_project_refresh_and_credentials(tmp_path: Path, browser) -> None:  # noqa: ANN001
    upstream = Upstream(tmp_path / 'remote')
    data = tmp_path / 'data'
    env = {'RUNBOARD_DEMO': 'false', 'RUNBOARD_GLOBAL_RUN_CAP': '0', 'RUNBOARD_MIRROR_REFRESH_MIN_SECONDS': '0'}
    with app_process(data, env=env) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        api = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
        body = {'id': 'remote', 'name': 'Remote app', 'repository': f'file://{upstream.bare}', 'command': ['true']}
        assert api.post('/api/projects', json=body).status_code == 201
        context = browser.new_context(viewport={'width': 1000, 'height': 900})
        try:
            page = context.new_page()
            page.goto(app['url'] + '/projects/remote')
            expect(page.get_by_test_id('repository-fetched')).to_contain_text('fetched')

            upstream.commit('pushed/later', 'later.txt', 'later\n')
            page.get_by_test_id('refresh-branches').click()
            picker = page.get_by_test_id('branch')
            picker.click()
            expect(page.get_by_role('option', name='pushed/later', exact=True)).to_be_visible(timeout=10_000)
            page.keyboard.press('Escape')

            page.get_by_text('Repository and credentials').click()
            page.get_by_test_id('credentials-choice').click()
            page.get_by_role('option', name='HTTPS token', exact=True).click()
            page.get_by_test_id('credentials-token').fill(SECRET)
            page.get_by_test_id('settings-save').click()
            expect(page.get_by_test_id('settings-saved')).to_be_visible(timeout=15_000)
            expect(page.get_by_test_id('stored-credentials')).to_contain_text('HTTPS token')
            screenshot(page, 'remote-project-settings.png')
            assert SECRET not in page.content()
            stored = api.get('/api/projects/remote').json()
            assert stored['has_credentials'] and stored['credentials_kind'] == 'token'
            assert SECRET not in json.dumps(stored)
        finally:
            context.close()
