"""People and tokens through the API, on every backend: operators list the people of their teams, add a person
(who gets a first token, in that answer only) and create tokens; builders get 403; another team's people do not
exist (absent from lists, 404 by id); a revoked token is refused on the very next request. Everyone lists,
creates and revokes their own tokens; builders nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.token_rules import token_management_refusal
from app.models import Role
from app.services.identity.accounts import create_user, ensure_team, hash_token
from tests.helpers.api import add_user, assert_problem


def _me(api, token: str) -> dict:  # noqa: ANN001
    with api.server.client(token) as client:
        reply = client.get('/api/me')
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_an_operator_adds_a_person_whose_first_token_works_at_once(api) -> None:  # noqa: ANN001
    reply = api.client.post('/api/users', json={'name': '  Dana  ', 'role': 'operator', 'token_name': 'laptop'})
    assert reply.status_code == 201, reply.text
    assert reply.headers['cache-control'] == 'no-store'
    created = reply.json()
    person, token = created['person'], created['token']
    assert person['name'] == 'Dana' and person['role'] == 'operator' and person['teams'] == ['local']
    assert token['token'].startswith('rb_') and token['name'] == 'laptop' and token['user_name'] == 'Dana'
    laptop = {'id': token['id'], 'name': 'laptop', 'created_at': token['created_at']}
    assert person['tokens'] == [{**laptop, 'last_used_at': None}]
    me = _me(api, token['token'])
    assert (me['name'], me['role'], me['team_ids'], me['token_id']) == ('Dana', 'operator', ['local'], token['id'])

    people = api.client.get('/api/users').json()
    dana = next(p for p in people if p['name'] == 'Dana')
    assert [{k: v for k, v in t.items() if k != 'last_used_at'} for t in dana['tokens']] == [laptop]
    assert dana['tokens'][0]['last_used_at'] is not None  # /api/me used it
    assert token['token'] not in api.client.get('/api/users').text  # the secret is never listed again
    assert token['token'] not in api.client.get('/api/tokens').text
    actions = [(e['action'], e['target']) for e in api.client.get('/api/audit').json()['items'][:2]]
    assert actions == [('token.created', token['id']), ('person.created', person['id'])]


def test_an_operator_creates_a_token_that_is_refused_right_after_its_revocation(api) -> None:  # noqa: ANN001
    add_user(api.server, name='bob')
    bob = next(p for p in api.client.get('/api/users').json() if p['name'] == 'bob')
    reply = api.client.post('/api/tokens', json={'user_id': bob['id'], 'name': 'ci'})
    assert reply.status_code == 201, reply.text
    assert reply.headers['cache-control'] == 'no-store'
    token = reply.json()
    assert (token['user_id'], token['user_name'], token['name']) == (bob['id'], 'bob', 'ci')
    with api.server.client(token['token']) as ci:
        assert ci.get('/api/projects').status_code == 200  # works, and is now in the server's auth cache
        assert api.client.delete(f'/api/tokens/{token["id"]}').json() == {'revoked': [token['id']]}
        assert_problem(ci.get('/api/projects'), 401, 'unauthorized')  # the very next request
    listed = next(p for p in api.client.get('/api/users').json() if p['name'] == 'bob')
    assert [t['name'] for t in listed['tokens']] == ['default']  # bob's first token keeps working
    assert_problem(api.client.post('/api/tokens', json={'user_id': bob['id'], 'name': 'default'}), 409, 'conflict')


def test_a_token_says_when_it_was_last_used_to_the_minute(api) -> None:  # noqa: ANN001
    """What an operator reads before revoking a token: never used, or when last (a write a minute at most)."""
    add_user(api.server, name='erin')
    erin = next(p for p in api.client.get('/api/users').json() if p['name'] == 'erin')
    token = api.client.post('/api/tokens', json={'user_id': erin['id'], 'name': 'ci'}).json()

    def listed() -> dict:
        return next(t for t in api.client.get('/api/tokens').json() if t['id'] == token['id'])

    assert listed()['last_used_at'] is None
    before = datetime.now(UTC)
    with api.server.client(token['token']) as ci:
        assert ci.get('/api/projects').status_code == 200
        used = listed()['last_used_at']
        assert used is not None
        assert before - timedelta(seconds=1) <= datetime.fromisoformat(used) <= datetime.now(UTC)
        api.server.services.auth.forget([hash_token(token['token'])])  # the next request reads the database again
        assert ci.get('/api/projects').status_code == 200
        assert listed()['last_used_at'] == used  # within the minute: not written again
    tokens = next(p for p in api.client.get('/api/users').json() if p['name'] == 'erin')['tokens']
    assert next(t for t in tokens if t['id'] == token['id'])['last_used_at'] == used


def test_builders_are_refused_people_and_other_peoples_tokens(api) -> None:  # noqa: ANN001
    builder = add_user(api.server, name='bob', role=Role.builder)
    olga = add_user(api.server, name='olga', role=Role.operator)
    olga_id = _me(api, olga)['user_id']
    olga_token = next(t['id'] for t in api.client.get('/api/tokens').json() if t['user_id'] == olga_id)
    with api.server.client(builder) as bob:
        assert_problem(bob.get('/api/users'), 403, 'forbidden')
        assert_problem(bob.post('/api/users', json={'name': 'mallory', 'role': 'operator'}), 403, 'forbidden')
        for refused in (
            bob.post('/api/tokens', json={'user_id': olga_id, 'name': 'mine-now'}),
            bob.delete(f'/api/tokens/{olga_token}'),
        ):
            problem = assert_problem(refused, 403, 'forbidden')
            assert problem['reason'] == 'not_yours' and 'olga' in problem['detail']
        # revoking by name stays the operators' (a name may be several people's), their own name too
        assert_problem(bob.post('/api/tokens/revoke', params={'user': 'olga'}), 403, 'forbidden')
        assert_problem(bob.post('/api/tokens/revoke', params={'user': 'bob'}), 403, 'forbidden')
        assert_problem(bob.post('/api/tokens', json={'user_id': 'usr_missing', 'name': 'x'}), 404, 'not_found')
        assert_problem(bob.delete('/api/tokens/tok_missing'), 404, 'not_found')
        assert bob.get('/api/teams').json() == [{'id': 'local', 'name': 'Local'}]  # their own teams: fine
    assert [p['name'] for p in api.client.get('/api/users').json()] == ['bob', 'local', 'olga']
    with api.server.client(olga) as still:
        assert still.get('/api/me').status_code == 200
    assert len([t for t in api.client.get('/api/tokens').json() if t['user_id'] == olga_id]) == 1


def test_a_builder_lists_creates_and_revokes_their_own_tokens(api) -> None:  # noqa: ANN001
    """Personal tokens: every signed-in person manages their own. A builder's new token acts as them, with their
    role (no escalation); the audit log records it as for an operator's."""
    builder = add_user(api.server, name='bob', role=Role.builder)
    add_user(api.server, name='cy', role=Role.builder)
    me = _me(api, builder)
    with api.server.client(builder) as bob:
        listed = bob.get('/api/tokens').json()
        assert [(t['id'], t['user_id'], t['role']) for t in listed] == [(me['token_id'], me['user_id'], 'builder')]
        made = bob.post('/api/tokens', json={'name': 'ci'})  # no user_id: the caller's own
        assert made.status_code == 201, made.text
        assert made.headers['cache-control'] == 'no-store'
        ci = made.json()
        assert (ci['user_id'], ci['user_name'], ci['name']) == (me['user_id'], 'bob', 'ci')
        again = bob.post('/api/tokens', json={'user_id': me['user_id'], 'name': 'laptop'})  # their own id: the same
        assert again.status_code == 201, again.text
        assert_problem(bob.post('/api/tokens', json={'name': 'ci'}), 409, 'conflict')
        assert [t['name'] for t in bob.get('/api/tokens').json()] == ['default', 'ci', 'laptop']
        assert ci['token'] not in bob.get('/api/tokens').text
        with api.server.client(ci['token']) as script:
            acting = script.get('/api/me').json()
            assert (acting['user_id'], acting['role'], acting['token_id']) == (me['user_id'], 'builder', ci['id'])
            assert_problem(script.post('/api/users', json={'name': 'mallory'}), 403, 'forbidden')
            assert bob.delete(f'/api/tokens/{ci["id"]}').json() == {'revoked': [ci['id']]}
            assert_problem(script.get('/api/me'), 401, 'unauthorized')  # the very next request
        # the token this client signed in with too: its next request is refused
        assert bob.delete(f'/api/tokens/{me["token_id"]}').json() == {'revoked': [me['token_id']]}
        assert_problem(bob.get('/api/tokens'), 401, 'unauthorized')
    entries = [
        (e['action'], e['actor_name'], e['target'])
        for e in api.client.get('/api/audit', params={'action': 'token'}).json()['items']
    ]
    assert entries[:4] == [
        ('token.revoked', 'bob', me['token_id']),
        ('token.revoked', 'bob', ci['id']),
        ('token.created', 'bob', again.json()['id']),
        ('token.created', 'bob', ci['id']),
    ]
    cys = next(p for p in api.client.get('/api/users').json() if p['name'] == 'cy')['tokens']
    assert len(cys) == 1  # nobody else's touched


