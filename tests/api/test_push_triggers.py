"""Runs on push and on pull requests (issue 37), on every backend: forge webhooks (GitHub, Gitea, GitLab payloads
as their documentation shows them) signed with the project's hook secret make one run per pushed head; a wrong
signature is a 401 that changes nothing; cancel-in-progress leaves the newest push queued; a pull request runs
its head and the run links it; commit statuses reach a loopback forge in the documented shape, retried after a
500."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text, update

from app.models import IdempotencyKey, utcnow
from app.services.triggers import hooks
from tests.helpers.api import QUEUED, api_server, assert_problem, same_database, serving
from tests.helpers.forge_api import forge_api
from tests.helpers.runs import create_project, shell_script, wait_for_status

IDENT = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']


def commit(
    repo: Path, branch: str = 'main', name: str = 'change.txt', text: str | None = None, message: str | None = None
) -> str:
    """A new commit on `branch` of the project's repository (a push, as the repository sees it); its sha."""

    def git(*args: str) -> str:
        return subprocess.run(['git', *IDENT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout

    exists = subprocess.run(['git', 'show-ref', '-q', '--verify', f'refs/heads/{branch}'], cwd=repo).returncode == 0
    git('checkout', '-q', *([branch] if exists else ['-b', branch, 'main']))
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else f'{path.read_text() if path.exists() else ""}x\n')
    git('add', '-A')
    git('commit', '-q', '-m', message or f'{branch}: {name}')
    sha = git('rev-parse', 'HEAD').strip()
    git('checkout', '-q', 'main')
    return sha


def github_pull_request(action: str, number: int, title: str, branch: str, sha: str) -> dict:
    return {
        'action': action,
        'number': number,
        'pull_request': {
            'number': number,
            'title': title,
            'html_url': f'https://github.example/team/app/pull/{number}',
            'user': {'login': 'dee'},
            'head': {'ref': branch, 'sha': sha, 'repo': {'full_name': 'team/app'}},
            'base': {'ref': 'main', 'repo': {'full_name': 'team/app'}},
        },
        'sender': {'login': 'dee'},
    }


def github_push(branch: str, before: str, after: str, files: list[str] | None = None) -> dict:
    return {
        'ref': f'refs/heads/{branch}',
        'before': before,
        'after': after,
        'created': False,
        'deleted': False,
        'forced': False,
        'repository': {'full_name': 'team/app'},
        'pusher': {'name': 'ann', 'email': 'ann@example.org'},
        'sender': {'login': 'ann'},
        'commits': [{'id': after, 'added': [], 'removed': [], 'modified': files or ['change.txt']}],
        'head_commit': {'id': after},
    }


def gitea_push(branch: str, before: str, after: str) -> dict:
    return {
        'ref': f'refs/heads/{branch}',
        'before': before,
        'after': after,
        'compare_url': '',
        'commits': [{'id': after, 'added': [], 'removed': [], 'modified': ['change.txt']}],
        'repository': {'full_name': 'team/app'},
        'pusher': {'login': 'bob', 'username': 'bob'},
        'sender': {'login': 'bob', 'username': 'bob'},
    }


def gitlab_push(branch: str, before: str, after: str) -> dict:
    return {
        'object_kind': 'push',
        'ref': f'refs/heads/{branch}',
        'before': before,
        'after': after,
        'checkout_sha': after,
        'user_username': 'cat',
        'project': {'path_with_namespace': 'team/app'},
        'commits': [{'id': after, 'added': [], 'removed': [], 'modified': ['change.txt']}],
    }


PUSHES = {'github': github_push, 'gitea': gitea_push, 'gitlab': gitlab_push}
PUSH_EVENT = {'github': 'push', 'gitea': 'push', 'gitlab': 'Push Hook'}
PUSHERS = {'github': 'ann', 'gitea': 'bob', 'gitlab': 'cat'}
EVENT_HEADER = {'github': 'X-GitHub-Event', 'gitea': 'X-Gitea-Event', 'gitlab': 'X-Gitlab-Event'}


def deliver(
    client: httpx.Client, forge: str, event: str, payload: dict, secret: str, project: str = 'proj'
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {'Content-Type': 'application/json', EVENT_HEADER[forge]: event, **hooks.sign(forge, body, secret)}  # type: ignore[arg-type]
    # no Runboard token: the signature is the only credential
    return httpx.post(f'{client.base_url}/api/hooks/{project}', content=body, headers=headers, timeout=30)


def set_rules(client: httpx.Client, project: str = 'proj', **rules) -> str:  # noqa: ANN003
    reply = client.patch(f'/api/projects/{project}', json={'on_push': {'branches': ['main'], **rules}})
    assert reply.status_code == 200, reply.text
    assert reply.json()['on_push']['branches'] == rules.get('branches', ['main'])
    created = client.post(f'/api/projects/{project}/hook-secret')
    assert created.status_code == 201, created.text
    assert created.json()['url'] == f'/api/hooks/{project}'
    assert client.get(f'/api/projects/{project}').json()['has_hook_secret'] is True
    return created.json()['secret']


def runs_of(client: httpx.Client, kind: str = 'push') -> list[dict]:
    return client.get('/api/runs', params={'project': 'proj', 'kind': kind}).json()['items']


@pytest.mark.parametrize('forge', ['github', 'gitea', 'gitlab'])
def test_a_signed_push_makes_one_run_and_a_bad_signature_none(settings_factory, repo_factory, forge: str) -> None:
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, depth_level='deep', target_framework='go')
        before = subprocess.run(['git', 'rev-parse', 'main'], cwd=repo, capture_output=True, text=True).stdout.strip()
        sha = commit(repo)
        payload = PUSHES[forge]('main', before, sha)

        bad = httpx.post(
            f'{api.server.base_url}/api/hooks/proj',
            content=json.dumps(payload).encode(),
            headers={EVENT_HEADER[forge]: PUSH_EVENT[forge], **hooks.sign(forge, b'x', 'not-the-secret')},  # type: ignore[arg-type]
        )
        assert_problem(bad, 401, 'bad_signature')
        assert deliver(api.client, forge, PUSH_EVENT[forge], payload, 'not-the-secret').status_code == 401
        assert runs_of(api.client) == []

        first = deliver(api.client, forge, PUSH_EVENT[forge], payload, secret)
        assert first.status_code == 200, first.text
        assert first.json()['outcome'] == 'admitted' and len(first.json()['run_ids']) == 1
        again = deliver(api.client, forge, PUSH_EVENT[forge], payload, secret)  # the forge redelivers it
        assert (
            again.json() | {'outcome': 'replayed'} == again.json()
            and again.json()['run_ids'] == first.json()['run_ids']
        )

        (run,) = runs_of(api.client)
        assert run['kind'] == 'push' and run['commit_sha'] == sha and run['branch_name'] == 'main'
        assert (run['depth_level'], run['target_framework']) == ('deep', 'go')
        assert run['pusher'] == PUSHERS[forge]
        assert run['idempotency_key'] == f'push:proj:main:{sha}'

        # a branch the rules do not select makes none
        other = commit(repo, 'wip/x')
        moved = {**payload, 'ref': 'refs/heads/wip/x', 'after': other, 'checkout_sha': other}
        skipped = deliver(api.client, forge, PUSH_EVENT[forge], moved, secret)
        assert skipped.json()['outcome'] == 'no_match'
        assert len(runs_of(api.client)) == 1


def test_a_head_commit_that_says_skip_ci_makes_no_run(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """GitHub's and GitLab's `[skip ci]` (and its spellings) in the head commit's message: no run for that push or
    pull request, seen by a webhook or by a scan; the next commit without it runs."""
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, pull_requests=True)
        trigger = api.server.services.push_trigger
        before = subprocess.run(['git', 'rev-parse', 'main'], cwd=repo, capture_output=True, text=True).stdout.strip()
        quiet = commit(repo, message='Docs only\n\nNothing to test here [Skip CI]')
        hooked = deliver(api.client, 'github', 'push', github_push('main', before, quiet), secret).json()
        assert hooked['outcome'] == 'skipped' and hooked['run_ids'] == []
        assert '[skip ci]' in hooked['detail'] and quiet[:10] in hooked['detail']
        assert trigger.scan(trigger._project('proj'), max_age=0) == []  # the scan does not run it either
        # a scan that finds such a head first skips it too
        also_quiet = commit(repo, message='[no ci] bump the changelog')
        assert [o.outcome for o in trigger.scan(trigger._project('proj'), max_age=0)] == ['skipped']
        # a pull request whose head says so
        head = commit(repo, 'feature/x', message='WIP [ci skip]')
        opened = github_pull_request('opened', 7, 'WIP', 'feature/x', head)
        assert deliver(api.client, 'github', 'pull_request', opened, secret).json()['outcome'] == 'skipped'
        assert runs_of(api.client) == [] and runs_of(api.client, 'pull_request') == []

        runs = commit(repo, message='Fix the login form')
        assert [o.outcome for o in trigger.scan(trigger._project('proj'), max_age=0)] == ['admitted']
        assert [run['commit_sha'] for run in runs_of(api.client)] == [runs]
        assert also_quiet != runs


def test_the_hook_secret_is_for_operators_and_rotates(settings_factory, repo_factory) -> None:
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        old = set_rules(api.client)
        new = api.client.post('/api/projects/proj/hook-secret').json()['secret']
        assert new != old
        payload = github_push('main', 'a' * 40, commit(repo))
        assert deliver(api.client, 'github', 'push', payload, old).status_code == 401  # the old one stops working
        assert deliver(api.client, 'github', 'push', payload, new).json()['outcome'] == 'admitted'
        assert 'hook_secret' not in api.client.get('/api/projects/proj').json()  # never answered again
        unknown = httpx.post(f'{api.server.base_url}/api/hooks/proj', content=b'{}')
        assert_problem(unknown, 401, 'bad_signature')  # no forge header: no signature to check
        # the audit log: who set the rules, who replaced the secret, the run the push started (as the rules' owner)
        actions = {(e['action'], e['target']) for e in api.client.get('/api/audit').json()['items']}
        (run,) = runs_of(api.client)
        assert {('project.updated', 'proj'), ('project.hook_secret_rotated', 'proj'), ('run.pushed', run['id'])} <= (
            actions
        )


def test_an_anonymous_caller_learns_no_project_ids_from_the_hook(api) -> None:  # noqa: ANN001
    """A refused delivery answers the same for a project that exists (with or without a hook secret) and one that
    does not: status, machine code and detail."""

    def refusals(project: str) -> list[tuple[int, str, str]]:
        body = json.dumps(github_push('main', 'a' * 40, 'b' * 40)).encode()
        answers = [
            httpx.post(f'{api.server.base_url}/api/hooks/{project}', content=body, headers=headers, timeout=30)
            for headers in (
                {},
                {'X-GitHub-Event': 'push'},
                {'X-GitHub-Event': 'push', **hooks.sign('github', body, 'a-guess')},
                {'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': 'a-guess'},
                {'X-GitHub-Event': 'push', 'X-Hub-Signature-256': 'sha256=é'.encode()},  # not ASCII: no 500 either
                {'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': 'é'.encode()},
            )
        ]
        return [(a.status_code, a.json()['error'], a.json()['detail']) for a in answers]

    missing = refusals('nope')
    assert {status for status, _, _ in missing} == {401}
    assert refusals('proj') == missing  # no hook secret yet
    set_rules(api.client)
    assert refusals('proj') == missing  # a hook secret, and a wrong or missing signature
    assert all("'nope'" not in detail for _, _, detail in missing)  # no id named back either


def test_cancel_in_progress_leaves_the_newest_push_queued(settings_factory, repo_factory) -> None:
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, cancel_in_progress=True)
        before = 'a' * 40
        shas = []
        for _ in range(3):
            sha = commit(repo)
            shas.append(sha)
            reply = deliver(api.client, 'github', 'push', github_push('main', before, sha), secret)
            assert reply.json()['outcome'] == 'admitted', reply.text
            before = sha
        runs = sorted(runs_of(api.client), key=lambda run: run['id'])
        assert [(run['commit_sha'], run['status']) for run in runs] == [
            (shas[0], 'cancelled'),
            (shas[1], 'cancelled'),
            (shas[2], 'queued'),
        ]
        detail = api.client.get(f'/api/runs/{runs[0]["id"]}').json()
        assert 'newer push' in (detail['error'] or '')
        # cancelled is terminal and can be retried like a skipped run
        assert api.client.post(f'/api/runs/{runs[0]["id"]}/retry').status_code in (201, 409)


