"""Notification rules over HTTP, on every backend: operators create (the secret shown once, kept encrypted),
change (only what they name, never the secret) and delete them, each change told on the project's event stream;
builders list them read-only (URL origin only) and get 403 on every change; another team's projects, rules and
deliveries are 404; bad input is a 422 problem naming the field."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import Session

from app.models import NotificationRule, Role
from tests.helpers.api import add_user, assert_problem
from tests.helpers.runs import create_project

RULES = '/api/projects/proj/notifications'
HOOK = 'https://hooks.example.com/services/T0/B0/secretpath'
REFUSED = 'http://nothing.invalid/hook'  # .invalid never resolves (RFC 6761): a Test fails at once


def _add(client, **fields) -> dict:  # noqa: ANN001, ANN003
    reply = client.post(RULES, json={'url': HOOK, **fields})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_an_operator_creates_a_rule_and_sees_its_secret_once(api) -> None:  # noqa: ANN001
    created = _add(api.client, events=['run.failed', 'issue.parked'], format='slack', name='ops channel')
    assert created['secret'].startswith('whsec_')
    assert created | {'secret': None} == created | {
        'secret': None,
        'project_id': 'proj',
        'name': 'ops channel',
        'url': HOOK,
        'format': 'slack',
        'events': ['run.failed', 'issue.parked'],
        'enabled': True,
    }
    listed = api.client.get(RULES).json()
    assert [rule['id'] for rule in listed] == [created['id']]
    assert 'secret' not in listed[0] and 'secret_encrypted' not in listed[0]
    one = api.client.get(f'{RULES}/{created["id"]}').json()
    assert 'secret' not in one and one['url'] == HOOK
    assert created['secret'] not in api.client.get(RULES).text

    # at rest the secret is encrypted with the server's secret box, not stored as given
    with Session(api.server.services.engine) as session:
        row = session.get(NotificationRule, created['id'])
        assert row is not None and created['secret'] not in row.secret_encrypted
        assert api.server.services.repositories.secrets.decrypt(row.secret_encrypted) == created['secret']


def test_defaults_name_from_host_and_failure_events(api) -> None:  # noqa: ANN001
    created = _add(api.client)
    assert created['name'] == 'hooks.example.com'
    assert created['events'] == ['run.failed', 'run.timed_out', 'run.crashed']
    assert created['format'] == 'runboard' and created['enabled'] is True


def test_change_switch_off_new_secret_and_delete(api) -> None:  # noqa: ANN001
    rule = _add(api.client)
    path = f'{RULES}/{rule["id"]}'
    changed = api.client.patch(path, json={'enabled': False, 'events': ['run.succeeded', 'run.failed']})
    assert changed.status_code == 200, changed.text
    assert changed.json()['enabled'] is False and changed.json()['events'] == ['run.failed', 'run.succeeded']
    fresh = api.client.post(f'{path}/secret')
    assert fresh.status_code == 200 and fresh.json()['secret'] not in (rule['secret'], '')
    assert api.client.delete(path).status_code == 204
    assert_problem(api.client.get(path), 404, 'not_found')
    assert api.client.get(RULES).json() == []


@pytest.mark.parametrize(
    ('body', 'field'),
    [
        ({'url': 'ftp://example.com/x'}, 'url'),
        ({'url': 'https://user:pw@example.com/x'}, 'url'),
        ({'url': 'not a url'}, 'url'),
        ({'url': HOOK, 'events': []}, 'events'),
        ({'url': HOOK, 'events': ['run.exploded']}, 'events'),
        ({'url': HOOK, 'format': 'teams'}, 'format'),
        ({'url': HOOK, 'name': '   '}, 'name'),
        ({'url': HOOK, 'secret': 'mine'}, 'secret'),  # the server makes the secret
        ({}, 'url'),
    ],
)
def test_bad_input_is_a_422_naming_the_field(api, body: dict, field: str) -> None:  # noqa: ANN001
    problem = assert_problem(api.client.post(RULES, json=body), 422, 'validation')
    assert problem['field'] == field


def test_an_edit_changes_only_what_it_names_and_never_the_secret(api) -> None:  # noqa: ANN001
    rule = _add(api.client, name='ops channel', events=['run.failed'])
    path = f'{RULES}/{rule["id"]}'
    assert api.client.patch(path, json={'enabled': False}).status_code == 200  # another operator, meanwhile
    other = 'https://hooks.example.com/services/T0/B0/other'
    edited = api.client.patch(path, json={'url': other, 'events': ['run.succeeded', 'run.failed']})
    assert edited.status_code == 200, edited.text
    expected = {key: value for key, value in rule.items() if key not in ('secret', 'updated_at')} | {
        'url': other,
        'events': ['run.failed', 'run.succeeded'],
        'enabled': False,  # not named by the edit: as the other operator left it
        'version': 3,  # made at 1, then two changes (an edit without `version` applies to the rule as it is now)
    }
    assert {key: value for key, value in edited.json().items() if key != 'updated_at'} == expected
    assert 'secret' not in edited.json()
    # the secret is no field of an edit, and stays as it was
    problem = assert_problem(api.client.patch(path, json={'secret': 'whsec_mine'}), 422, 'validation')
    assert problem['field'] == 'secret'
    with Session(api.server.services.engine) as session:
        row = session.get(NotificationRule, rule['id'])
        assert (
            row is not None and api.server.services.repositories.secrets.decrypt(row.secret_encrypted) == rule['secret']
        )


def test_an_edit_made_on_an_older_version_is_refused_with_nothing_saved(api) -> None:  # noqa: ANN001
    """Two operators open the same rule (version 1); the first saves; the second's save names the version it read
    and is a 409 edit_conflict instead of silently undoing the first's."""
    rule = _add(api.client, name='ops channel', events=['run.failed'])
    path = f'{RULES}/{rule["id"]}'
    assert rule['version'] == 1
    first = api.client.patch(path, json={'events': ['run.succeeded'], 'version': 1})
    assert first.status_code == 200 and first.json()['version'] == 2, first.text

    second = api.client.patch(path, json={'events': ['run.crashed'], 'name': 'mine', 'version': 1})
    problem = assert_problem(second, 409, 'edit_conflict')
    assert problem['current_version'] == 2 and problem['field'] == 'version'
    assert 'changed by someone else since you read it' in problem['detail']
    now = api.client.get(path).json()
    assert (now['events'], now['name'], now['version']) == (['run.succeeded'], 'ops channel', 2)
    audited = api.client.get('/api/audit', params={'action': 'webhook.updated'}).json()['items']
    assert [e['details']['changed'] for e in audited] == [{'events': ['run.succeeded']}]  # the refused one: none

    # read again, the same edit is saved; a change to nothing, and a new secret, leave the version as it is
    again = api.client.patch(path, json={'events': ['run.crashed'], 'name': 'mine', 'version': 2})
    assert again.status_code == 200 and again.json()['version'] == 3, again.text
    assert api.client.patch(path, json={'name': 'mine', 'version': 3}).json()['version'] == 3
    assert api.client.post(f'{path}/secret').json()['version'] == 3
    assert api.client.patch(path, json={'enabled': False}).json()['version'] == 4  # the switch is a change too
    assert_problem(api.client.patch(path, json={'name': 'x', 'version': 3}), 409, 'edit_conflict')
    for bad in (0, -1, 'two', None):
        refused = api.client.patch(path, json={'name': 'x', 'version': bad})
        assert assert_problem(refused, 422, 'validation')['field'] == 'version', bad