def test_an_operator_creates_their_own_token_without_naming_themselves(api) -> None:  # noqa: ANN001
    me = api.client.get('/api/me').json()
    made = api.client.post('/api/tokens', json={'name': 'ci'})
    assert made.status_code == 201, made.text
    assert (made.json()['user_id'], made.json()['name']) == (me['user_id'], 'ci')


def test_another_teams_people_do_not_exist_for_an_operator(api) -> None:  # noqa: ANN001
    engine = api.server.services.engine
    ensure_team(engine, 'red', 'Red')
    eve, _ = create_user(engine, name='eve', role=Role.operator, team_ids=['red'])
    both, _ = create_user(engine, name='sam', role=Role.builder, team_ids=['red', 'local'])
    people = {p['name']: p for p in api.client.get('/api/users').json()}
    assert set(people) == {'local', 'sam'}
    assert people['sam']['teams'] == ['local']  # sam's other team is not named to an outsider
    for user_id in (eve.id, 'usr_missing'):
        problem = assert_problem(
            api.client.post('/api/tokens', json={'user_id': user_id, 'name': 'x'}), 404, 'not_found'
        )
        assert user_id in problem['detail']
    refused = assert_problem(api.client.post('/api/users', json={'name': 'zed', 'team_id': 'red'}), 422, 'validation')
    assert refused['field'] == 'team_id'
    assert api.client.get('/api/teams').json() == [{'id': 'local', 'name': 'Local'}]


