"""An AFK run as its reviewer reads it, on every backend (docs/afk.md, "Reviewing an AFK run"): on a forge project
(a loopback server answering like Gitea's API) the agent's script opens its pull request, and
GET /api/afk/runs/{id}/review answers the issue, the pull request (number, title, state, link, its commit
statuses) and the diff summary with each file's diff; the run then carries the PR for the runs list. On a local
project the diff comes from `git diff <base>...afk/<N>`. A forge that does not answer is a `problems` line, never
a 500; a run that is not an AFK run is 409, one nobody may see 404."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.repositories import forge
from tests.afk.fake_forge import fake_forge
from tests.helpers.runs import create_project, outputs, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server

ISSUE_BODY = 'Make **login** work.\n\n<script>alert(1)</script>\n\n- [ ] tests'
GITEA_DIFF = """diff --git a/app/login.py b/app/login.py
index 1111111..2222222 100644
--- a/app/login.py
+++ b/app/login.py
@@ -1,2 +1,3 @@
 def login():
-    return False
+    check()
+    return True
diff --git a/tests/test_login.py b/tests/test_login.py
new file mode 100644
--- /dev/null
+++ b/tests/test_login.py
@@ -0,0 +1 @@
+def test_login(): assert login()
"""
PULL_SHA = f'{100:040d}'  # the fake forge's head commit of its first pull request


def agent_script(root: str) -> dict[str, str]:
    """An agent that reports what it spent and opens its pull request through the forge's API."""
    return shell_script(
        f"""echo "::usage input_tokens=1200,output_tokens=300,cost_usd=0.42,model=m-1::"
body='{{"title": "Fix #'"$RUNBOARD_ISSUE_NUMBER"'", "head": "afk/'"$RUNBOARD_ISSUE_NUMBER"'", "base": "main"}}'
curl -sS -f -o /dev/null -X POST -H 'Authorization: token tok' -H 'Content-Type: application/json' \\
  -d "$body" '{root}/repos/o/r/pulls' || exit 1
echo "::notice title=Pull request::opened"
"""
    )


@pytest.fixture(autouse=True)
def _fresh_forge_cache():  # noqa: ANN202
    forge._ready_cache.clear()
    yield
    forge._ready_cache.clear()


def test_a_forge_runs_issue_pull_request_checks_and_diff(settings_factory, repo_factory) -> None:
    with fake_forge('gitea') as (state, root):
        repo = repo_factory({'main': agent_script(root)})
        state.add_issue(7, 'Login is broken', ['ready-for-agent', 'bug'], body=ISSUE_BODY)
        state.files[100] = [
            {'filename': 'app/login.py', 'status': 'modified', 'additions': 2, 'deletions': 1, 'changes': 3},
            {'filename': 'tests/test_login.py', 'status': 'added', 'additions': 1, 'deletions': 0, 'changes': 1},
        ]
        state.diffs[100] = GITEA_DIFF
        state.statuses[PULL_SHA] = [
            {'context': 'ci/tests', 'status': 'success', 'description': 'passed', 'target_url': 'http://ci.example/1'},
            {'context': 'lint', 'status': 'failure', 'description': '2 problems', 'target_url': None},
        ]
        source = {'kind': 'gitea', 'api_url': root, 'owner': 'o', 'repo': 'r', 'token': 'tok', 'timeout_seconds': 5}
        # a forge on this machine: allowed as an administrator allows an internal forge (docs/security.md)
        with api_server(settings_factory(webhook_allowed_hosts='loopback')) as server, server.client() as client:
            create_project(client, repo, project_id='agent', issue_source=source)
            started = client.post('/api/afk/start/agent')
            assert started.status_code == 201, started.text
            run = wait_for_status(client, started.json()['id'])
            assert run['status'] == 'succeeded', run
            assert state.posted_pulls == [{'title': 'Fix #7', 'head': 'afk/7', 'base': 'main'}]

            reply = client.get(f'/api/afk/runs/{run["id"]}/review')
            assert reply.status_code == 200, reply.text
            review = reply.json()
            assert review['problems'] == []
            assert review['issue'] == {
                'number': 7,
                'title': 'Login is broken',
                'body': ISSUE_BODY,  # as written: the page renders it without raw HTML
                'labels': ['ready-for-agent', 'bug'],
                'state': 'open',
                'url': 'http://forge.example/o/r/issues/7',
            }
            pull = review['pull_request']
            assert (pull['number'], pull['title'], pull['state'], pull['url']) == (
                100,
                'Fix #7',
                'open',
                'http://forge.example/o/r/pulls/100',
            )
            assert [(c['context'], c['state']) for c in pull['checks']] == [
                ('ci/tests', 'success'),
                ('lint', 'failure'),
            ]
            diff = review['diff']
            assert (diff['source'], diff['base'], diff['head'], diff['additions'], diff['deletions']) == (
                'forge',
                'main',
                'afk/7',
                3,
                1,
            )
            login, test = diff['files']
            assert (login['path'], login['status'], login['additions'], login['deletions']) == (
                'app/login.py',
                'modified',
                2,
                1,
            )
            assert '+    return True' in login['patch'] and 'test_login' not in login['patch']
            assert test['status'] == 'added' and test['patch'].startswith('diff --git a/tests/test_login.py')

            # the PR is on the run now: the runs list shows it beside the issue, and the run's usage
            [listed] = [r for r in client.get('/api/runs').json()['items'] if r['id'] == run['id']]
            assert (listed['issue_number'], listed['pr_number'], listed['pr_url']) == (
                7,
                100,
                'http://forge.example/o/r/pulls/100',
            )
            assert listed['usage']['cost_usd'] == 0.42

            # the forge goes away: the page still gets an answer, saying what could not be read
            state.status = 503
            down = client.get(f'/api/afk/runs/{run["id"]}/review')
            assert down.status_code == 200, down.text
            assert down.json()['problems'] and down.json()['issue']['number'] == 7