def test_without_cancel_a_busy_branch_waits_for_the_next_fetch(settings_factory, repo_factory) -> None:
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, cancel_in_progress=False)
        first, second = commit(repo), None
        assert (
            deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, first), secret).json()['outcome']
            == 'admitted'
        )
        second = commit(repo)
        refused = deliver(api.client, 'github', 'push', github_push('main', first, second), secret).json()
        assert refused['outcome'] == 'refused' and 'pr_lock' in refused['detail']
        assert [run['commit_sha'] for run in runs_of(api.client)] == [first]


def test_a_queued_run_of_a_commit_no_longer_in_the_repository_is_superseded(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """B's run waits queued; a forced push replaces B with C and B is pruned away. C's push cancels B's run, saying B
    is no longer on the branch, and runs (B's run used to be left alone as a head this mirror had not got: it held
    the branch, and C and every later push were refused pr_lock)."""
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, cancel_in_progress=True)
        start = push_head(api)
        b = commit(repo)
        (b_run,) = deliver(api.client, 'github', 'push', github_push('main', start, b), secret).json()['run_ids']
        for args in (
            ['reset', '-q', '--hard', start],
            ['reflog', 'expire', '--expire=now', '--all'],
            ['gc', '-q', '--prune=now'],
        ):
            subprocess.run(['git', *args], cwd=repo, check=True, capture_output=True)
        c = commit(repo, name='other.txt')

        reply = deliver(api.client, 'github', 'push', {**github_push('main', b, c), 'forced': True}, secret).json()
        assert reply['outcome'] == 'admitted', reply
        runs = sorted(runs_of(api.client), key=lambda run: run['id'])
        assert [(run['commit_sha'], run['status']) for run in runs] == [(b, 'cancelled'), (c, 'queued')]
        error = api.client.get(f'/api/runs/{b_run}').json()['error']
        assert 'superseded by a newer push' in error and f'{b[:12]} is no longer on main' in error, error
        assert push_head(api) == c