@pytest.mark.parametrize(
    ('body', 'field'),
    [
        ({'name': '   '}, 'name'),
        ({'name': 'a\u202eb'}, 'name'),  # a bidi override would make the name read differently in lists
        ({'name': 'x' * 201}, 'name'),
        ({'name': 'ok', 'role': 'admin'}, 'role'),
        ({'name': 'ok', 'token_name': ''}, 'token_name'),
        ({'name': 'ok', 'extra': 1}, 'extra'),
    ],
)
def test_a_bad_person_is_a_422_naming_its_field(api, body: dict, field: str) -> None:  # noqa: ANN001
    problem = assert_problem(api.client.post('/api/users', json=body), 422, 'validation')
    assert problem['errors'][0]['field'] == field
    assert [p['name'] for p in api.client.get('/api/users').json()] == ['local']


def test_a_name_already_in_the_team_is_a_conflict(api) -> None:  # noqa: ANN001
    assert api.client.post('/api/users', json={'name': 'ann'}).status_code == 201
    problem = assert_problem(api.client.post('/api/users', json={'name': 'ann', 'role': 'operator'}), 409, 'conflict')
    assert problem['field'] == 'name'
    assert [p['name'] for p in api.client.get('/api/users').json()] == ['ann', 'local']


def test_an_operator_of_several_teams_chooses_the_team(api) -> None:  # noqa: ANN001
    engine = api.server.services.engine
    ensure_team(engine, 'red', 'Red')
    _, token = create_user(engine, name='olga', role=Role.operator, team_ids=['local', 'red'])
    with api.server.client(token) as olga:
        assert olga.get('/api/teams').json() == [{'id': 'local', 'name': 'Local'}, {'id': 'red', 'name': 'Red'}]
        problem = assert_problem(olga.post('/api/users', json={'name': 'pat'}), 422, 'validation')
        assert problem['field'] == 'team_id'
        added = olga.post('/api/users', json={'name': 'pat', 'team_id': 'red'})
        assert added.status_code == 201, added.text
        assert added.json()['person']['teams'] == ['red']
    assert 'pat' not in {p['name'] for p in api.client.get('/api/users').json()}  # local's operator: not in red


