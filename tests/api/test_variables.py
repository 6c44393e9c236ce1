"""A project's variables and secrets over HTTP, on every backend: who may list, set and remove them, what the
answers show (a secret's value never), and every bad input a 4xx problem."""

from __future__ import annotations

import pytest

from app.models import Role
from tests.helpers.api import add_user, assert_problem

SECRETS = '/api/projects/proj/secrets'
VARIABLES = '/api/projects/proj/variables'


def test_an_operator_sets_replaces_lists_and_removes_secrets_and_variables(api) -> None:  # noqa: ANN001
    client = api.client
    created = client.put(f'{SECRETS}/DEPLOY_TOKEN', json={'value': 'first-value'})
    assert created.status_code == 201, created.text
    assert created.json()['name'] == 'DEPLOY_TOKEN' and created.json()['value'] is None
    replaced = client.put(f'{SECRETS}/DEPLOY_TOKEN', json={'value': 'second-value'})
    assert replaced.status_code == 200
    assert client.put(f'{VARIABLES}/GOFLAGS', json={'value': '-count=1'}).status_code == 201

    secrets = client.get(SECRETS).json()
    assert [(s['name'], s['secret'], s['value'], s['set_by']) for s in secrets] == [
        ('DEPLOY_TOKEN', True, None, secrets[0]['set_by'])
    ]
    assert secrets[0]['set_by'] and secrets[0]['updated_at']
    assert [(v['name'], v['value']) for v in client.get(VARIABLES).json()] == [('GOFLAGS', '-count=1')]
    assert 'second-value' not in client.get('/api/audit').text and 'first-value' not in client.get('/api/audit').text

    assert client.delete(f'{SECRETS}/DEPLOY_TOKEN').status_code == 204
    assert client.get(SECRETS).json() == []
    assert_problem(client.delete(f'{SECRETS}/DEPLOY_TOKEN'), 404, 'not_found')


@pytest.mark.parametrize(
    ('path', 'body', 'status', 'error'),
    [
        (f'{SECRETS}/1ABC', {'value': 'long enough'}, 422, 'validation'),  # starts with a digit
        (f'{SECRETS}/MY-NAME', {'value': 'long enough'}, 422, 'validation'),
        (f'{SECRETS}/RUNBOARD_BRANCH', {'value': 'long enough'}, 422, 'validation'),  # the run's own facts
        (f'{SECRETS}/SHORT', {'value': 'ab'}, 422, 'validation'),  # too short to mask
        (f'{SECRETS}/NUL', {'value': 'a\x00bcdef'}, 422, 'validation'),
        (f'{SECRETS}/NOBODY', {}, 422, 'validation'),
        (f'{SECRETS}/NOBODY', {'value': 'x' * 70_000}, 413, 'payload_too_large'),  # the body limit
        (f'{SECRETS}/EXTRA', {'value': 'long enough', 'secret': False}, 422, 'validation'),
        ('/api/projects/nope/secrets/A_NAME', {'value': 'long enough'}, 404, 'not_found'),
    ],
)
def test_bad_input_is_a_clear_problem(api, path, body, status, error) -> None:  # noqa: ANN001
    assert_problem(api.client.put(path, json=body), status, error)


def test_a_name_is_a_variable_or_a_secret_not_both(api) -> None:  # noqa: ANN001
    assert api.client.put(f'{VARIABLES}/REGION', json={'value': 'eu-west-1'}).status_code == 201
    assert_problem(api.client.put(f'{SECRETS}/REGION', json={'value': 'eu-west-1'}), 409, 'name_taken')


def test_builders_list_names_but_cannot_change_and_other_teams_see_nothing(api) -> None:  # noqa: ANN001
    api.client.put(f'{SECRETS}/DEPLOY_TOKEN', json={'value': 'the-value'}).raise_for_status()
    builder = add_user(api.server, role=Role.builder, name='bea')
    stranger = add_user(api.server, team='blue', role=Role.operator, name='sam')
    with api.server.client(token=builder) as as_builder:
        assert [s['name'] for s in as_builder.get(SECRETS).json()] == ['DEPLOY_TOKEN']
        assert_problem(as_builder.put(f'{SECRETS}/OTHER', json={'value': 'the-value'}), 403, 'forbidden')
        assert_problem(as_builder.delete(f'{SECRETS}/DEPLOY_TOKEN'), 403, 'forbidden')
    with api.server.client(token=stranger) as as_stranger:
        assert_problem(as_stranger.get(SECRETS), 404, 'not_found')
        assert_problem(as_stranger.put(f'{SECRETS}/DEPLOY_TOKEN', json={'value': 'taken-over'}), 404, 'not_found')
    assert_problem(
        api.client.get('/api/projects/proj/secrets', headers={'Authorization': 'Bearer nope'}), 401, 'unauthorized'
    )


def test_a_protected_variables_value_is_answered_to_operators_only(api) -> None:  # noqa: ANN001
    """docs/security.md: protected values are kept from the people who can push unprotected branches (builders)."""
    api.client.put(f'{VARIABLES}/STAGE', json={'value': 'prod-stage', 'protected': True}).raise_for_status()
    api.client.put(f'{VARIABLES}/REGION', json={'value': 'eu'}).raise_for_status()
    as_operator = api.client.get(VARIABLES).json()
    assert [(v['name'], v['protected'], v['value']) for v in as_operator] == [
        ('REGION', False, 'eu'),
        ('STAGE', True, 'prod-stage'),
    ]
    builder = add_user(api.server, role=Role.builder, name='bea')
    with api.server.client(token=builder) as as_builder:
        listed = as_builder.get(VARIABLES)
    assert listed.status_code == 200, listed.text
    assert [(v['name'], v['protected'], v['value']) for v in listed.json()] == [
        ('REGION', False, 'eu'),
        ('STAGE', True, None),
    ]
    assert 'prod-stage' not in listed.text