def push_head(api, branch: str = 'main') -> str | None:  # noqa: ANN001
    """The head the push rules last acted on (push_head)."""
    with api.server.services.engine.connect() as conn:
        sql = text("SELECT sha FROM push_head WHERE project_id = 'proj' AND branch = :b")
        return conn.execute(sql, {'b': branch}).scalar()


def after_the_tip_check(monkeypatch, server, sha: str, then) -> None:  # noqa: ANN001
    """`then()` runs once, right after `server` found the branch at `sha` before admitting it: the window in which
    another push (a webhook, another server's fetch) lands."""
    repositories = server.services.repositories
    original, fired = repositories.branch_commit, []

    def branch_commit(project, branch):  # noqa: ANN001, ANN202
        commit = original(project, branch)
        if commit == sha and not fired:
            fired.append(True)
            then()
        return commit

    monkeypatch.setattr(repositories, 'branch_commit', branch_commit)


def test_a_scan_that_a_newer_webhook_overtakes_leaves_the_newer_run(
    settings_factory, repo_factory, monkeypatch
) -> None:  # noqa: ANN001, E501
    """A scan found B and checked the branch held it; C's webhook admitted C meanwhile. The scan's B is older: it
    cancels nothing (it used to cancel C's run, run B and move push_head back, and the next scan cancelled B's run
    and replayed C's cancelled one: nothing ran the head), its admission waits behind C's run, push_head stays C."""
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, cancel_in_progress=True)
        trigger = api.server.services.push_trigger
        b = commit(repo)  # pushed; no webhook: the scan finds it
        newer: dict[str, str] = {}

        def push_c() -> None:
            newer['sha'] = commit(repo)
            hooked = deliver(api.client, 'github', 'push', github_push('main', b, newer['sha']), secret).json()
            assert hooked['outcome'] == 'admitted', hooked

        after_the_tip_check(monkeypatch, api.server, b, push_c)
        (outcome,) = trigger.scan(trigger._project('proj'), max_age=0)
        c = newer['sha']
        assert (outcome.outcome, outcome.code) == ('refused', 'pr_lock')  # for now: retried by the next fetch
        assert [(run['commit_sha'], run['status']) for run in runs_of(api.client)] == [(c, 'queued')]
        assert push_head(api) == c
        assert trigger.scan(trigger._project('proj'), max_age=0) == []  # the next scan: nothing to do
        assert [(run['commit_sha'], run['status']) for run in runs_of(api.client)] == [(c, 'queued')]


def test_a_redelivered_old_push_does_not_move_the_head_back(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """A forge redelivers an old push whose files the path rules do not select, or whose commit says [skip ci]: no
    run, and push_head stays at the newer head (it used to go back, and the next scan diffed the old commit to the
    head, ran the docs-only head and cancelled the real run)."""
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, cancel_in_progress=True, paths=['src/**'])
        trigger = api.server.services.push_trigger
        start = push_head(api)
        docs = commit(repo, name='docs/o.md')
        old_docs = github_push('main', start, docs, ['docs/o.md'])
        assert deliver(api.client, 'github', 'push', old_docs, secret).json()['outcome'] == 'no_match'
        quiet = commit(repo, name='src/s.py', message='Tidy [skip ci]')
        old_quiet = github_push('main', docs, quiet, ['src/s.py'])
        assert deliver(api.client, 'github', 'push', old_quiet, secret).json()['outcome'] == 'skipped'
        code = commit(repo, name='src/r.py')
        reply = deliver(api.client, 'github', 'push', github_push('main', quiet, code, ['src/r.py']), secret).json()
        assert reply['outcome'] == 'admitted'
        head = commit(repo, name='docs/h.md')
        reply = deliver(api.client, 'github', 'push', github_push('main', code, head, ['docs/h.md']), secret).json()
        assert reply['outcome'] == 'no_match' and push_head(api) == head

        assert deliver(api.client, 'github', 'push', old_docs, secret).json()['outcome'] == 'no_match'
        assert push_head(api) == head
        assert deliver(api.client, 'github', 'push', old_quiet, secret).json()['outcome'] == 'skipped'
        assert push_head(api) == head
        assert trigger.scan(trigger._project('proj'), max_age=0) == []
        assert [(run['commit_sha'], run['status']) for run in runs_of(api.client)] == [(code, 'queued')]