def test_an_operator_may_not_make_or_revoke_tokens_acting_in_a_team_they_are_not_in(api) -> None:  # noqa: ANN001
    """A token is its person's whole identity: one made for someone also in team b acts in b, and revoking theirs
    cuts them off from b. Only people whose teams are all the caller's (and no deployment administrator, unless
    the caller is one) are managed; nothing is made or revoked otherwise."""
    engine = api.server.services.engine
    ensure_team(engine, 'b', 'B')
    vic, vic_token = create_user(engine, name='vic', role=Role.operator, team_ids=['local', 'b'])
    _, olga_token = create_user(engine, name='olga', role=Role.operator, team_ids=['local'])
    bob, _ = create_user(engine, name='bob', role=Role.builder, team_ids=['local'])
    local_admin = api.client.get('/api/me').json()['user_id']
    with api.server.client(olga_token) as olga:
        vic_tokens = [t['id'] for t in olga.get('/api/tokens').json() if t['user_id'] == vic.id]
        for client, who in ((olga, 'olga'), (api.client, 'the local administrator')):
            refused = assert_problem(
                client.post('/api/tokens', json={'user_id': vic.id, 'name': 'x'}), 403, 'forbidden'
            )
            assert 'vic' in refused['detail'] and "'b'" not in refused['detail'], who
            assert_problem(client.post('/api/tokens/revoke', params={'user': 'vic'}), 403, 'forbidden')
            assert_problem(client.delete(f'/api/tokens/{vic_tokens[0]}'), 403, 'forbidden')
        refused = assert_problem(olga.post('/api/tokens', json={'user_id': local_admin, 'name': 'x'}), 403, 'forbidden')
        assert 'administrator' in refused['detail']
        assert_problem(olga.post('/api/tokens/revoke', params={'user': 'local'}), 403, 'forbidden')
        made = olga.post('/api/tokens', json={'user_id': bob.id, 'name': 'ci'})  # bob is only in olga's team
        assert made.status_code == 201, made.text
        bobs = {t['id'] for t in olga.get('/api/tokens').json() if t['user_id'] == bob.id}
        assert len(bobs) == 2 and set(olga.post('/api/tokens/revoke', params={'user': 'bob'}).json()['revoked']) == bobs
        assert [t['id'] for t in olga.get('/api/tokens').json() if t['user_id'] == vic.id] == vic_tokens
    with api.server.client(vic_token) as v:
        assert v.get('/api/me').status_code == 200  # vic's token still works
    made = api.client.post('/api/tokens', json={'user_id': local_admin, 'name': 'spare'})  # an admin for an admin
    assert made.status_code == 201, made.text


def test_the_people_list_says_whose_tokens_the_caller_may_manage(api) -> None:  # noqa: ANN001
    """What the People page offers by: each person's facts the server's rule reads (in a team the caller is not in,
    without naming it; a deployment administrator), and the rule itself (app/core/token_rules.py), which answers
    exactly what creating a token for them does."""
    engine = api.server.services.engine
    ensure_team(engine, 'b', 'B')
    vic, _ = create_user(engine, name='vic', role=Role.operator, team_ids=['local', 'b'])
    bob, _ = create_user(engine, name='bob', role=Role.builder, team_ids=['local'])
    olga, olga_token = create_user(engine, name='olga', role=Role.operator, team_ids=['local'])
    local_admin = api.client.get('/api/me').json()['user_id']
    expected = {
        vic.id: (True, False, 'other_team'),
        bob.id: (False, False, None),
        olga.id: (False, False, None),
        local_admin: (False, True, 'admin'),  # olga is no deployment administrator
    }
    with api.server.client(olga_token) as client:
        me = client.get('/api/me').json()
        people = client.get('/api/users').json()
        assert {p['id'] for p in people} == set(expected)
        for person in people:
            in_other_teams, is_admin, refusal = expected[person['id']]
            assert (person['in_other_teams'], person['is_admin']) == (in_other_teams, is_admin), person
            read = token_management_refusal(
                caller_is_operator=True,
                is_self=person['id'] == me['user_id'],
                in_other_teams=person['in_other_teams'],
                is_admin=person['is_admin'],
                caller_is_admin=me['is_admin'],
            )
            assert read == refusal, person['name']
            made = client.post('/api/tokens', json={'user_id': person['id'], 'name': 'probe'})
            assert made.status_code == (403 if refusal else 201), (person['name'], made.text)
            if refusal:
                assert made.json()['reason'] == refusal
    assert 'b' not in [team for person in people for team in person['teams']]  # the other team is never named


