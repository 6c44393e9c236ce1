"""Approvals on every backend (docs/security.md, "Approvals"; GitHub's required reviewers): with `approval_required`,
a run of a protected branch that a builder starts waits, holding nothing, until an operator approves it; then it
runs the commit it was asked for, even if the branch moved meanwhile. Operators' own runs and other branches' runs do
not wait; a builder cannot approve; an approved or ended run cannot be approved again; Stop rejects."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

from app.services.runs import approvals
from tests.helpers.api import add_user, assert_problem
from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, outputs, shell_script, statuses, trigger, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.webhooks import receiver

PRINTS = shell_script('echo "commit=$RUNBOARD_COMMIT"')


def head(repo: Path, branch: str = 'main') -> str:
    return subprocess.run(
        ['git', 'rev-parse', branch], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def move(repo: Path) -> str:
    """A new commit on main; its sha."""
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.com']
    subprocess.run(['git', 'checkout', '-q', 'main'], cwd=repo, check=True)
    (repo / 'later.txt').write_text('later\n')
    subprocess.run(['git', 'add', 'later.txt'], cwd=repo, check=True)
    subprocess.run(['git', *ident, 'commit', '-q', '-m', 'later'], cwd=repo, check=True)
    return head(repo)


def still(client: httpx.Client, run_id: str, status: str, seconds: float = 2.0) -> dict:
    """The run stays `status` for a while (more than a few sweeps of the delayed runs)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = client.get(f'/api/runs/{run_id}').json()
        assert run['status'] == status, run
        time.sleep(0.2)
    return run