def test_a_push_run_checks_out_the_commit_its_key_names(settings_factory, repo_factory, monkeypatch) -> None:  # noqa: ANN001
    """The branch moves to C after the scan checked it held B: B's run (key push:…:B) is at B, not C (it used to
    look the branch up again and take C). C's webhook then runs C and cancels B's queued run."""
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, cancel_in_progress=True)
        trigger = api.server.services.push_trigger
        b = commit(repo)
        newer: dict[str, str] = {}

        def push_c() -> None:  # its webhook is still on the way; the branch lists are read again (as a fetch does)
            newer['sha'] = commit(repo)
            api.server.services.repositories.branches.forget(str(repo))

        after_the_tip_check(monkeypatch, api.server, b, push_c)
        (outcome,) = trigger.scan(trigger._project('proj'), max_age=0)
        assert outcome.outcome == 'admitted', outcome
        (run,) = runs_of(api.client)
        assert (run['idempotency_key'], run['commit_sha']) == (f'push:proj:main:{b}', b)
        assert push_head(api) == b
        c = newer['sha']
        reply = deliver(api.client, 'github', 'push', github_push('main', b, c), secret).json()
        assert reply['outcome'] == 'admitted', reply
        runs = sorted(runs_of(api.client), key=lambda run: run['id'])
        assert [(run['commit_sha'], run['status']) for run in runs] == [(b, 'cancelled'), (c, 'queued')]
        assert push_head(api) == c


def keys_expire(api) -> None:  # noqa: ANN001
    """Every idempotency key past its TTL (RUNBOARD_IDEMPOTENCY_TTL_SECONDS, a day): a single run's key is free."""
    with api.server.services.engine.begin() as conn:
        conn.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))


def test_a_push_redelivered_after_its_keys_ttl_makes_no_new_run(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """The forge redelivers the branch head's push a day later, when its key no longer replays (it used to run the
    head a second time): the head was acted on already, so the answer is `replayed` with its run and says why, as
    within the TTL. The head the rules started from (no run) is no push either."""
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, cancel_in_progress=True)
        start = push_head(api)
        sha = commit(repo)
        payload = github_push('main', start, sha)
        first = deliver(api.client, 'github', 'push', payload, secret).json()
        assert first['outcome'] == 'admitted', first
        (run_id,) = first['run_ids']
        api.client.post(f'/api/runs/{run_id}/stop')
        wait_for_status(api.client, run_id, ('stopped',))  # it ended: the branch is free
        keys_expire(api)

        again = deliver(api.client, 'github', 'push', payload, secret).json()
        assert (again['outcome'], again['run_ids']) == ('replayed', [run_id]), again
        assert sha[:12] in again['detail'] and run_id in again['detail']
        assert [run['id'] for run in runs_of(api.client)] == [run_id]
        assert push_head(api) == sha

        initial = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, start), secret).json()
        assert (initial['outcome'], initial['run_ids']) == ('ignored', []), initial
        assert start[:12] in initial['detail']
        assert [run['id'] for run in runs_of(api.client)] == [run_id]
        assert push_head(api) == sha


def test_a_matrix_push_checks_out_the_commit_its_key_names(settings_factory, repo_factory, monkeypatch) -> None:  # noqa: ANN001
    """As a single push run: the branch moves to C after the webhook checked it held B; every child of B's batch
    (key push:…:B) is at B (the batch used to read the branch's head again, and its children ran C). C's webhook
    then runs C and cancels B's queued children."""
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo, max_concurrent_runs=4) as api:
        secret = set_rules(
            api.client,
            cancel_in_progress=True,
            matrix={'depth_level': ['shallow', 'deep'], 'target_framework': ['python']},
        )
        b = commit(repo)
        newer: dict[str, str] = {}

        def push_c() -> None:  # its webhook is still on the way; the branch lists are read again (as a fetch does)
            newer['sha'] = commit(repo)
            api.server.services.repositories.branches.forget(str(repo))

        after_the_tip_check(monkeypatch, api.server, b, push_c)
        reply = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, b), secret).json()
        assert reply['outcome'] == 'admitted' and len(reply['run_ids']) == 2, reply
        runs = runs_of(api.client)
        assert [run['commit_sha'] for run in runs] == [b, b]
        batch = api.client.get(f'/api/runs/batch/{runs[0]["batch_id"]}').json()
        assert (batch['idempotency_key'], batch['commit_sha']) == (f'push:proj:main:{b}', b)
        assert push_head(api) == b
        c = newer['sha']
        reply = deliver(api.client, 'github', 'push', github_push('main', b, c), secret).json()
        assert reply['outcome'] == 'admitted', reply
        by_commit = sorted((run['commit_sha'], run['status']) for run in runs_of(api.client))
        assert by_commit == sorted([(b, 'cancelled'), (b, 'cancelled'), (c, 'queued'), (c, 'queued')])
        assert push_head(api) == c


def test_a_matrix_push_makes_one_batch_of_push_runs(settings_factory, repo_factory) -> None:
    repo = repo_factory()
    settings = settings_factory(**QUEUED, **FAST_RETRIES)
    with (
        forge_api('github') as remote,
        serving(settings, repo, max_concurrent_runs=4, issue_source=forge_source(remote)) as api,
    ):
        matrix = {'depth_level': ['shallow', 'deep'], 'target_framework': ['python', 'go']}
        secret = set_rules(api.client, matrix=matrix)
        sha = commit(repo)
        payload = github_push('main', 'a' * 40, sha)
        first = deliver(api.client, 'github', 'push', payload, secret).json()
        assert first['outcome'] == 'admitted' and len(first['run_ids']) == 4, first
        again = deliver(api.client, 'github', 'push', payload, secret).json()
        assert again['outcome'] == 'replayed' and sorted(again['run_ids']) == sorted(first['run_ids'])
        runs = runs_of(api.client)
        assert len(runs) == 4 and {run['commit_sha'] for run in runs} == {sha}
        assert {(run['depth_level'], run['target_framework']) for run in runs} == {
            (d, f) for d in matrix['depth_level'] for f in matrix['target_framework']
        }
        assert {run['pusher'] for run in runs} == {'ann'} and len({run['batch_id'] for run in runs}) == 1
        # each cell is a check of its own on the commit (as GitHub names a matrix job), so one red cell stays red
        cells = {f'runboard/proj ({d}, {f}) (push)' for d in matrix['depth_level'] for f in matrix['target_framework']}
        assert {p.context for p in remote.wait_for(4)} == cells
        # a newer push cancels the queued matrix and runs its own
        newer = commit(repo)
        assert deliver(api.client, 'github', 'push', github_push('main', sha, newer), secret).json()['outcome'] == (
            'admitted'
        )
        by_commit = {(run['commit_sha'], run['status']) for run in runs_of(api.client)}
        assert by_commit == {(sha, 'cancelled'), (newer, 'queued')}