def test_revoking_by_name_acts_on_the_one_person_of_that_name_the_caller_manages(api) -> None:  # noqa: ANN001
    """Names are unique within a team, not across teams: two people named sam may share the caller's team, one of
    them also in team b. Revoking 'sam' revokes the tokens of the sam the caller manages and says who was left
    alone and why; it is refused (403) only when no sam is theirs to manage, and (409, nothing revoked) when
    several are, since a name cannot say which."""
    engine = api.server.services.engine
    ensure_team(engine, 'b', 'B')
    mine, mine_token = create_user(engine, name='sam', role=Role.builder, team_ids=['local'])
    theirs, theirs_token = create_user(engine, name='sam', role=Role.builder, team_ids=['local', 'b'])
    _, olga_token = create_user(engine, name='olga', role=Role.operator, team_ids=['local'])
    with api.server.client(olga_token) as olga:
        listed = olga.get('/api/tokens').json()
        mine_ids = [t['id'] for t in listed if t['user_id'] == mine.id]
        theirs_ids = [t['id'] for t in listed if t['user_id'] == theirs.id]
        reply = olga.post('/api/tokens/revoke', params={'user': 'sam'})
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert (answer['revoked'], answer['user_id']) == (mine_ids, mine.id)
        [left] = answer['left_alone']
        assert (left['user_id'], left['name'], left['reason']) == (theirs.id, 'sam', 'other_team')
        assert 'a team you are not in' in left['detail'] and "'b'" not in left['detail']
        assert [t['id'] for t in olga.get('/api/tokens').json() if t['user_id'] == theirs.id] == theirs_ids
        with api.server.client(mine_token) as sam:
            assert_problem(sam.get('/api/me'), 401, 'unauthorized')
        with api.server.client(theirs_token) as sam:
            assert sam.get('/api/me').status_code == 200  # the other sam keeps working

        third, third_token = create_user(engine, name='sam', role=Role.builder, team_ids=['local'])
        ambiguous = assert_problem(olga.post('/api/tokens/revoke', params={'user': 'sam'}), 409, 'ambiguous_name')
        assert ambiguous['field'] == 'user' and set(ambiguous['user_ids']) == {mine.id, third.id}
        assert 'runboard tokens revoke' in ambiguous['detail']
        with api.server.client(third_token) as sam:
            assert sam.get('/api/me').status_code == 200  # nothing revoked

        refused = assert_problem(olga.post('/api/tokens/revoke', params={'user': 'nobody'}), 404, 'not_found')
        assert 'nobody' in refused['detail']


def test_local_mode_keeps_the_token_its_browser_and_cli_sign_in_with(api, backend: str) -> None:  # noqa: ANN001
    """Local mode: revoking the credentials.json token would lock this machine's browser and CLI out until a restart
    (the page said 'offline', the CLI named the wrong cause): 409 saying how to replace it, nothing revoked, by id or
    by name. A team server's bootstrap token is an administrator's like any other."""
    me = api.client.get('/api/me').json()
    by_id = api.client.delete(f'/api/tokens/{me["token_id"]}')
    by_name = api.client.post('/api/tokens/revoke', params={'user': me['name']})
    if backend == 'local':
        for reply in (by_id, by_name):
            problem = assert_problem(reply, 409, 'local_token')
            assert 'delete credentials.json and start it again' in problem['detail']
        assert api.client.get('/api/me').status_code == 200  # still signed in
    else:
        assert by_id.status_code == 200, by_id.text
        assert api.client.get('/api/me').status_code == 401