def test_a_local_projects_diff_comes_from_git(settings_factory, repo_factory) -> None:
    repo = repo_factory(
        {
            'main': {**shell_script('echo working'), 'app.py': 'print("a")\n'},
            'afk/1': {'app.py': 'print("b")\nprint("c")\n', 'new.txt': 'x\n'},  # as the agent left it
        }
    )
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='loc')
        made = client.post(
            '/api/projects/loc/issues', json={'title': 'Say b', 'body': '# Say *b*', 'labels': ['ready-for-agent']}
        )
        assert made.status_code == 201, made.text
        run = wait_for_status(client, client.post('/api/afk/start/loc').json()['id'])
        review = client.get(f'/api/afk/runs/{run["id"]}/review').json()
        assert review['issue']['title'] == 'Say b' and review['issue']['body'] == '# Say *b*'
        assert review['issue']['url'] is None and review['pull_request'] is None
        diff = review['diff']
        assert (diff['source'], diff['head']) == ('git', 'afk/1')
        files = {f['path']: (f['status'], f['additions'], f['deletions']) for f in diff['files']}
        assert files == {'app.py': ('modified', 2, 1), 'new.txt': ('added', 1, 0)}
        assert '+print("c")' in next(f['patch'] for f in diff['files'] if f['path'] == 'app.py')

        plain = wait_for_status(client, trigger(client, project_id='loc').json()['id'])
        refused = client.get(f'/api/afk/runs/{plain["id"]}/review')
        assert refused.status_code == 409 and refused.json()['error'] == 'not_an_afk_run'
        missing = client.get('/api/afk/runs/run_nope/review')
        assert missing.status_code == 404 and missing.json()['error'] == 'not_found'


LOCAL_AGENT = r"""set -eu
git switch -q -c "afk/$RUNBOARD_ISSUE_NUMBER"
printf 'def greet(name):\n    return "Hello, " + name\n' > greet.py
git add greet.py
git -c user.name=afk -c user.email=afk@example.invalid commit -q -m "Fix #$RUNBOARD_ISSUE_NUMBER"
"""


def test_a_succeeded_local_runs_branch_outlives_its_checkout(settings_factory, repo_factory) -> None:
    """The agent commits afk/<N> in its checkout and pushes nowhere (from the sandbox it cannot); the checkout of a
    succeeded run is removed, and its branch, kept in the data dir first, still gives the diff."""
    repo = repo_factory({'main': shell_script(LOCAL_AGENT)})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='loc')
        made = client.post('/api/projects/loc/issues', json={'title': 'Greet', 'labels': ['ready-for-agent']})
        assert made.status_code == 201, made.text
        run = wait_for_status(client, client.post('/api/afk/start/loc').json()['id'])
        assert run['status'] == 'succeeded', run
        diff = client.get(f'/api/afk/runs/{run["id"]}/review').json()['diff']
        assert diff is not None, 'no diff: the branch went with the checkout'
        assert (diff['source'], diff['head'], diff['additions'], diff['deletions']) == ('git', 'afk/1', 2, 0)
        assert [f['path'] for f in diff['files']] == ['greet.py']