def test_cancel_running_stops_the_branchs_running_push_run(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('echo started; sleep 60')})
    with serving(settings_factory(), repo) as api:
        secret = set_rules(api.client, cancel_running=True)
        first = commit(repo, name='a.txt')
        (run_id,) = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, first), secret).json()[
            'run_ids'
        ]
        wait_for_status(api.client, run_id, ('running',))
        second = commit(repo, name='b.txt')
        reply = deliver(api.client, 'github', 'push', github_push('main', first, second), secret).json()
        stopped = wait_for_status(api.client, run_id, ('stopped',))
        assert stopped['status'] == 'stopped'
        # the branch was busy while the stop took effect: the push is admitted now or by the next fetch
        if reply['outcome'] != 'admitted':
            assert 'pr_lock' in reply['detail']
            api.server.services.push_trigger.scan_all()
        assert any(run['commit_sha'] == second for run in runs_of(api.client))


def test_a_pull_request_runs_its_head_and_the_run_links_it(settings_factory, repo_factory) -> None:
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        secret = set_rules(api.client, pull_requests=True)
        sha = commit(repo, 'feature/thing')
        payload = github_pull_request('opened', 12, 'Add the thing', 'feature/thing', sha)
        reply = deliver(api.client, 'github', 'pull_request', payload, secret)
        assert reply.json()['outcome'] == 'admitted', reply.text
        (run,) = runs_of(api.client, 'pull_request')
        detail = api.client.get(f'/api/runs/{run["id"]}').json()
        assert detail['kind'] == 'pull_request' and detail['commit_sha'] == sha
        assert (detail['pr_number'], detail['pr_title'], detail['pr_url']) == (
            12,
            'Add the thing',
            'https://github.example/team/app/pull/12',
        )
        closed = deliver(api.client, 'github', 'pull_request', {**payload, 'action': 'closed'}, secret)
        assert closed.json()['outcome'] == 'ignored'
        # a project whose rules do not ask for pull requests runs none
        api.client.patch('/api/projects/proj', json={'on_push': {'branches': ['main']}})
        sha2 = commit(repo, 'feature/thing')
        payload['pull_request']['head']['sha'] = sha2
        assert deliver(api.client, 'github', 'pull_request', payload, secret).json()['outcome'] == 'no_match'


