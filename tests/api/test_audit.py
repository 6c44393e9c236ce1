"""The audit log on every backend: each recorded action names its actor and token, in the same transaction as
the change; operators read their own teams' entries only, filtered and paged."""

from __future__ import annotations

from app.models import Role
from tests.helpers.api import add_user, assert_problem, run_body
from tests.helpers.runs import create_project


def entries(api, **params) -> list[dict]:  # noqa: ANN001, ANN003
    page = api.client.get('/api/audit', params=params)
    assert page.status_code == 200, page.text
    return page.json()['items']


def test_each_action_is_logged_with_its_actor_and_token(api) -> None:  # noqa: ANN001
    me = api.client.get('/api/me').json()
    run = api.client.post('/api/runs', json=run_body(branch='feature/a'), headers={'X-Correlation-ID': 'c-1'}).json()
    api.client.post(f'/api/runs/{run["id"]}/stop')
    retry = api.client.post(f'/api/runs/{run["id"]}/retry', json={}).json()
    api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 3})
    api.client.post('/api/afk/auto/proj', json={'enabled': True})
    api.client.post('/api/afk/reset/proj')
    bob_token = add_user(api.server, name='bob')
    bob_token_id = next(t['id'] for t in api.client.get('/api/tokens').json() if t['user_name'] == 'bob')
    api.client.delete(f'/api/tokens/{bob_token_id}')

    log = entries(api)
    assert [e['action'] for e in log] == [
        'token.revoked',
        'afk.reset',
        'afk.enabled',
        'project.updated',
        'run.retried',
        'run.stopped',
        'run.triggered',
        'project.created',  # by the test's fixture
    ]  # newest first
    by_action = {e['action']: e for e in log}
    assert {e['actor_name'] for e in log} == {me['name']} and {e['actor_id'] for e in log} == {me['user_id']}
    assert len({e['token_id'] for e in log}) == 1 and log[0]['token_id'] is not None  # the caller's token
    assert by_action['run.triggered']['target'] == run['id'] and by_action['run.triggered']['correlation_id'] == 'c-1'
    assert by_action['run.triggered']['details'] == {'branch': 'feature/a'}
    assert by_action['run.retried']['target'] == retry['id']
    assert by_action['run.retried']['details']['retry_of'] == run['id']
    assert by_action['project.updated']['details'] == {'changed': {'max_concurrent_runs': 3}}
    assert by_action['token.revoked']['target'] == bob_token_id and by_action['token.revoked']['details'] == {
        'of': 'bob'
    }
    assert bob_token  # (made only to be revoked)


def test_switching_auto_to_what_it_already_is_is_not_a_change(api) -> None:  # noqa: ANN001
    for enabled in (True, True, False, False, True):
        switched = api.client.post('/api/afk/auto/proj', json={'enabled': enabled})
        assert switched.status_code == 200 and switched.json()['auto_enabled'] is enabled
    switches = [e['action'] for e in entries(api) if e['action'].startswith('afk.')]
    assert switches == ['afk.enabled', 'afk.disabled', 'afk.enabled']  # newest first: each real switch once


def test_filters_and_pages(api) -> None:  # noqa: ANN001
    api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 20})
    made = [api.client.post('/api/runs', json=run_body(branch=b)).json() for b in ('main', 'feature/a', 'feature/b')]
    for run in made:
        api.client.post(f'/api/runs/{run["id"]}/stop')
    assert [e['target'] for e in entries(api, action='run.stopped')] == [r['id'] for r in reversed(made)]
    assert {e['action'] for e in entries(api, action='run')} == {'run.triggered', 'run.stopped'}  # a group
    assert entries(api, actor='nobody') == []
    assert len(entries(api, project='proj')) == 8  # with the fixture's project.created
    seen, cursor = [], None
    while True:
        page = api.client.get('/api/audit', params={'limit': 2, **({'cursor': cursor} if cursor else {})}).json()
        seen += [e['id'] for e in page['items']]
        cursor = page['next_cursor']
        if cursor is None:
            break
    assert seen == [e['id'] for e in entries(api)] and len(seen) == 8
    assert_problem(api.client.get('/api/audit', params={'since': 'yesterday-ish'}), 422, 'validation')


