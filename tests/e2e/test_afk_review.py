"""AFK runs as their reviewer sees them, and the daily cost cap, in Chromium (issue 39): a forge project (a loopback
server answering like Gitea's API) whose agent script reports $0.60 with `::usage::` and opens its pull request;
with a $1.00 cap the loop launches two runs and stops, the card says why; the run page shows the issue (its
Markdown rendered, its <script> not run), the pull request with its state and checks, and the changes, a file
opened to its diff; the runs list shows the issue, the PR and the cost; Reset lets the loop launch again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.afk.fake_forge import fake_forge
from tests.helpers.axe import axe_violations, by_rule
from tests.helpers.e2e import screenshot
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e

BODY = 'The login form answers **500** for a wrong password.\n\n<script>window.__xss = 1</script>\n\n- [ ] a test'
DIFF = """diff --git a/app/login.py b/app/login.py
--- a/app/login.py
+++ b/app/login.py
@@ -1,2 +1,3 @@
 def login(user, password):
-    return check(user, password)
+    if not check(user, password):
+        return 401
diff --git a/tests/test_login.py b/tests/test_login.py
new file mode 100644
--- /dev/null
+++ b/tests/test_login.py
@@ -0,0 +1 @@
+def test_wrong_password(): assert login('a', 'b') == 401
"""
FILES = [
    {'filename': 'app/login.py', 'status': 'modified', 'additions': 2, 'deletions': 1, 'changes': 3},
    {'filename': 'tests/test_login.py', 'status': 'added', 'additions': 1, 'deletions': 0, 'changes': 1},
]


def agent(root: str) -> str:
    return f"""#!/bin/sh
echo "::stage:: agent"
echo "working on #$RUNBOARD_ISSUE_NUMBER: $RUNBOARD_ISSUE_TITLE"
echo "::usage input_tokens=1200,output_tokens=300,model=claude-sonnet-4::"
echo "::usage cost_usd=0.60::"
echo "::stage:: pull request"
body=$(python3 -c 'import json, os; e = os.environ; n = e["RUNBOARD_ISSUE_NUMBER"]; print(json.dumps({{
    "title": "Fix #%s: %s" % (n, e["RUNBOARD_ISSUE_TITLE"]), "head": "afk/" + n, "base": "main"}}))')
curl -sS -f -o /dev/null -X POST -H 'Authorization: token tok' -H 'Content-Type: application/json' \\
  -d "$body" '{root}/repos/o/r/pulls' || exit 1
