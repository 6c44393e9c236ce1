"""`runboard users list|role|remove` against a real server: an operator lists the people of their teams (a table, or
the API's JSON), changes a role and removes a person by name, or by id when several share the name; the removed
person's token is refused from then on. Refusals end with the policy's exit codes (3 refused, 4 forbidden or not
found, 2 usage)."""

from __future__ import annotations

import httpx
import pytest

from app.cli.people import chosen_person, last_use
from app.client import ApiError
from app.models import Role
from app.services.identity.accounts import create_user
from tests.helpers.api import add_user
from tests.helpers.cli import run_cli
from tests.helpers.servers import api_server


def _status(url: str, token: str, path: str = '/api/me') -> int:
    return httpx.get(url + path, headers={'Authorization': f'Bearer {token}'}, timeout=10).status_code


def test_an_operator_lists_promotes_and_removes_people_by_name_or_id(settings_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory()) as server:
        engine = server.services.engine
        olga = add_user(server, role=Role.operator, name='olga')
        bob = add_user(server, role=Role.builder, name='bob')
        sams = [create_user(engine, name='sam', role=Role.builder, team_ids=['local'])[0] for _ in range(2)]
        url = server.base_url

        listed = run_cli(url, olga, 'users', 'list', '--json')
        assert listed.code == 0, listed.stderr
        ids = {person['name']: person['id'] for person in listed.json()}
        assert set(ids) == {'local', 'olga', 'bob', 'sam'}
        table = run_cli(url, olga, 'users', 'list')
        assert table.code == 0 and 'USER ID' in table.stdout and 'LAST USED' in table.stdout
        rows = {name: next(line for line in table.stdout.splitlines() if user in line) for name, user in ids.items()}
        assert rows['bob'].split()[1:] == ['bob', 'builder', 'local', '1', 'never']
        assert 'operator (admin)' in rows['local']
        assert rows['olga'].split()[1:4] == ['olga', 'operator', 'local']  # used: the list itself, just now
        assert run_cli(url, bob, 'users', 'list').code == 4  # a builder lists nobody

        promoted = run_cli(url, olga, 'users', 'role', 'bob', 'operator')
        assert promoted.code == 0, promoted.stderr
        assert 'bob (usr_' in promoted.stdout and 'is now operator' in promoted.stdout
        assert _status(url, bob, '/api/users') == 200  # bob's very next request is an operator's
        assert run_cli(url, olga, 'users', 'role', 'bob', 'admin').code == 2
        assert run_cli(url, olga, 'users', 'role', 'local', 'builder').code == 4  # an administrator: not olga's

        ambiguous = run_cli(url, olga, 'users', 'role', 'sam', 'operator')
        assert ambiguous.code == 3, ambiguous.stdout
        assert '2 people named sam' in ambiguous.stderr and '--id' in ambiguous.stderr
        assert all(sam.id in ambiguous.stderr for sam in sams)
        by_id = run_cli(url, olga, 'users', 'role', '--id', sams[0].id, 'operator', '--json')
        assert by_id.code == 0, by_id.stderr
        assert (by_id.json()['id'], by_id.json()['role']) == (sams[0].id, 'operator')

        removed = run_cli(url, olga, 'users', 'remove', 'bob')
        assert removed.code == 0, removed.stderr
        assert 'Removed bob (usr_' in removed.stdout and 'from local' in removed.stdout
        assert '1 token(s) revoked' in removed.stdout
        assert _status(url, bob) == 401
        by_id = run_cli(url, olga, 'users', 'remove', '--id', sams[1].id, '--json')
        assert by_id.code == 0, by_id.stderr
        answer = by_id.json()
        assert (answer['user_id'], answer['teams'], answer['tokens_revoked'], answer['done']) == (
            sams[1].id,
            ['local'],
            1,
            True,
        )
        assert run_cli(url, olga, 'users', 'remove', 'nobody').code == 4
        assert run_cli(url, olga, 'users', 'remove', '--id', 'usr_missing').code == 4
        assert run_cli(url, olga, 'users', 'remove').code == 2  # neither a name nor an id
        assert {p['name'] for p in run_cli(url, olga, 'users', 'list', '--json').json()} == {'local', 'olga', 'sam'}


@pytest.mark.parametrize('backend', ['local'])
def test_the_last_operator_is_told_to_make_another_first(settings_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory()) as server:
        refused = run_cli(server.base_url, server.token, 'users', 'remove', 'local')
        assert refused.code == 3, refused.stdout
        assert 'last operator of local' in refused.stderr and 'last_operator' in refused.stderr


@pytest.mark.parametrize(
    ('name', 'user_id', 'people', 'chosen'),
    [
        ('bob', None, [{'id': 'u1', 'name': 'bob'}, {'id': 'u2', 'name': 'ann'}], 'u1'),
        (None, 'u9', [], 'u9'),  # by id: the server says whether it is in the caller's teams
        ('Bob', None, [{'id': 'u1', 'name': 'bob'}], (404, 'not_found')),  # names are compared exactly
        ('sam', None, [{'id': 'u1', 'name': 'sam'}, {'id': 'u2', 'name': 'sam'}], (409, 'ambiguous_name')),
        (None, None, [], (422, 'validation')),
        ('bob', 'u1', [], (422, 'validation')),  # one of them, not both
    ],
)
def test_whom_a_name_or_an_id_means(name: str | None, user_id: str | None, people: list, chosen: object) -> None:
    answer = chosen_person(name, user_id, people)
    if isinstance(chosen, str):
        assert answer == chosen
    else:
        assert isinstance(answer, ApiError) and (answer.status, answer.error) == chosen


def test_a_persons_last_use_is_their_latest_tokens() -> None:
    person = {
        'tokens': [
            {'last_used_at': '2026-01-02T10:00:00Z'},
            {'last_used_at': None},
            {'last_used_at': '2026-03-01T09:00:00Z'},
        ]
    }
    assert last_use(person) == '2026-03-01T09:00:00Z'
    assert last_use({'tokens': [{'last_used_at': None}]}) is None and last_use({'tokens': []}) is None