def test_a_pull_request_runs_webhook_says_who_pushed_and_which_pull_request(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory()
    # the rules' receiver is on loopback, which team mode refuses by default (docs/security.md)
    with serving(settings_factory(**QUEUED, webhook_allowed_hosts='loopback'), repo) as api:
        secret = set_rules(api.client, pull_requests=True)
        for fmt in ('runboard', 'slack'):
            rule = {'url': f'http://127.0.0.1:9/{fmt}', 'events': ['run.stopped'], 'format': fmt, 'name': fmt}
            assert api.client.post('/api/projects/proj/notifications', json=rule).status_code == 201
        payload = github_pull_request('opened', 12, 'Add the thing', 'feature/thing', commit(repo, 'feature/thing'))
        assert deliver(api.client, 'github', 'pull_request', payload, secret).json()['outcome'] == 'admitted'
        (run,) = runs_of(api.client, 'pull_request')
        assert api.client.post(f'/api/runs/{run["id"]}/stop').status_code == 202
        bodies = {
            item['rule_name']: json.loads(api.client.get(f'/api/deliveries/{item["id"]}').json()['payload'])
            for item in api.client.get('/api/projects/proj/deliveries').json()['items']
        }
        document = bodies['runboard']['run']
        assert document['pusher'] == 'dee'
        assert document['pull_request'] == {
            'number': 12,
            'title': 'Add the thing',
            'url': 'https://github.example/team/app/pull/12',
        }
        pull = ' · pull request <https://github.example/team/app/pull/12|#12 Add the thing> · pushed by dee'
        assert pull in bodies['slack']['text']


def test_rules_are_checked_and_can_be_removed(settings_factory, repo_factory) -> None:
    repo = repo_factory()
    with serving(settings_factory(**QUEUED), repo) as api:
        bad = api.client.patch('/api/projects/proj', json={'on_push': {'branches': ['main'], 'depth_level': 'x'}})
        assert_problem(bad, 422, 'validation')
        bad = api.client.patch('/api/projects/proj', json={'on_push': {'branches': ['!main']}})
        assert_problem(bad, 422, 'validation')
        set_rules(api.client, branches=['main', 'release/*', '!release/old'])
        cleared = api.client.patch('/api/projects/proj', json={'on_push': None})
        assert cleared.status_code == 200 and cleared.json()['on_push'] is None


def delivery_log(client: httpx.Client, run_id: str, *, until, timeout: float = 30) -> list[dict]:  # noqa: ANN001
    """The run's commit-status log once `until(rows)` holds (the forge has answered before its answer is written)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = client.get('/api/projects/proj/commit-statuses', params={'run': run_id}).json()
        if until(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


# the forge API is on this machine: allowed as an administrator allows an internal forge (docs/security.md)
FAST_RETRIES = dict(
    notification_backoff_seconds=[0.05], notification_poll_seconds=0.2, webhook_allowed_hosts='loopback'
)


def forge_source(remote) -> dict:  # noqa: ANN001
    return {'kind': remote.kind, 'api_url': remote.root, 'owner': 'team', 'repo': 'app', 'token': remote.token}


@pytest.mark.parametrize('forge', ['github', 'gitea'])
def test_commit_statuses_in_the_forges_shape_retried_after_a_500(settings_factory, repo_factory, forge: str) -> None:
    repo = repo_factory()
    with forge_api(forge, answers=(500,)) as remote:  # the first post fails: it is tried again
        with serving(settings_factory(**QUEUED, **FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client)
            sha = commit(repo)
            (run_id,) = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secret).json()[
                'run_ids'
            ]
            pending = remote.wait_for_state('pending')  # the run waits queued (no run slot)
            assert remote.tries == 2  # the 500, then the same status again
            assert (pending.sha, pending.context) == (sha, 'runboard/proj (push)')
            assert pending.target_url.endswith(f'/runs/{run_id}') and pending.target_url.startswith('http')
            api.client.post(f'/api/runs/{run_id}/stop')
            ended = remote.wait_for_state('error')  # stopped before it ran: an error, not a failure
            assert (ended.sha, ended.context, ended.description) == (sha, 'runboard/proj (push)', 'Stopped')
            log = delivery_log(api.client, run_id, until=lambda rows: all(r['status'] == 'delivered' for r in rows))
            assert {(row['state'], row['status']) for row in log} == {('pending', 'delivered'), ('error', 'delivered')}
            assert next(row for row in log if row['state'] == 'pending')['attempts'] == 2


def test_a_status_the_forge_refuses_is_not_sent_again_and_says_why(settings_factory, repo_factory) -> None:
    """A 422 (the forge has no such commit: pushed elsewhere, say) cannot change by sending it again: given up at
    once, with the forge's own words in the log; the run's next state is posted as usual."""
    repo = repo_factory()
    with forge_api('github', answers=(422,)) as remote:
        with serving(settings_factory(**QUEUED, **FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client)
            sha = commit(repo)
            reply = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secret)
            (run_id,) = reply.json()['run_ids']
            [refused] = delivery_log(api.client, run_id, until=lambda rows: rows and rows[0]['status'] == 'gave_up')
            assert (refused['state'], refused['status'], refused['attempts']) == ('pending', 'gave_up', 1)
            assert refused['last_error'] == f'HTTP 422: No commit found for SHA: {sha}'
            api.client.post(f'/api/runs/{run_id}/stop')
            assert remote.wait_for_state('error').sha == sha
            assert remote.tries == 2


def test_a_succeeded_push_run_posts_success(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('exit 0')})
    with forge_api('github') as remote:
        with serving(settings_factory(**FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client)
            sha = commit(repo, name='run.sh', text='#!/bin/sh\necho pushed\nexit 0\n')
            reply = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secret)
            (run_id,) = reply.json()['run_ids']
            wait_for_status(api.client, run_id, ('succeeded',))
            final = remote.wait_for_state('success')
            assert (final.sha, final.context, final.description) == (sha, 'runboard/proj (push)', 'Succeeded')
            assert final.target_url.endswith(f'/runs/{run_id}')
            assert remote.posted[-1].state == 'success'  # an older pending never lands after it


@pytest.mark.parametrize('forge', ['github', 'gitlab'])
def test_a_retried_push_run_posts_the_retrys_state_under_the_same_check(settings_factory, repo_factory, forge) -> None:  # noqa: ANN001
    """An automatic retry (or a person's) of a push run that failed: the commit's check turns green when it succeeds,
    as GitHub's re-run does, and is never red in between; the target is the retry's page. GitLab refuses the retry's
    `pending` while the check is pending already (a 400): that is the state it shows, so the post is done."""
    repo = repo_factory({'main': shell_script('exit 0')})
    with forge_api(forge) as remote:
        with serving(settings_factory(**FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client)
            api.client.patch('/api/projects/proj', json={'auto_retry': 1, 'auto_retry_on': ['failed']})
            script = '#!/bin/sh\nif [ "$RUNBOARD_RUN_KIND" = retry ]; then echo second; exit 0; fi\nexit 1\n'
            sha = commit(repo, name='run.sh', text=script)
            (run_id,) = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secret).json()[
                'run_ids'
            ]
            assert wait_for_status(api.client, run_id)['status'] == 'failed'
            deadline = time.monotonic() + 30
            while not (retried := api.client.get(f'/api/runs/{run_id}').json()['retried_by']):
                assert time.monotonic() < deadline, 'not retried'
                time.sleep(0.1)
            assert wait_for_status(api.client, retried[0])['status'] == 'succeeded'
            final = remote.wait_for_state('success')
            assert (final.sha, final.context) == (sha, 'runboard/proj (push)')
            assert final.target_url.endswith(f'/runs/{retried[0]}')
            deadline = time.monotonic() + 10
            while remote.posted[-1].state != 'success':  # an older state of the first attempt never lands after it
                assert time.monotonic() < deadline, [p.state for p in remote.posted]
                time.sleep(0.05)
            # the first attempt's end, retried automatically, was never shown as red: the check stayed pending (the
            # statuses of a commit are coalesced: on a busy machine the pendings may all be overtaken by the success)
            states = [p.state for p in remote.posted]
            assert set(states) <= {'pending', 'success'} and states[-1] == 'success', states
            for attempt in (run_id, retried[0]):
                log = delivery_log(api.client, attempt, until=lambda rows: all(r['status'] != 'pending' for r in rows))
                assert all(r['status'] in ('delivered', 'superseded') and r['last_error'] is None for r in log), log


JUNIT_SCRIPT = """#!/bin/sh
cat > "$RUNBOARD_ARTIFACTS_DIR/junit.xml" <<'XML'
<testsuite name="t" tests="3"><testcase classname="t" name="ok"/><testcase classname="t" name="bad">
<failure message="boom"/></testcase><testcase classname="t" name="later"><skipped/></testcase></testsuite>
XML
echo '<coverage line-rate="0.75" lines-covered="3" lines-valid="4"/>' > "$RUNBOARD_ARTIFACTS_DIR/coverage.xml"
exit 1
"""


def test_a_failed_push_runs_status_says_what_its_tests_did(settings_factory, repo_factory) -> None:
    # what a reviewer reads beside the pull request without opening the run
    repo = repo_factory({'main': shell_script('exit 0')})
    with forge_api('github') as remote:
        with serving(settings_factory(**FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client)
            sha = commit(repo, name='run.sh', text=JUNIT_SCRIPT)
            reply = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secret)
            (run_id,) = reply.json()['run_ids']
            wait_for_status(api.client, run_id, ('failed',))
            final = remote.wait_for_state('failure')
            assert (final.sha, final.description) == (sha, 'Failed: 1 of 3 tests failed, coverage 75.0 %')


def test_a_push_and_a_pull_request_on_one_commit_are_two_checks(settings_factory, repo_factory) -> None:
    """A push to a pull request's branch runs both (one after the other: the branch holds one run at a time); each
    has its own check on the forge, so the push run's end is not hidden by the pull-request run's (the forge keeps
    one state per name)."""
    repo = repo_factory()
    with forge_api('github') as remote:
        with serving(settings_factory(**QUEUED, **FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client, branches=['feature/*'], pull_requests=True)
            sha = commit(repo, 'feature/thing')
            push = github_push('feature/thing', 'a' * 40, sha)
            (push_run,) = deliver(api.client, 'github', 'push', push, secret).json()['run_ids']
            pull_request = github_pull_request('synchronize', 7, 'Thing', 'feature/thing', sha)
            api.client.post(f'/api/runs/{push_run}/stop')
            remote.wait_for_state('error')
            reply = deliver(api.client, 'github', 'pull_request', pull_request, secret).json()
            assert reply['outcome'] == 'admitted', reply
            (pr_run,) = reply['run_ids']
            delivery_log(api.client, pr_run, until=lambda rows: [row['status'] for row in rows] == ['delivered'])
            last = {posted.context: (posted.sha, posted.state) for posted in remote.posted}
            assert last == {
                'runboard/proj (push)': (sha, 'error'),
                'runboard/proj (pull_request)': (sha, 'pending'),  # still queued
            }


def test_a_pull_request_kept_out_by_its_push_run_runs_when_that_run_ends(settings_factory, repo_factory) -> None:
    """A push to a pull request's branch sends two events; the push run takes the branch first, so the pull
    request's run is refused for now. It waits (the hook's answer says so) and is admitted when the push run ends:
    the forge sends nothing more, and a required pull-request check would otherwise never appear."""
    repo = repo_factory()
    with forge_api('github') as remote:
        with serving(settings_factory(**QUEUED, **FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client, branches=['feature/*'], pull_requests=True)
            sha = commit(repo, 'feature/thing')
            push = github_push('feature/thing', 'a' * 40, sha)
            (push_run,) = deliver(api.client, 'github', 'push', push, secret).json()['run_ids']
            pull_request = github_pull_request('synchronize', 7, 'Thing', 'feature/thing', sha)
            reply = deliver(api.client, 'github', 'pull_request', pull_request, secret).json()
            assert (reply['outcome'], reply['run_ids']) == ('waiting', []), reply
            assert reply['detail'].startswith('pr_lock: ') and 'tried again as runs end' in reply['detail']
            assert runs_of(api.client, 'pull_request') == []
            api.client.post(f'/api/runs/{push_run}/stop')  # queued: it ends at once, and its end is heard
            deadline = time.monotonic() + 30
            # admitted, then marked with its pull request's facts (as a hook's admission is)
            while not (runs := [r for r in runs_of(api.client, 'pull_request') if r['pr_number'] is not None]):
                assert time.monotonic() < deadline, 'the waiting pull request was not admitted'
                time.sleep(0.1)
            [pr_run] = runs
            assert (pr_run['commit_sha'], pr_run['pr_number'], pr_run['pr_title']) == (sha, 7, 'Thing')
            assert remote.wait_for_state('pending').context in ('runboard/proj (push)', 'runboard/proj (pull_request)')
            delivery_log(api.client, pr_run['id'], until=lambda rows: [row['status'] for row in rows] == ['delivered'])
            assert {p.context for p in remote.posted} == {'runboard/proj (push)', 'runboard/proj (pull_request)'}
            again = deliver(api.client, 'github', 'pull_request', pull_request, secret).json()
            assert (again['outcome'], again['run_ids']) == ('replayed', [pr_run['id']])
            with api.server.services.engine.connect() as conn:  # admitted: nothing waits any more
                assert conn.execute(text('SELECT count(*) FROM pull_request_wait')).scalar() == 0


def test_a_run_keeps_the_context_its_first_state_was_posted_under(settings_factory, repo_factory) -> None:
    """A run whose `pending` went out under an older context name (before an upgrade) ends under that name too:
    the forge would otherwise show that check pending for ever."""
    repo = repo_factory()
    with forge_api('github') as remote:
        with serving(settings_factory(**QUEUED, **FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client)
            sha = commit(repo)
            (run_id,) = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secret).json()[
                'run_ids'
            ]
            delivery_log(api.client, run_id, until=lambda rows: [row['status'] for row in rows] == ['delivered'])
            with api.server.services.engine.begin() as conn:  # as the release before the '(push)' suffix named it
                conn.execute(
                    text("UPDATE commit_status SET context = 'runboard/proj' WHERE run_id = :r"), {'r': run_id}
                )
            api.client.post(f'/api/runs/{run_id}/stop')
            ended = remote.wait_for_state('error')
            assert (ended.sha, ended.context) == (sha, 'runboard/proj')


def test_two_servers_post_a_commits_states_one_at_a_time_in_order(settings_factory, repo_factory) -> None:
    """The forge shows the last state it received: while one server's `pending` is on the wire, another server does
    not post the run's end state, which then arrives after it."""
    repo = repo_factory()
    with forge_api('github', held=True) as stuck:
        shared = {**FAST_RETRIES, 'notification_timeout_seconds': 60, 'secret_key': Fernet.generate_key().decode()}
        settings = settings_factory(**QUEUED, **shared)
        with serving(settings, repo, issue_source=forge_source(stuck)) as api:
            secret = set_rules(api.client)
            sha = commit(repo)
            (run_id,) = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secret).json()[
                'run_ids'
            ]
            stuck.wait_for_held()  # the first server's pending, unanswered
            with api_server(same_database(settings_factory, settings, **shared)):
                api.client.post(f'/api/runs/{run_id}/stop')
                recorded = delivery_log(api.client, run_id, until=lambda rows: len(rows) == 2)
                assert {row['state'] for row in recorded} == {'pending', 'error'}
                deadline = time.monotonic() + 1.5  # several passes of both servers (every 0.2 s)
                while time.monotonic() < deadline:
                    assert stuck.waiting == 1, 'a second state of the commit was posted while the first was on the wire'
                    time.sleep(0.02)
                stuck.release()
                assert [(posted.sha, posted.state) for posted in stuck.wait_for(2)] == [
                    (sha, 'pending'),
                    (sha, 'error'),
                ]


