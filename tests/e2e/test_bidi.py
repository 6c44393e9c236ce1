"""A branch name or a commit title with a right-to-left override cannot reverse what stands around it in the runs
list, the run page or the picker: the control is shown as text ([U+202E])."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e
SNEAKY = 'fix/\u202egnp.exe'


def test_bidi_controls_in_a_branch_name_are_shown(tmp_path: Path, browser) -> None:  # noqa: ANN001
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': 'echo hi\n'}})
    subprocess.run(['git', 'checkout', '-q', '-b', SNEAKY], cwd=repo, check=True)
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']  # a title with the control in it too
    subprocess.run(['git', *ident, 'commit', '-q', '--allow-empty', '-m', f'{SNEAKY} commit'], cwd=repo, check=True)
    subprocess.run(['git', 'checkout', '-q', 'main'], cwd=repo, check=True)
    data = tmp_path / 'data'
    with app_process(data, env={'RUNBOARD_DEMO': 'false', 'RUNBOARD_GLOBAL_RUN_CAP': '0'}) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        api = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
        create_project(api, repo, project_id='bidi')
        run = api.post(
            '/api/runs',
            json={'project_id': 'bidi', 'branch': SNEAKY, 'depth_level': 'shallow', 'target_framework': 'python'},
        ).json()
        context = browser.new_context(viewport={'width': 1000, 'height': 800})
        try:
            page = context.new_page()
            page.goto(app['url'] + '/projects/bidi')
            row = page.locator('[data-field=params]').first
            expect(row).to_contain_text('fix/[U+202E]gnp.exe · shallow · python')
            assert '\u202e' not in row.inner_text()
            # the commit's title came from the repository, written by whoever committed: shown inert too
            title = page.locator('[data-field=commit-title]').first
            expect(title).to_have_text('fix/[U+202E]gnp.exe commit')
            assert '\u202e' not in title.inner_text()
            page.get_by_test_id('branch').click()
            page.get_by_role('option').filter(has_text='fix/[U+202E]gnp.exe').click()
            # chosen: the form's head line names its commit, the title inert
            head_title = page.get_by_test_id('branch-head').locator('[data-field=head-title]')
            expect(head_title).to_have_text('fix/[U+202E]gnp.exe commit')
            assert '\u202e' not in head_title.inner_text()
            page.goto(f'{app["url"]}/runs/{run["id"]}')
            expect(page.locator('[data-param=branch]')).to_have_text('fix/[U+202E]gnp.exe')
            expect(page.locator('[data-param=commit] [data-field=commit-title]')).to_have_text(
                'fix/[U+202E]gnp.exe commit'
            )
        finally:
            context.close()