def test_of_two_edits_saved_at_once_on_one_version_exactly_one_is_saved(api) -> None:  # noqa: ANN001
    """The version moves only from the one the saving transaction read: two saves racing on version 1 (two servers,
    or two requests) cannot both pass its check and both be written."""
    rule = _add(api.client)
    path = f'{RULES}/{rule["id"]}'
    start = threading.Barrier(2)

    def save(name: str) -> int:
        with api.server.client() as client:
            start.wait()
            return client.patch(path, json={'name': name, 'version': 1}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(save, ['first', 'second']))
    assert codes == [200, 409]
    now = api.client.get(path).json()
    assert now['version'] == 2 and now['name'] in ('first', 'second')


def test_edits_that_name_no_version_are_all_saved_when_they_race(api) -> None:  # noqa: ANN001
    """The on/off switch and scripts send no version: such an edit is made on the rule as it is when written, also
    when another save landed between its read and its write, never refused as a conflict with a version it did not
    claim."""
    rule = _add(api.client)
    path = f'{RULES}/{rule["id"]}'
    for round_ in range(5):
        start = threading.Barrier(2)

        def save(name: str, start: threading.Barrier = start) -> int:
            with api.server.client() as client:
                start.wait()
                return client.patch(path, json={'name': name}).status_code

        before = api.client.get(path).json()['version']
        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(save, [f'first {round_}', f'second {round_}']))
        assert codes == [200, 200]
        now = api.client.get(path).json()
        assert now['version'] == before + 2 and now['name'] in (f'first {round_}', f'second {round_}')