echo "::notice title=Pull request::opened for afk/$RUNBOARD_ISSUE_NUMBER"
"""


def _auto_runs(api: httpx.Client) -> list[dict]:
    return api.get('/api/runs', params={'project': 'agent', 'kind': 'auto', 'limit': 100}).json()['items']


def _succeeded(api: httpx.Client) -> list[dict]:
    return [r for r in _auto_runs(api) if r['status'] == 'succeeded']


def _until(predicate, what: str, timeout: float = 60):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return value


def test_an_afk_run_page_and_the_cost_cap(tmp_path: Path, browser: Browser) -> None:
    data = tmp_path / 'data'
    data.mkdir()
    env = {'RUNBOARD_AFK_SWEEP_SECONDS': '0.5', 'RUNBOARD_DEMO': 'false', 'RUNBOARD_REAPER_POLL_SECONDS': '0.5'}
    with fake_forge('gitea') as (forge, root):
        # an image elsewhere in the body (a tracking pixel): a reader's browser must not fetch it
        pixel = f'\n\n![tracker]({root}/pixel.png)'
        forge.add_issue(1, 'Login answers 500 for a wrong password', ['ready-for-agent', 'bug'], body=BODY + pixel)
        forge.add_issue(2, 'Remember the last project', ['ready-for-agent'])
        forge.add_issue(3, 'Dark mode for the log', ['ready-for-agent'])
        for number in (100, 101, 102):  # the pull requests the agent will open, in order
            forge.files[number] = FILES
            forge.diffs[number] = DIFF
            forge.statuses[f'{number:040d}'] = [
                {'context': 'runboard/tests', 'status': 'success', 'description': 'passed', 'target_url': None},
                {'context': 'lint', 'status': 'failure', 'description': '1 problem', 'target_url': None},
            ]
        repo = make_repo(tmp_path / 'repo', {'main': {'agent.sh': agent(root)}})
        with app_process(data, env=env) as app:
            token = json.loads((data / 'credentials.json').read_text())['token']
            api = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
            source = {'kind': 'gitea', 'api_url': root, 'owner': 'o', 'repo': 'r', 'token': 'tok', 'timeout_seconds': 5}
            create_project(
                api,
                repo,
                project_id='agent',
                command=['sh', 'agent.sh'],
                issue_source=source,
                afk_cost_cap_usd_per_day=1.0,
            )
            assert api.post('/api/afk/auto/agent', json={'enabled': True}).status_code == 200

            # $0.60, then $1.20: two runs, then the loop stops with the cost reason
            project = _until(
                lambda: (p := api.get('/api/projects/agent').json()).get('afk_cost_capped_on') and p,
                'the cost cap was not reached',
            )
            runs = _until(
                lambda: (
                    [r for r in _auto_runs(api) if r['status'] == 'succeeded'][:2]
                    if len([r for r in _auto_runs(api) if r['status'] == 'succeeded']) >= 2
                    else None
                ),
                'two AFK runs did not end',
            )
            time.sleep(2)  # four sweep periods: nothing more is launched
            assert sorted(r['issue_number'] for r in _auto_runs(api)) == [1, 2]
            assert not project['paused'] and project['consecutive_failures'] == 0

            page = browser.new_page(viewport={'width': 1280, 'height': 1000})
            try:
                page.goto(app['url'] + '/')
                card = page.locator('[data-project=agent]')
                banner = card.locator('[data-launch-banner]')
                expect(banner).to_have_text(
                    'Auto paused · cost cap $1.00 reached today, resumes at 00:00 UTC or on Reset', timeout=20_000
                )
                expect(card.locator('[data-card-status=paused]')).to_be_visible()
                card.scroll_into_view_if_needed()
                screenshot(page, 'afk-cost-capped-card.png')
                found = axe_violations(page, 'afk-cost-capped-card')
                assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)

                first = next(r for r in runs if r['issue_number'] == 1)
                page.goto(f'{app["url"]}/runs/{first["id"]}')
                review = page.get_by_test_id('afk-review')
                issue = page.get_by_test_id('review-issue')
                expect(issue.get_by_test_id('issue-link')).to_have_text('#1 Login answers 500 for a wrong password')
                expect(issue.get_by_test_id('issue-link')).to_have_attribute(
                    'href', 'http://forge.example/o/r/issues/1'
                )
                expect(issue.locator('strong')).to_have_text('500')  # Markdown rendered
                expect(issue.get_by_text('<script>window.__xss = 1</script>')).to_be_visible()  # shown, not run
                assert page.evaluate('window.__xss') is None
                expect(issue.locator('img[alt=tracker]')).to_have_count(1)  # drawn, but not loaded from elsewhere
                page.wait_for_timeout(500)
                assert not [path for path in forge.requests if 'pixel' in path]
                expect(issue.locator('[data-field=issue-label]')).to_have_text(['ready-for-agent', 'bug'])
                pull = page.get_by_test_id('review-pull-request')
                expect(pull.get_by_test_id('pr-link')).to_have_text(
                    '#100 Fix #1: Login answers 500 for a wrong password'
                )
                expect(pull.locator('[data-field=pr-state]')).to_have_text('open')
                expect(pull.locator('[data-field=checks-summary]')).to_have_text('2 checks: 1 passed, 1 failed')
                changes = page.get_by_test_id('review-diff')
                expect(changes.locator('[data-field=diff-summary]')).to_have_text(
                    '2 files changed · +3 −1 · from the forge'
                )
                changes.locator('[data-file="app/login.py"]').click()
                expect(changes.locator('.rb-diff .add').first).to_have_text('+    if not check(user, password):')
                expect(page.locator('[data-param=usage]')).to_have_text(
                    '$0.60 · 1,200 in / 300 out tokens · claude-sonnet-4'
                )
                review.scroll_into_view_if_needed()
                screenshot(page, 'afk-run-review.png')
                found = axe_violations(page, 'afk-run-review')
                assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)

                page.goto(f'{app["url"]}/projects/agent')
                row = page.locator(f'[data-run="{first["id"]}"]')
                expect(row.locator('[data-field=issue]')).to_have_text('issue #1')
                expect(row.get_by_test_id('pull-request')).to_contain_text('PR #100')
                expect(row.locator('[data-field=usage]')).to_have_text('$0.60')
                expect(page.get_by_test_id('afk-costs').locator('[data-field=cost-today]')).to_contain_text(
                    'Today $1.20 of a $1.00 daily cap — cap reached'
                )
                page.get_by_test_id('afk-costs').scroll_into_view_if_needed()
                expect(page.get_by_test_id('cost-per-issue').locator('canvas')).to_be_visible()
                screenshot(page, 'afk-project-costs.png')
                found = axe_violations(page, 'afk-project-costs')
                assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)

                # Reset: the day's count starts again, the loop launches on issue 3
                page.goto(app['url'] + '/')
                card.get_by_role('button', name='Project actions').click()
                page.locator('.q-menu').get_by_text('Reset', exact=True).click()
                confirmation = page.get_by_role('alertdialog')
                expect(confirmation).to_contain_text("today's AFK cost counts against the cap from now on")
                confirmation.get_by_role('button', name='Reset').click()
                expect(banner).to_be_hidden(timeout=10_000)
                _until(lambda: any(r['issue_number'] == 3 for r in _auto_runs(api)), 'no AFK run after Reset')
            finally:
                page.close()