def test_a_forge_that_does_not_answer_holds_only_its_own_projects_statuses(settings_factory, repo_factory) -> None:
    """Two projects on two forges: while the first forge holds its status request unanswered, the second project's
    statuses still arrive; once the first forge answers, its project's statuses arrive too, in order."""
    repo, other_repo = repo_factory(), repo_factory()
    with forge_api('github', held=True) as stuck, forge_api('gitea') as answering:
        settings = settings_factory(**QUEUED, **FAST_RETRIES, notification_timeout_seconds=60)
        with serving(settings, repo, issue_source=forge_source(stuck)) as api:
            create_project(api.client, other_repo, project_id='other', issue_source=forge_source(answering))
            secrets = {'proj': set_rules(api.client), 'other': set_rules(api.client, project='other')}
            stuck_sha = commit(repo)
            (stuck_run,) = deliver(
                api.client, 'github', 'push', github_push('main', 'a' * 40, stuck_sha), secrets['proj']
            ).json()['run_ids']
            stuck.wait_for_held()  # its pending status is on the wire, unanswered
            api.client.post(f'/api/runs/{stuck_run}/stop')  # its error status waits behind the pending one
            sha = commit(other_repo)
            (run_id,) = deliver(
                api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secrets['other'], project='other'
            ).json()['run_ids']
            assert answering.wait_for_state('pending').sha == sha
            api.client.post(f'/api/runs/{run_id}/stop')
            assert answering.wait_for_state('error').sha == sha
            assert stuck.posted == []  # still held
            stuck.release()
            assert [(posted.sha, posted.state) for posted in stuck.wait_for(2)] == [
                (stuck_sha, 'pending'),
                (stuck_sha, 'error'),
            ]