def test_an_action_the_log_does_not_know_is_a_problem_naming_the_close_ones(api) -> None:  # noqa: ANN001
    """A typo once answered an empty page, which reads as "nothing happened"."""
    api.client.post('/api/runs', json=run_body())
    typo = assert_problem(api.client.get('/api/audit', params={'action': 'run.trigered'}), 422, 'unknown_audit_action')
    assert typo['field'] == 'action' and typo['close_matches'] == ['run.triggered']
    assert 'run.triggered' in typo['detail'] and 'run.stopped' in typo['known_actions']
    nothing_close = assert_problem(api.client.get('/api/audit', params={'action': 'zzz'}), 422, 'unknown_audit_action')
    assert nothing_close['close_matches'] == [] and 'webhook.deleted' in nothing_close['detail']
    assert 'project.variable' in nothing_close['known_groups']
    # known ones still answer, found or not: an action, a group, and a group of a group
    assert [e['action'] for e in entries(api, action='run.triggered')] == ['run.triggered']
    assert entries(api, action='run.stopped') == [] and entries(api, action='webhook') == []
    assert api.client.put('/api/projects/proj/variables/COLOUR', json={'value': 'red'}).status_code in (200, 201)
    assert [e['action'] for e in entries(api, action='project.variable')] == ['project.variable.set']


def test_operators_of_their_own_teams_only(api) -> None:  # noqa: ANN001
    api.client.post('/api/runs', json=run_body())
    with api.server.client(add_user(api.server, name='bea', role=Role.builder)) as bea:
        assert_problem(bea.get('/api/audit'), 403, 'forbidden')
    with api.server.client(add_user(api.server, name='olga', role=Role.operator, team='other')) as olga:
        create_project(olga, api.repo, project_id='theirs', max_concurrent_runs=2)
        theirs = olga.get('/api/audit').json()['items']
        assert [e['action'] for e in theirs] == ['project.created'] and theirs[0]['project_id'] == 'theirs'
    assert all(e['project_id'] != 'theirs' for e in entries(api))


def test_a_refused_change_leaves_no_entry(api) -> None:  # noqa: ANN001
    """The entry is written in the change's transaction: a refusal (here a PR lock) writes neither."""
    api.client.post('/api/runs', json=run_body(branch='main'))
    refused = api.client.post('/api/runs', json=run_body(branch='main'))
    assert refused.status_code == 409
    assert [e['action'] for e in entries(api)] == ['run.triggered', 'project.created']


def test_webhook_changes_are_logged_without_their_secret_or_the_urls_path(api) -> None:  # noqa: ANN001
    rules = '/api/projects/proj/notifications'
    url = 'https://hooks.slack.com/services/T0/B0/credential-in-the-path'
    created = api.client.post(rules, json={'url': url, 'format': 'slack', 'events': ['run.failed']})
    assert created.status_code == 201, created.text
    rule = created.json()
    assert api.client.patch(f'{rules}/{rule["id"]}', json={'enabled': False}).status_code == 200
    rotated = api.client.post(f'{rules}/{rule["id"]}/secret')
    assert rotated.status_code == 200, rotated.text
    assert api.client.delete(f'{rules}/{rule["id"]}').status_code == 204

    log = entries(api, action='webhook')
    assert [e['action'] for e in log] == [
        'webhook.deleted',
        'webhook.secret_rotated',
        'webhook.updated',
        'webhook.created',
    ]
    assert {e['target'] for e in log} == {rule['id']} and {e['project_id'] for e in log} == {'proj'}
    assert all(e['details']['url'] == 'https://hooks.slack.com/…' for e in log)
    assert log[2]['details']['changed'] == {'enabled': False}
    assert log[3]['details']['events'] == ['run.failed']
    text = str(log)
    assert 'credential-in-the-path' not in text
    assert rule['secret'] not in text and rotated.json()['secret'] not in text


def test_a_webhook_edit_is_logged_with_the_fields_it_changed(api) -> None:  # noqa: ANN001
    """An edit from the Notifications page names what it changed (the URL as its origin); a field sent as it was
    is not among them, and an edit that changes nothing leaves no entry."""
    rules = '/api/projects/proj/notifications'
    created = api.client.post(rules, json={'url': 'https://hooks.example.com/a/credential', 'name': 'ops'}).json()
    path = f'{rules}/{created["id"]}'
    edit = {'url': 'https://receiver.example.com/b/credential', 'name': 'ops', 'events': ['run.succeeded']}
    assert api.client.patch(path, json=edit).status_code == 200
    assert api.client.patch(path, json=edit).status_code == 200  # the same again: nothing changes

    [entry] = entries(api, action='webhook.updated')
    assert entry['details']['changed'] == {'url': 'https://receiver.example.com/…', 'events': ['run.succeeded']}
    assert 'credential' not in str(entry) and created['secret'] not in str(entry)
