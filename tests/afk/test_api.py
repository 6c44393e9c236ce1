"""AFK and issues endpoints over HTTP (contract the CLI and the UI code against)."""

from __future__ import annotations

from datetime import datetime

import httpx

from app.models import Role
from app.services.identity import accounts
from tests.helpers.runs import (
    create_project,
    outputs,
    shell_script,
    statuses,
    trigger,
    wait_for_output,
    wait_for_status,
)
from tests.helpers.servers import api_server


def _builder_token(server) -> str:  # noqa: ANN001
    _, token = accounts.create_user(
        server.services.engine, name='bob', role=Role.builder, team_ids=[accounts.LOCAL_TEAM]
    )
    return token


def test_issues_contract(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 0')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='proj')
        created = client.post(
            '/api/projects/proj/issues', json={'title': 'Fix it', 'body': 'details', 'labels': ['ready-for-agent']}
        )
        assert created.status_code == 201, created.text
        assert created.json() == {
            'number': 1,
            'title': 'Fix it',
            'body': 'details',
            'labels': ['ready-for-agent'],
            'state': 'open',
            'ready': True,
            'claim': None,
        }
        second = client.post('/projects/proj/issues', json={'title': 'Later'})  # bare path
        assert second.status_code == 201 and second.json()['number'] == 2 and second.json()['ready'] is False
        assert [i['number'] for i in client.get('/api/projects/proj/issues').json()] == [1, 2]
        assert client.get('/api/projects/proj').json()['ready_count'] == 1

        patched = client.patch('/api/projects/proj/issues/2', json={'labels': ['ready-for-agent'], 'title': 'Now'})
        assert patched.status_code == 200 and patched.json()['ready'] and patched.json()['title'] == 'Now'
        closed = client.patch('/api/projects/proj/issues/1', json={'state': 'closed'})
        assert closed.json()['state'] == 'closed' and closed.json()['ready'] is False
        assert client.get('/api/projects/proj').json()['ready_count'] == 1

        for bad in ({'title': ''}, {'title': 'x', 'extra': 1}, {'title': 'x', 'labels': 'ready'}, {}):
            reply = client.post('/api/projects/proj/issues', json=bad)
            assert reply.status_code == 422 and reply.json()['error'] == 'validation', bad
            assert reply.headers['content-type'].startswith('application/problem+json')
        assert client.patch('/api/projects/proj/issues/1', json={'state': 'done'}).status_code == 422
        assert client.patch('/api/projects/proj/issues/1', json={'title': None}).status_code == 422
        assert client.patch('/api/projects/proj/issues/99', json={'title': 'x'}).status_code == 404
        assert client.patch('/api/projects/proj/issues/abc', json={'title': 'x'}).status_code == 422
        assert client.get('/api/projects/nope/issues').status_code == 404
        assert httpx.get(server.base_url + '/api/projects/proj/issues').status_code == 401


def test_afk_start_auto_parked_and_project_fields(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory(
        {'main': shell_script('echo "working on #$RUNBOARD_ISSUE_NUMBER: $RUNBOARD_ISSUE_BODY"\nexit 1')}
    )
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='proj')
        none = client.post('/api/afk/start/proj')
        assert none.status_code == 409 and none.json()['error'] == 'no_ready_issue'
        assert 'ready-for-agent' in none.json()['detail']
        client.post('/api/projects/proj/issues', json={'title': 'T', 'body': 'B-O-D-Y', 'labels': ['ready-for-agent']})
        started = client.post('/afk/start/proj')  # bare path too
        assert started.status_code == 201, started.text
        run = wait_for_status(client, started.json()['id'])
        assert run['kind'] == 'auto' and run['branch_name'] == 'afk/1' and run['status'] == 'failed'
        assert 'working on #1: B-O-D-Y' in [e['text'] for e in run['events']]

        project = client.get('/api/projects/proj').json()
        assert {
            k: project[k] for k in ('auto_enabled', 'consecutive_failures', 'paused', 'ready_count', 'parked_count')
        } == {'auto_enabled': False, 'consecutive_failures': 1, 'paused': False, 'ready_count': 0, 'parked_count': 1}
        [issue] = client.get('/api/projects/proj/issues').json()
        assert issue['claim'] == {'state': 'parked', 'run_id': run['id'], 'cause': 'failed: exit code 1'}
        parked = client.get('/api/afk/parked/proj').json()
        assert [p['issue_number'] for p in parked] == [1]
        assert client.post('/api/afk/parked/proj/1/requeue').json()['state'] == 'requeued'
        assert client.post('/api/afk/parked/proj/1/requeue').status_code == 404
        assert client.get('/api/projects/proj').json()['ready_count'] == 1

        switched = client.post('/api/afk/auto/proj', json={'enabled': True})
        assert switched.status_code == 200 and switched.json()['auto_enabled'] is True
        assert client.post('/api/afk/auto/proj', json={'enabled': 'maybe'}).status_code == 422
        assert client.post('/api/afk/auto/proj', json={}).status_code == 422
        with server.client(_builder_token(server)) as builder:
            refused = builder.post('/api/afk/auto/proj', json={'enabled': False})
            assert refused.status_code == 403 and refused.json()['error'] == 'forbidden'
            assert builder.post('/api/afk/reset/proj').status_code == 403
        assert client.post('/api/afk/start/nope').status_code == 404


def test_reset_json_and_plain_form_paths(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 0')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='proj')
        engine = server.services.engine
        from sqlalchemy import text

        from app.infra.db import session_scope

        def set_failures(n: int) -> None:
            with session_scope(engine) as session:
                session.connection().execute(text('UPDATE project SET consecutive_failures = :n'), {'n': n})

        set_failures(4)
        reply = client.post('/api/afk/reset/proj')
        assert reply.status_code == 200 and reply.json()['consecutive_failures'] == 0 and not reply.json()['paused']

        set_failures(3)
        token = client.post('/api/afk/form-token/proj').json()['csrf_token']
        page = f'{server.base_url}/?view=cards'
        form = {'Content-Type': 'application/x-www-form-urlencoded'}
        plain = httpx.Client(base_url=server.base_url, follow_redirects=False)
        # no token, foreign origin, token for another project, no origin at all: refused, nothing changes
        for headers, body in [
            ({'Origin': server.base_url, 'Referer': page}, ''),
            ({'Origin': 'http://evil.example', 'Referer': page}, f'csrf_token={token}'),
            ({'Referer': 'http://evil.example/x'}, f'csrf_token={token}'),
            ({}, f'csrf_token={token}'),
            ({'Origin': server.base_url}, f'csrf_token={token[:-2]}xx'),
        ]:
            refused = plain.post('/afk/reset/proj', content=body, headers={**form, **headers})
            assert refused.status_code == 403 and refused.json()['error'] == 'csrf', (headers, refused.text)
        other = client.post('/api/afk/form-token/proj').json()['csrf_token']
        assert plain.post(
            '/afk/reset/other', content=f'csrf_token={other}', headers={**form, 'Origin': server.base_url}
        ).status_code in (403, 404)
        assert client.get('/api/projects/proj').json()['consecutive_failures'] == 3
        assert plain.post('/afk/reset/proj').status_code == 401  # neither Bearer nor form

        done = plain.post(
            '/afk/reset/proj',
            content=f'csrf_token={token}',
            headers={**form, 'Origin': server.base_url, 'Referer': page},
        )
        assert done.status_code == 303 and done.headers['location'] == '/?view=cards'
        assert client.get('/api/projects/proj').json()['consecutive_failures'] == 0

        with server.client(_builder_token(server)) as builder:
            assert builder.post('/api/afk/form-token/proj').status_code == 403
        plain.close()


def test_closing_or_unlabelling_an_issue_stops_the_afk_run_working_on_it(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """The issue is no longer work: its AFK run is stopped (not left to spend, fail, count towards a pause and park
    a closed issue), its claim released with why, and reopening or relabelling it makes it ready again."""
    repo = repo_factory({'main': shell_script('echo "working on #$RUNBOARD_ISSUE_NUMBER"\nsleep 60')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='proj')
        hook = {'url': 'https://hooks.example.com/services/T0/B0/x', 'events': ['run.stopped', 'issue.parked']}
        assert client.post('/api/projects/proj/notifications', json=hook).status_code == 201
        client.post('/api/projects/proj/issues', json={'title': 'T', 'labels': ['ready-for-agent']})
        running = client.post('/api/afk/start/proj').json()
        wait_for_output(client, running['id'], 'working on #1')
        closed = client.patch('/api/projects/proj/issues/1', json={'state': 'closed'})
        assert closed.status_code == 200, closed.text
        why = 'issue #1 was closed by local'
        assert closed.json()['claim'] == {'state': 'released', 'run_id': running['id'], 'cause': why}
        ended = wait_for_status(client, running['id'])
        assert ended['status'] == 'stopped' and f'stop requested: {why}' in statuses(ended)
        assert client.get('/api/projects/proj').json()['consecutive_failures'] == 0
        # its receivers hear the stop, and nothing parked: the claim was released (an issue.parked with no issue
        # was told before)
        told = client.get('/api/projects/proj/deliveries').json()['items']
        assert [d['event_type'] for d in told] == ['run.stopped']

        reopened = client.patch('/api/projects/proj/issues/1', json={'state': 'open'})
        assert reopened.json()['ready'] is True
        client.patch('/api/projects/proj/issues/1', json={'title': 'T, again'})  # an edit that keeps it work
        again = client.post('/api/afk/start/proj').json()
        wait_for_output(client, again['id'], 'working on #1')
        assert client.get(f'/api/runs/{again["id"]}').json()['status'] == 'running'
        unlabelled = client.patch('/api/projects/proj/issues/1', json={'labels': ['later']})
        assert unlabelled.json()['claim']['cause'] == 'issue #1 was no longer labelled ready-for-agent by local'
        assert wait_for_status(client, again['id'])['status'] == 'stopped'


def test_retrying_an_afk_run_works_its_issue_again_as_an_afk_run(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Retry of an AFK run on a local repository (no afk/<N> branch exists: the agent never pushed) made a pipeline
    run of that branch and was refused. It is the agent working on the issue again, from the base branch; refused
    while the issue is closed, and while another run works on it."""
    repo = repo_factory({'main': shell_script('echo "working on #$RUNBOARD_ISSUE_NUMBER"\nexit 1')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='proj')
        client.post('/api/projects/proj/issues', json={'title': 'T', 'labels': ['ready-for-agent']})
        first = wait_for_status(client, client.post('/api/afk/start/proj').json()['id'])
        assert first['status'] == 'failed'
        assert client.get('/api/projects/proj/issues').json()[0]['claim']['state'] == 'parked'

        as_it_was = {k: first[k] for k in ('depth_level', 'target_framework')} | {'branch': first['branch_name']}
        retried = client.post(f'/api/runs/{first["id"]}/retry', json=as_it_was)  # what the Run form sends
        assert retried.status_code == 201, retried.text
        again = wait_for_status(client, retried.json()['id'])
        assert (again['kind'], again['retry_of'], again['issue_number'], again['branch_name']) == (
            'auto',
            first['id'],
            1,
            'afk/1',
        )
        assert 'working on #1' in outputs(again)
        assert client.get('/api/projects/proj').json()['consecutive_failures'] == 2  # an AFK run: it counts
        [issue] = client.get('/api/projects/proj/issues').json()
        assert issue['claim'] == {'state': 'parked', 'run_id': again['id'], 'cause': 'failed: exit code 1'}

        moved = client.post(f'/api/runs/{again["id"]}/retry', json={'branch': 'main'})
        assert moved.status_code == 422 and 'branch cannot be changed' in moved.json()['detail']
        client.patch('/api/projects/proj/issues/1', json={'state': 'closed'})
        refused = client.post(f'/api/runs/{again["id"]}/retry')
        assert refused.status_code == 409 and refused.json()['error'] == 'issue_not_ready', refused.text


def test_closing_a_parked_issue_takes_it_off_the_parked_list_and_reopening_makes_it_work(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """A person who closes an issue the agent failed on (fixed by hand, or won't fix) has decided it: the card's
    Parked (N) and the parked list no longer offer it for Requeue, and reopening it makes it ready again."""
    repo = repo_factory({'main': shell_script('exit 1')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='proj')
        for title in ('A', 'B'):
            client.post('/api/projects/proj/issues', json={'title': title, 'labels': ['ready-for-agent']})
        for _ in range(2):
            wait_for_status(client, client.post('/api/afk/start/proj').json()['id'])
        assert client.get('/api/projects/proj').json()['parked_count'] == 2

        closed = client.patch('/api/projects/proj/issues/1', json={'state': 'closed'})
        assert closed.status_code == 200 and closed.json()['claim']['state'] == 'discarded'
        assert client.get('/api/projects/proj').json()['parked_count'] == 1
        assert [p['issue_number'] for p in client.get('/api/afk/parked/proj').json()] == [2]

        reopened = client.patch('/api/projects/proj/issues/1', json={'state': 'open'})
        assert reopened.json()['ready'] is True
        assert client.get('/api/projects/proj').json()['ready_count'] == 1


def test_a_project_whose_loop_is_on_says_when_its_sweep_looks_next_and_whether_the_run_cap_holds_it(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('sleep 60')})
    with (
        api_server(settings_factory(afk_sweep_seconds=3600, global_run_cap=1)) as server,
        server.client() as client,
    ):
        create_project(client, repo, project_id='proj')
        off = client.get('/api/projects/proj').json()
        assert (off['afk_next_sweep_at'], off['at_global_run_cap']) == (None, False)  # auto off: no sweep looks at it
        switched = client.post('/api/afk/auto/proj', json={'enabled': True}).json()
        assert switched['afk_next_sweep_at'] is not None
        project = client.get('/api/projects/proj').json()
        assert (
            datetime.fromisoformat(project['afk_next_sweep_at']).tzinfo is not None
        )  # a moment the browser can count to
        assert project['at_global_run_cap'] is False
        [listed] = client.get('/api/projects').json()
        assert listed['afk_next_sweep_at'] is not None

        run = trigger(client, 'proj').json()  # the one run the server may run: the sweep would launch nothing now
        wait_for_status(client, run['id'], statuses={'running'})
        assert client.get('/api/projects/proj').json()['at_global_run_cap'] is True
        assert client.post(f'/api/runs/{run["id"]}/stop').status_code == 202