def test_an_edit_of_a_deleted_rule_is_404(api) -> None:  # noqa: ANN001
    rule = _add(api.client)
    assert api.client.delete(f'{RULES}/{rule["id"]}').status_code == 204
    assert_problem(api.client.patch(f'{RULES}/{rule["id"]}', json={'url': HOOK + '/new'}), 404, 'not_found')


def test_every_change_of_a_rule_is_told_on_the_projects_event_stream(api) -> None:  # noqa: ANN001
    """A Notifications page open in another tab (or on another server) follows the project's events: adding,
    editing and deleting a webhook each publish a `project` event of the project."""
    with api.client.stream(
        'GET', '/api/events', params={'project': 'proj'}, timeout=httpx.Timeout(30, read=20)
    ) as live:
        lines = live.iter_lines()
        assert next(lines).startswith(':')  # subscribed
        rule = _add(api.client)
        assert api.client.patch(f'{RULES}/{rule["id"]}', json={'events': ['run.succeeded']}).status_code == 200
        assert api.client.delete(f'{RULES}/{rule["id"]}').status_code == 204
        told, event = [], None
        for line in lines:
            if line.startswith('event: '):
                event = line[7:]
            elif line.startswith('data: ') and event == 'project':
                told.append(json.loads(line[6:]))
                if len(told) == 3:
                    break
    team = api.client.get('/api/projects/proj').json()['team_id']
    assert [(e['id'], e['team_id']) for e in told] == [('proj', team)] * 3


def test_a_change_to_null_is_refused(api) -> None:  # noqa: ANN001
    rule = _add(api.client)
    problem = assert_problem(api.client.patch(f'{RULES}/{rule["id"]}', json={'url': None}), 422, 'validation')
    assert problem['field'] == 'url'


def test_bad_delivery_filters_are_422(api) -> None:  # noqa: ANN001
    problem = assert_problem(
        api.client.get('/api/projects/proj/deliveries', params={'status': 'lost'}), 422, 'validation'
    )
    assert problem['field'] == 'status'


def test_builders_read_but_cannot_change(api) -> None:  # noqa: ANN001
    rule = _add(api.client)
    token = add_user(api.server, role=Role.builder, name='bob')
    with api.server.client(token) as builder:
        listed = builder.get(RULES)
        assert listed.status_code == 200
        assert listed.json()[0]['url'] == 'https://hooks.example.com/…'  # the path of a Slack URL is its credential
        assert 'secretpath' not in listed.text
        assert builder.get('/api/projects/proj/deliveries').status_code == 200
        path = f'{RULES}/{rule["id"]}'
        for reply in (
            builder.post(RULES, json={'url': HOOK}),
            builder.patch(path, json={'enabled': False}),
            builder.delete(path),
            builder.post(f'{path}/secret'),
            builder.post(f'{path}/test'),
        ):
            assert_problem(reply, 403, 'forbidden')
    assert api.client.get(path).json()['enabled'] is True


def test_other_teams_see_nothing(api) -> None:  # noqa: ANN001
    rule = _add(api.client, url=REFUSED)
    ping = api.client.post(f'{RULES}/{rule["id"]}/test')  # a delivery to look for
    assert ping.status_code == 201, ping.text
    delivery = ping.json()['id']
    token = add_user(api.server, team='team-b', role=Role.operator, name='bea')
    with api.server.client(token) as other:
        create_project(other, api.repo, project_id='bee', team_id='team-b')
        for reply in (
            other.get(RULES),
            other.post(RULES, json={'url': HOOK}),
            other.get(f'{RULES}/{rule["id"]}'),
            other.patch(f'{RULES}/{rule["id"]}', json={'enabled': False}),
            other.delete(f'{RULES}/{rule["id"]}'),
            other.post(f'{RULES}/{rule["id"]}/test'),
            other.get('/api/projects/proj/deliveries'),
            other.get(f'/api/deliveries/{delivery}'),
            other.post(f'/api/deliveries/{delivery}/redeliver'),
            other.get(f'/api/projects/bee/notifications/{rule["id"]}'),  # their project, our rule id
        ):
            assert_problem(reply, 404, 'not_found')
            assert 'nothing.invalid' not in reply.text and 'run.failed' not in reply.text
        assert other.get('/api/projects/bee/notifications').json() == []
    assert api.client.get(f'{RULES}/{rule["id"]}').json()['enabled'] is True


def test_deleting_the_project_takes_its_rules_and_deliveries(api) -> None:  # noqa: ANN001
    rule = _add(api.client, url=REFUSED)
    assert api.client.post(f'{RULES}/{rule["id"]}/test').status_code == 201
    assert api.client.delete('/api/projects/proj').status_code == 204
    with Session(api.server.services.engine) as session:
        assert session.get(NotificationRule, rule['id']) is None