def test_a_builders_run_of_a_protected_branch_waits_for_an_operator(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': PRINTS, 'feature/x': PRINTS})
    with api_server(settings_factory()) as server, server.client() as operator:
        create_project(operator, repo)
        assert operator.patch('/api/projects/proj', json={'approval_required': True}).json()['approval_required']
        with server.client(add_user(server, name='bob')) as builder:
            asked = trigger(builder, key='deploy').json()
            assert (asked['status'], asked['approval']) == ('delayed', 'waiting')
            run = still(builder, asked['id'], 'delayed')
            assert "waiting for an operator's approval (branch main is protected)" in statuses(
                builder.get(f'/api/runs/{asked["id"]}').json()
            )
            assert trigger(builder, key='deploy').json()['id'] == asked['id']  # a resend replays: one run
            other = wait_for_status(builder, trigger(builder, branch='feature/x').json()['id'])
            assert other['status'] == 'succeeded' and other['approval'] is None  # not a protected branch

            assert_problem(builder.post(f'/api/runs/{asked["id"]}/approve'), 403, 'forbidden')
            asked_commit = asked['commit_sha']
            assert asked_commit == head(repo)
            moved = move(repo)  # the branch moves on before the approval
            approved = operator.post(f'/api/runs/{asked["id"]}/approve')
            assert approved.status_code == 200, approved.text
            assert approved.json()['approval'] == 'approved' and approved.json()['approved_by']
            done = wait_for_status(builder, asked['id'], timeout=60)
            assert done['status'] == 'succeeded', done
            assert outputs(done) == [f'commit={asked_commit}'] and moved != asked_commit  # what was asked for
            assert 'approved by' in ' '.join(statuses(done)) and done['user_id'] == run['user_id']
            assert_problem(operator.post(f'/api/runs/{asked["id"]}/approve'), 409, 'not_awaiting_approval')
            audit = operator.get('/api/audit', params={'action': 'run.approved'}).json()['items']
            assert [entry['target'] for entry in audit] == [asked['id']]

            rejected = trigger(builder, key='again').json()
            assert rejected['approval'] == 'waiting'
            assert operator.post(f'/api/runs/{rejected["id"]}/stop').status_code == 202
            ended = wait_for_status(builder, rejected['id'])
            assert ended['status'] == 'stopped'
            assert any(line.startswith('not approved: cancelled by') for line in statuses(ended)), statuses(ended)
            assert_problem(operator.post(f'/api/runs/{rejected["id"]}/approve'), 409, 'not_awaiting_approval')

        mine = wait_for_status(operator, trigger(operator, key='operator').json()['id'])
        assert mine['status'] == 'succeeded' and mine['approval'] is None  # an operator's own run does not wait


def test_the_cli_approves_and_shows_the_wait(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory()) as server, server.client() as operator:
        create_project(operator, repo_factory({'main': PRINTS}))
        assert run_cli(server.base_url, server.token, 'projects', 'edit', 'proj', '--approval-required').code == 0
        shown = run_cli(server.base_url, server.token, 'projects', 'show', 'proj')
        assert "main's runs by builders wait for an operator" in shown.stdout, shown.stdout
        bob = add_user(server, name='bob')
        args = (
            'runs',
            'trigger',
            '--project',
            'proj',
            '--branch',
            'main',
            '--depth',
            'shallow',
            '--framework',
            'python',
        )
        said = run_cli(server.base_url, bob, *args)
        assert said.code == 0 and "It waits for an operator's approval (branch main is protected)" in said.stdout, said
        assert 'runboard runs approve run_' in said.stdout and 'It runs at' not in said.stdout
        with server.client(bob) as builder:
            asked = builder.get('/api/runs').json()['items'][0]
        listed = run_cli(server.base_url, server.token, 'runs', 'list', '--status', 'awaiting_approval', '--json')
        assert [run['id'] for run in listed.json()['items']] == [asked['id']], listed
        table = run_cli(server.base_url, server.token, 'runs', 'list', '--project', 'proj')
        assert 'awaiting approval' in table.stdout, table.stdout
        shown = run_cli(server.base_url, server.token, 'runs', 'show', asked['id'])
        assert 'waiting for approval' in shown.stdout, shown.stdout
        approved = run_cli(server.base_url, server.token, 'runs', 'approve', asked['id'])
        assert approved.code == 0 and f'Approved {asked["id"]}' in approved.stdout, approved
        assert wait_for_status(operator, asked['id'], timeout=60)['status'] == 'succeeded'
        again = run_cli(server.base_url, server.token, 'runs', 'approve', asked['id'])
        assert again.code != 0 and 'not_awaiting_approval' in again.stdout + again.stderr

        with server.client(bob) as builder:  # two more: approved by naming them, then --all finds none left
            more = [trigger(builder, key=f'more-{n}').json()['id'] for n in range(2)]
        both = run_cli(server.base_url, server.token, 'runs', 'approve', *more, asked['id'])
        assert both.code == 0, both
        assert f'{more[0]}: approved' in both.stdout and f'{more[1]}: approved' in both.stdout
        assert f'{asked["id"]}: skipped' in both.stdout and '2 approved, 1 skipped, 0 refused' in both.stdout
        none = run_cli(server.base_url, server.token, 'runs', 'approve', '--all', '--project', 'proj')
        assert none.code == 0 and 'Nothing to approve' in none.stderr, none
        with server.client(bob) as builder:
            last = trigger(builder, key='last').json()['id']
        denied = run_cli(server.base_url, bob, 'runs', 'approve', '--all')
        assert denied.code == 4 and 'forbidden' in denied.stdout + denied.stderr, denied
        every = run_cli(server.base_url, server.token, 'runs', 'approve', '--all', '--json')
        assert every.code == 0 and [item['run_id'] for item in every.json()['items']] == [last], every
        for run_id in [*more, last]:
            assert wait_for_status(operator, run_id, timeout=60)['status'] == 'succeeded'
        usage = run_cli(server.base_url, server.token, 'runs', 'approve')
        assert usage.code == 2 and 'or --all' in usage.stdout + usage.stderr


def test_a_run_that_waits_is_told_to_the_rules_that_subscribe(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """A webhook (a Slack channel of operators) hears once of each run that waits for an approval, however many runs
    wait in projects whose rules do not ask to hear of it."""
    settings = settings_factory(
        notification_poll_seconds=0.2, webhook_allowed_hosts='loopback', rate_limit_runs=1000, global_run_cap=0
    )
    with receiver() as rx, api_server(settings) as server, server.client() as operator:
        repo = repo_factory({'main': PRINTS})
        create_project(operator, repo, project_id='busy', approval_required=True, max_concurrent_runs=200)
        failures_only = {'url': rx.url, 'events': ['run.failed'], 'format': 'slack'}
        assert operator.post('/api/projects/busy/notifications', json=failures_only).status_code == 201
        create_project(operator, repo, approval_required=True)
        reply = operator.post(
            '/api/projects/proj/notifications',
            json={'url': rx.url, 'events': ['run.awaiting_approval'], 'format': 'slack'},
        )
        assert reply.status_code == 201, reply.text
        with server.client(add_user(server, name='bob')) as builder:
            for n in range(101):  # older than the run below, and never told: no rule of theirs asks
                assert trigger(builder, 'busy', key=f'busy-{n}').status_code == 201
            asked = trigger(builder).json()
        server.services.settings.global_run_cap = 10  # the approved run may run
        [told] = rx.wait_for(1)
        assert told.headers['x-runboard-event'] == 'run.awaiting_approval'
        text = json.loads(told.body)['text']
        assert asked['id'] in text and "waits for an operator's approval" in text and 'bob' in text, text
        time.sleep(1)  # more passes of the sender: told once
        assert len(rx.requests) == 1
        assert operator.post(f'/api/runs/{asked["id"]}/approve').status_code == 200
        assert wait_for_status(operator, asked['id'], timeout=60)['status'] == 'succeeded'
        assert len(rx.requests) == 1  # the run's success is not an event this rule asked for


def test_a_builders_all_or_nothing_batch_waits_for_an_operator_too(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """An all-or-nothing matrix batch admits its children in one transaction: they wait for approval as every other
    way a builder starts a run of a protected branch does (they went straight to the queue, protected secrets and
    all)."""
    matrix = {'depth_level': ['shallow'], 'target_framework': ['python', 'node']}
    with api_server(settings_factory()) as server, server.client() as operator:
        create_project(operator, repo_factory({'main': PRINTS}), approval_required=True, max_concurrent_runs=5)
        with server.client(add_user(server, name='bob')) as builder:
            made = builder.post(
                '/api/runs/batch',
                json={'project_id': 'proj', 'branch': 'main', 'matrix': matrix, 'mode': 'all_or_nothing'},
            )
        assert made.status_code == 201, made.text
        runs = [child['run'] for child in made.json()['children']]
        assert [(run['status'], run['approval']) for run in runs] == [('delayed', 'waiting')] * 2


def test_an_operator_approves_many_runs_at_once_and_a_builder_cannot(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """GitHub's "Review deployments" for a whole workflow: the runs list's bulk Approve and a matrix batch's
    Approve all (the page's button, `runs batch --approve-all`) let each waiting run go and skip the others."""
    matrix = {'depth_level': ['shallow'], 'target_framework': ['python', 'node']}
    with api_server(settings_factory()) as server, server.client() as operator:
        repo = repo_factory({'main': PRINTS, 'feature/x': PRINTS})
        create_project(operator, repo, approval_required=True, max_concurrent_runs=5)
        builder_token = add_user(server, name='bob')
        with server.client(builder_token) as builder:
            first = builder.post(
                '/api/runs/batch',
                json={'project_id': 'proj', 'branch': 'main', 'matrix': matrix},
                headers={'Idempotency-Key': 'matrix-1'},
            ).json()
            waiting = [child['run']['id'] for child in first['children']]
            assert [child['run']['approval'] for child in first['children']] == ['waiting', 'waiting']
            other = trigger(builder, branch='feature/x').json()['id']  # not a protected branch: it does not wait
            by_builder = builder.post(
                '/api/runs/bulk', json={'action': 'approve', 'run_ids': waiting}, headers={'Idempotency-Key': 'b-1'}
            )
            assert_problem(by_builder, 403, 'forbidden')

        assert operator.get('/api/projects/proj').json()['awaiting_approval'] == 2  # the card's "2 runs wait"
        assert [p['awaiting_approval'] for p in operator.get('/api/projects').json()] == [2]
        listed = operator.get('/api/runs', params={'status': 'awaiting_approval'}).json()['items']
        assert sorted(run['id'] for run in listed) == sorted(waiting)  # GitHub's status=waiting: not the other run
        either = operator.get('/api/runs', params={'status': 'awaiting_approval,running,succeeded,queued'}).json()
        assert {run['id'] for run in either['items']} == {*waiting, other}
        body = {'action': 'approve', 'run_ids': [*waiting, other]}
        sent = operator.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'approve-1'})
        assert sent.status_code == 200, sent.text
        answer = sent.json()
        assert answer['summary'] == {'done': 2, 'skipped': 1, 'refused': 0}
        assert [item['outcome'] for item in answer['items']] == ['done', 'done', 'skipped']
        assert answer['items'][2]['error'] == 'not_awaiting_approval'
        again = operator.post('/api/runs/bulk', json=body, headers={'Idempotency-Key': 'approve-1'})
        assert again.headers['idempotent-replayed'] == 'true' and again.json() == answer
        for run_id in [*waiting, other]:
            ended = wait_for_status(operator, run_id, timeout=60)
            assert ended['status'] == 'succeeded', statuses(ended)
            # siblings of one batch share their branch (as when admitted at once): neither waited for the other
            assert not [line for line in statuses(ended) if 'waits' in line], statuses(ended)
        assert operator.get('/api/projects/proj').json()['awaiting_approval'] == 0
        audit = operator.get('/api/audit', params={'action': 'run.approved'}).json()['items']
        assert sorted(entry['target'] for entry in audit) == sorted(waiting)  # each once, the resend acted on none

        second = run_cli(
            server.base_url,
            builder_token,
            'runs', 'trigger', '--project', 'proj', '--branch', 'main',
            '--matrix', 'depth=shallow', '--matrix', 'framework=python,node', '--key', 'matrix-2', '--json',
        )  # fmt: skip
        assert second.code == 0, second
        batch_id = second.json()['id']
        refused = run_cli(server.base_url, builder_token, 'runs', 'batch', batch_id, '--approve-all')
        assert refused.code != 0 and 'forbidden' in refused.stdout + refused.stderr, refused
        approved = run_cli(server.base_url, server.token, 'runs', 'batch', batch_id, '--approve-all')
        assert approved.code == 0, approved
        assert (approved.stdout + approved.stderr).count(': approved') == 2, approved
        batch = operator.get(f'/api/runs/batch/{batch_id}').json()
        for child in batch['children']:
            assert child['run']['approval'] == 'approved'
            assert wait_for_status(operator, child['run']['id'], timeout=60)['status'] == 'succeeded'
        nothing = run_cli(server.base_url, server.token, 'runs', 'batch', batch_id, '--approve-all')
        assert nothing.code == 0 and 'Nothing to approve' in nothing.stderr, nothing


def held_back_row(client: httpx.Client, run_id: str, timeout: float = 30) -> dict:
    """The run's row in the runs list once it says what holds it back."""
    deadline = time.monotonic() + timeout
    while True:
        [row] = [run for run in client.get('/api/runs', params={'limit': 100}).json()['items'] if run['id'] == run_id]
        if row['waits_for'] is not None:
            return row
        assert time.monotonic() < deadline and row['status'] == 'delayed', row
        time.sleep(0.05)


def test_an_approved_run_waits_for_the_branch_instead_of_ending_skipped(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Approved while another run holds its branch: it waits (its log says why, once) and runs when the branch is
    free, as GitHub queues an approved job behind its concurrency group; it does not end skipped."""
    slow = shell_script('sleep 3; echo "commit=$RUNBOARD_COMMIT"')
    with api_server(settings_factory()) as server, server.client() as operator:
        create_project(operator, repo_factory({'main': slow}), approval_required=True)
        with server.client(add_user(server, name='bob')) as builder:
            asked = trigger(builder, key='deploy').json()
        holder = trigger(operator, key='holder').json()  # an operator's own run of main: it holds the branch
        assert holder['status'] == 'queued'
        assert operator.post(f'/api/runs/{asked["id"]}/approve').status_code == 200
        held = held_back_row(operator, asked['id'])  # the runs list's row says why it waits
        assert held['status'] == 'delayed' and holder['id'] in held['waits_for'], held
        done = wait_for_status(operator, asked['id'], timeout=60)
        assert done['waits_for'] is None  # admitted: it waits for nothing
        assert done['status'] == 'succeeded', statuses(done)
        said = statuses(done)
        waits = [line for line in said if line.startswith('approved, waits:')]
        assert len(waits) == 1 and 'locked by active run' in waits[0] and holder['id'] in waits[0], said
        assert said.index(waits[0]) < said.index('queued', said.index(waits[0]))  # queued after the wait
        ended = wait_for_status(operator, holder['id'])
        assert ended['status'] == 'succeeded' and ended['finished_at'] <= done['started_at']


def test_a_held_back_run_is_tried_when_the_holder_ends_not_at_its_next_try(
    settings_factory, repo_factory, monkeypatch
) -> None:  # noqa: ANN001
    """The end of the run that held its branch is what lets an approved run go: its next try (every 5 s) is a fallback,
    here an hour away, so only the holder's end can start it."""
    monkeypatch.setattr(approvals, 'RETRY_EVERY', timedelta(hours=1))
    with api_server(settings_factory()) as server, server.client() as operator:
        create_project(operator, repo_factory({'main': shell_script('sleep 2; echo done')}), approval_required=True)
        with server.client(add_user(server, name='bob')) as builder:
            asked = trigger(builder, key='deploy').json()
        holder = trigger(operator, key='holder').json()
        assert operator.post(f'/api/runs/{asked["id"]}/approve').status_code == 200
        assert holder['id'] in held_back_row(operator, asked['id'])['waits_for']
        done = wait_for_status(operator, asked['id'], timeout=60)
        assert done['status'] == 'succeeded', statuses(done)
        assert wait_for_status(operator, holder['id'])['finished_at'] <= done['started_at']


def test_a_request_nobody_approves_in_30_days_expires(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """GitHub's pending deployments end after 30 days: an old commit is never run by a later "approve all"."""
    with api_server(settings_factory()) as server, server.client() as operator:
        create_project(operator, repo_factory({'main': PRINTS}), approval_required=True)
        with server.client(add_user(server, name='bob')) as builder:
            old, recent = (trigger(builder, key=key).json()['id'] for key in ('old', 'recent'))
        with server.services.engine.begin() as conn:  # asked for 31 days ago (run ids need not match their time)
            before = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=31)
            conn.execute(text('UPDATE run SET created_at = :at WHERE id = :id'), {'at': before, 'id': old})
        expired = wait_for_status(operator, old, ('expired',), timeout=30)
        assert expired['status'] == 'expired' and expired['started_at'] is None
        assert expired['error'] == 'Not approved within 30 days of its request.'
        assert statuses(expired)[-1] == 'expired: not approved within 30 days'
        assert_problem(operator.post(f'/api/runs/{old}/approve'), 409, 'not_awaiting_approval')
        assert operator.get(f'/api/runs/{recent}').json()['approval'] == 'waiting'  # a day's wait is not too long
        every = run_cli(server.base_url, server.token, 'runs', 'approve', '--all', '--json')
        assert [item['run_id'] for item in every.json()['items']] == [recent], every
