"""Runs on push, as a person sets them up, in real Chromium (issue 37): an operator opens the project's Settings,
switches "Run on push" on for main and release/*, saves, makes the hook secret (shown once); a commit to the
project's repository then appears as a `push` run at that commit, and a signed pull-request webhook makes a run
whose page links the pull request. The README badges are turned on and off in the same Settings."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.services.triggers import hooks
from tests.helpers.e2e import screenshot
from tests.helpers.forge_api import forge_api
from tests.helpers.repos import make_repo
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e
IDENT = ['-c', 'user.name=Ann', '-c', 'user.email=ann@example.org']


def git(repo: Path, *args: str) -> str:
    return subprocess.run(['git', *IDENT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    base = tmp_path_factory.mktemp('push')
    repo = make_repo(base / 'repo', {'main': {'run.sh': 'echo built\n'}})
    env = {'RUNBOARD_DEMO': 'false', 'RUNBOARD_MIRROR_FETCH_SECONDS': '1', 'RUNBOARD_NOTIFICATION_POLL_SECONDS': '0.5'}
    with forge_api('github') as forge, app_process(base / 'data', env=env) as app:
        token = json.loads((base / 'data' / 'credentials.json').read_text())['token']
        client = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
        # commit statuses go to a loopback GitHub API
        source = {'kind': 'github', 'api_url': forge.root, 'owner': 'team', 'repo': 'web', 'token': forge.token}
        body = {
            'id': 'web',
            'name': 'Web',
            'repository': str(repo),
            'command': ['sh', 'run.sh'],
            'issue_source': source,
        }
        assert client.post('/api/projects', json=body).status_code == 201
        yield {'url': app['url'], 'repo': repo, 'api': client, 'forge': forge}
        client.close()


def test_push_rules_in_settings_then_a_push_runs(page: Page, server: dict) -> None:
    url, repo, api = server['url'], server['repo'], server['api']
    page.goto(f'{url}/projects/web/settings')
    panel = page.get_by_test_id('push-panel')
    expect(page.get_by_test_id('push-summary')).to_have_text('Off: pushes start no run.')
    page.get_by_test_id('push-enabled').click()
    page.get_by_test_id('push-branches').fill('main\nrelease/*')
    page.get_by_test_id('push-pull-requests').click()
    page.get_by_test_id('push-save').click()
    expect(page.get_by_test_id('push-saved')).to_be_visible()
    expect(page.get_by_test_id('push-summary')).to_have_text(
        'On: pushes to main, release/* and pull requests start a run.'
    )
    page.get_by_test_id('hook-secret-new').click()
    secret = page.get_by_test_id('hook-secret').inner_text().strip()
    assert secret.startswith('rbh_')
    expect(page.get_by_test_id('hook-url')).to_have_text(f'{url}/api/hooks/web')
    panel.scroll_into_view_if_needed()
    screenshot(page, 'push-settings.png')
    assert api.get('/api/projects/web').json()['on_push']['branches'] == ['main', 'release/*']

    # a push, as the repository sees it: the next scan admits it
    (repo / 'change.txt').write_text('one\n')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'a change')
    sha = git(repo, 'rev-parse', 'HEAD')
    page.goto(f'{url}/?kind=push')
    row = page.locator('[data-run]').first
    expect(row).to_be_visible(timeout=30_000)
    expect(row.locator('[data-field=push]')).to_have_text('pushed')
    # the commit as people pick runs by it: its short sha and title (read from the repository by the server)
    expect(row.locator('[data-field=commit]')).to_have_text(f'{sha[:7]}a change')
    expect(row.locator('[data-field=commit-title]')).to_have_text('a change')
    # run as the person who set the rules: the row (whose kind says push) names them alone, on one line at a
    # desktop's width; the run page says they set the rules, so they do not read as the one who pushed
    rules_by = api.get(f'/api/runs/{row.get_attribute("data-run")}').json()['user_name']
    expect(row.locator('[data-field=by]')).to_have_text(rules_by)
    screenshot(page, 'push-runs-list.png')
    # the run's result went back to the forge as a commit status, and its page says so
    posted = server['forge'].wait_for_state('success')
    assert (posted.sha, posted.context) == (sha, 'runboard/web (push)')
    page.goto(f'{url}/runs/{row.get_attribute("data-run")}')
    expect(page.locator('[data-param=by]')).to_have_text(f'{rules_by} (push rules)')
    expect(page.get_by_test_id('commit-statuses')).to_contain_text('success ✓', timeout=15_000)
    expect(page.get_by_test_id('commit-statuses')).to_contain_text('forge check runboard/web (push):')
    screenshot(page, 'push-run-page.png')

    # a pull request, as GitHub sends it
    git(repo, 'checkout', '-q', '-b', 'feature/x')
    (repo / 'x.txt').write_text('x\n')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'x')
    head = git(repo, 'rev-parse', 'HEAD')
    git(repo, 'checkout', '-q', 'main')
    payload = {
        'action': 'opened',
        'number': 7,
        'sender': {'login': 'dee'},
        'pull_request': {
            'number': 7,
            'title': 'Add x',
            'html_url': 'https://github.com/team/web/pull/7',
            'head': {'ref': 'feature/x', 'sha': head, 'repo': {'full_name': 'team/web'}},
            'base': {'ref': 'main', 'repo': {'full_name': 'team/web'}},
        },
    }
    body = json.dumps(payload).encode()
    headers = {
        'X-GitHub-Event': 'pull_request',
        'Content-Type': 'application/json',
        **hooks.sign('github', body, secret),
    }
    answer = httpx.post(f'{url}/api/hooks/web', content=body, headers=headers).json()
    assert answer['outcome'] == 'admitted', answer
    page.goto(f'{url}/runs/{answer["run_ids"][0]}')
    link = page.get_by_test_id('pull-request')
    expect(link).to_have_text('PR #7 Add x')
    assert link.get_attribute('href') == 'https://github.com/team/web/pull/7'
    screenshot(page, 'push-pull-request-run.png')


def test_badges_turned_on_in_settings_show_in_the_page_and_answer_without_a_token(page: Page, server: dict) -> None:
    url = server['url']
    page.goto(f'{url}/projects/web/settings')
    panel = page.get_by_test_id('badges-panel')
    expect(panel.get_by_test_id('badges-state')).to_have_text('Badges are off.')
    panel.get_by_test_id('badges-new').click()
    markdown = panel.get_by_test_id('badges-markdown')
    expect(markdown).to_contain_text(f'[![build]({url}/api/badges/web/rbb_')
    for kind in ('status', 'coverage'):  # drawn from their addresses, as a README's proxy would fetch them
        picture = panel.get_by_test_id(f'badge-{kind}')
        expect(picture).to_be_visible()
        page.wait_for_function('img => img.complete && img.naturalWidth > 0', arg=picture.element_handle())
    status_url = panel.get_by_test_id('badge-status').get_attribute('src')
    assert status_url is not None and httpx.get(status_url, timeout=30).headers['content-type'] == 'image/svg+xml'
    panel.scroll_into_view_if_needed()
    screenshot(page, 'project-badges.png')
    panel.get_by_test_id('badges-off').click()
    expect(panel.get_by_test_id('badges-state')).to_have_text('Badges are off.')
    expect(panel.get_by_test_id('badges-said')).to_contain_text('no longer work')
    assert httpx.get(status_url, timeout=30).status_code == 404