def forge_shows(remote, sha: str, state: str, timeout: float = 15) -> None:  # noqa: ANN001
    """Until the forge's check `runboard/proj (push)` on `sha` is in `state` (its last accepted status)."""
    deadline = time.monotonic() + timeout
    while remote.current.get((sha, 'runboard/proj (push)')) != state:
        assert time.monotonic() < deadline, f'{sha[:12]} is {remote.current.get((sha, "runboard/proj (push)"))}'
        time.sleep(0.05)


def test_a_pushed_commit_that_waits_for_its_branch_is_pending_on_the_forge_at_once(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """As GitHub shows a queued check at once: a commit pushed while its branch's run is still going is `pending` on
    the forge before its run exists, linking the run it waits for. Replaced by a newer push before it ran, it ends
    `error` (it never runs: the branch runs its newest head), never pending for ever; the newest head, once its run
    is admitted, shows that run."""
    repo = repo_factory()
    with forge_api('github') as remote:
        with serving(settings_factory(**QUEUED, **FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client, cancel_in_progress=False)
            first = commit(repo)
            (first_run,) = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, first), secret).json()[
                'run_ids'
            ]
            second = commit(repo)
            assert (
                deliver(api.client, 'github', 'push', github_push('main', first, second), secret).json()['outcome']
                == 'refused'
            )
            forge_shows(remote, second, 'pending')
            waiting = next(posted for posted in remote.posted if posted.sha == second)
            assert waiting.description == f"Waiting: the branch's run {first_run} is still going"
            assert waiting.target_url.endswith(f'/runs/{first_run}')

            third = commit(repo)
            deliver(api.client, 'github', 'push', github_push('main', second, third), secret)
            forge_shows(remote, third, 'pending')
            forge_shows(remote, second, 'error')  # replaced before it ran
            ended = [posted for posted in remote.posted if posted.sha == second][-1]
            assert ended.description == f'Cancelled by a newer push ({third[:12]}) before it ran'

            api.client.post(f'/api/runs/{first_run}/stop')
            api.server.services.push_trigger.scan_all()  # the next fetch: the branch is free, its newest head runs
            [third_run] = [run['id'] for run in runs_of(api.client) if run['commit_sha'] == third]
            deadline = time.monotonic() + 15
            while not (shown := [posted for posted in remote.posted if posted.sha == third])[-1].target_url.endswith(
                f'/runs/{third_run}'
            ):
                assert time.monotonic() < deadline, shown
                time.sleep(0.05)
            assert (shown[-1].state, shown[-1].description) == ('pending', 'Queued on Runboard')
            assert remote.current[(second, 'runboard/proj (push)')] == 'error'
            assert [run['commit_sha'] for run in runs_of(api.client)].count(second) == 0


def test_a_waiting_commit_whose_branch_is_deleted_ends_on_the_forge(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """A waiting head runs when a scan finds its branch free; a branch deleted meanwhile is never scanned again, so
    its waiting commit ends `error` saying why instead of staying pending on the forge for ever."""
    repo = repo_factory()
    with forge_api('github') as remote:
        with serving(settings_factory(**QUEUED, **FAST_RETRIES), repo, issue_source=forge_source(remote)) as api:
            secret = set_rules(api.client, branches=['main', 'feature/*'], cancel_in_progress=False)
            first = commit(repo, 'feature/x')
            deliver(api.client, 'github', 'push', github_push('feature/x', 'a' * 40, first), secret)
            second = commit(repo, 'feature/x')
            deliver(api.client, 'github', 'push', github_push('feature/x', first, second), secret)
            forge_shows(remote, second, 'pending')

            subprocess.run(['git', 'checkout', '-q', 'main'], cwd=repo, check=True)
            subprocess.run(['git', 'branch', '-q', '-D', 'feature/x'], cwd=repo, check=True)
            api.server.services.push_trigger.scan_all()
            forge_shows(remote, second, 'error')
            ended = [posted for posted in remote.posted if posted.sha == second][-1]
            assert ended.description == 'Not run: its branch was deleted'


def test_a_commit_to_a_path_project_runs_within_seconds_without_a_webhook(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """A project on a path of the server (local mode's usual project): its branches are looked at every
    push_scan_local_seconds, so a commit runs in seconds, not at the next mirror fetch (an hour here); a branch
    made, or a commit on a branch in a folder (`feature/x`), too. Branches that did not change cost no scan."""
    repo = repo_factory()
    settings = settings_factory(**QUEUED, push_scan_local_seconds=0.2, mirror_fetch_seconds=3600.0)
    with serving(settings, repo) as api:
        set_rules(api.client, branches=['main', 'feature/**'], cancel_in_progress=True)
        trigger = api.server.services.push_trigger
        deadline = time.monotonic() + 30
        while not trigger._local_refs and time.monotonic() < deadline:  # the first look: the baseline
            time.sleep(0.05)
        first = commit(repo)
        second = commit(repo, 'feature/x')

        def pushed() -> set[str]:
            return {run['commit_sha'] for run in runs_of(api.client)}

        while pushed() != {first, second} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pushed() == {first, second}
        newer = commit(repo)  # the next commit cancels the queued run of the one before, as a webhook's push does
        while newer not in pushed() and time.monotonic() < deadline:
            time.sleep(0.1)
        by_commit = {(run['commit_sha'], run['status']) for run in runs_of(api.client) if run['branch_name'] == 'main'}
        assert by_commit == {(first, 'cancelled'), (newer, 'queued')}
        assert trigger.scan_changed_local() == 0  # nothing changed since: no scan