def hostile_agent(marker: Path, *, objects_elsewhere: bool = False) -> str:
    """An agent that commits afk/<N>, then turns its checkout's git config against whoever runs git there: its
    branch hidden from upload-pack (so a fetch from the checkout fails), and every hook git has for running a
    program on a diff (an external diff, a pager, a textconv driver, an fsmonitor) pointing at a script that
    leaves `marker` with the environment it ran in. It exits 1, so its checkout is kept. `objects_elsewhere`: its
    object store moved out of the checkout and linked back (the copy must refuse to follow the link)."""
    move = ''
    if objects_elsewhere:
        move = 'mv .git/objects "$RUNBOARD_CACHE_DIR/objects" && ln -s "$RUNBOARD_CACHE_DIR/objects" .git/objects\n'
    return (
        LOCAL_AGENT
        + f"""evil="$PWD/.git/evil.sh"
printf '#!/bin/sh\\nenv > {marker}\\ncat "$@" 2>/dev/null\\n' > "$evil"
chmod +x "$evil"
git config uploadpack.hideRefs refs/heads/afk
git config diff.external "$evil"
git config core.pager "$evil"
git config core.fsmonitor "$evil"
git config diff.evil.textconv "$evil"
mkdir -p .git/info && printf '* diff=evil\\n' > .git/info/attributes
{move}git log -1 --format=%H "afk/$RUNBOARD_ISSUE_NUMBER"
exit 1
"""
    )


def _failed_hostile_run(client, repo: Path) -> dict:  # noqa: ANN001
    create_project(client, repo, project_id='loc')
    made = client.post('/api/projects/loc/issues', json={'title': 'Greet', 'labels': ['ready-for-agent']})
    assert made.status_code == 201, made.text
    run = wait_for_status(client, client.post('/api/afk/start/loc').json()['id'])
    assert run['status'] == 'failed', run
    lines = outputs(client.get(f'/api/runs/{run["id"]}').json())
    assert any(len(line) == 40 for line in lines), lines  # it got to its end: the checkout is set as it meant
    return run


def test_a_run_cannot_make_the_review_run_its_programs(settings_factory, repo_factory, tmp_path: Path) -> None:
    """The run's checkout is the run's: the server never runs git there. Its branch is copied into the data dir
    without the checkout's config (which hid it from upload-pack), and the diff is read from that copy."""
    marker = tmp_path / 'pwned'
    repo = repo_factory({'main': shell_script(hostile_agent(marker))})
    with api_server(settings_factory()) as server, server.client() as client:
        run = _failed_hostile_run(client, repo)
        reply = client.get(f'/api/afk/runs/{run["id"]}/review')
        assert reply.status_code == 200, reply.text
        assert not marker.exists(), 'the server ran a program the run configured:\n' + marker.read_text()
        review = reply.json()
        diff = review['diff']
        assert diff is not None, review['problems']
        assert (diff['source'], diff['head'], diff['additions'], diff['deletions']) == ('git', 'afk/1', 2, 0)
        assert [f['path'] for f in diff['files']] == ['greet.py']
        assert '+    return "Hello, " + name' in diff['files'][0]['patch']
    assert not marker.exists()


def test_a_branch_that_cannot_be_kept_safely_is_said_so(settings_factory, repo_factory, tmp_path: Path) -> None:
    """The checkout's objects linked in from elsewhere: not copied (the link could lead to any repository on the
    server's disk); the review says why, and still runs nothing of the run's."""
    marker = tmp_path / 'pwned'
    repo = repo_factory({'main': shell_script(hostile_agent(marker, objects_elsewhere=True))})
    with api_server(settings_factory()) as server, server.client() as client:
        run = _failed_hostile_run(client, repo)
        reply = client.get(f'/api/afk/runs/{run["id"]}/review')
        assert reply.status_code == 200, reply.text
        assert not marker.exists(), 'the server ran a program the run configured:\n' + marker.read_text()
        review = reply.json()
        assert review['diff'] is None, outputs(client.get(f'/api/runs/{run["id"]}').json())
        assert any(p.startswith("the agent's branch was not kept: ") for p in review['problems']), review['problems']
        assert any('object store (.git/objects) is not a directory of the checkout' in p for p in review['problems']), (
            review['problems']
        )
