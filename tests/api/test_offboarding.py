"""Offboarding through the API, on every backend: an operator changes a person's role (from that person's next request,
on every instance) and removes them from their teams (PATCH and DELETE /api/users/{id}); a removed person's tokens
answer 401 once they are in no team, their schedules on those teams' projects are paused (a due slot recorded missed,
each pause audited), and the projects whose push rules run as them are named, not changed. Every team keeps an
operator (409 `last_operator`), also when two operators demote or remove each other at the same moment."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from app.models import Role, utcnow
from app.services.identity import people
from app.services.identity.accounts import Principal, create_user, ensure_team, hash_token
from app.services.scheduling.sweep import ScheduleSweep
from tests.helpers.api import QUEUED, assert_problem, serving
from tests.helpers.runs import create_project
from tests.helpers.servers import api_server

SCHEDULE = {
    'name': 'nightly',
    'cron': '0 3 * * *',
    'branch': 'main',
    'depth_level': 'shallow',
    'target_framework': 'python',
}


def _me(api, token: str) -> dict:  # noqa: ANN001
    with api.server.client(token) as client:
        reply = client.get('/api/me')
    assert reply.status_code == 200, reply.text
    return reply.json()


def _audit(client, action: str) -> list[dict]:  # noqa: ANN001
    return client.get('/api/audit', params={'action': action}).json()['items']


def test_a_demoted_persons_next_request_is_refused_what_builders_may_not_do(api) -> None:  # noqa: ANN001
    engine = api.server.services.engine
    olga, olga_token = create_user(engine, name='olga', role=Role.operator, team_ids=['local'])
    with api.server.client(olga_token) as as_olga:
        assert as_olga.get('/api/users').status_code == 200  # an operator's, and now in the server's auth cache
        reply = api.client.patch(f'/api/users/{olga.id}', json={'role': 'builder'})
        assert reply.status_code == 200, reply.text
        person = reply.json()
        assert (person['id'], person['name'], person['role'], person['teams']) == (
            olga.id,
            'olga',
            'builder',
            ['local'],
        )
        assert_problem(as_olga.get('/api/users'), 403, 'forbidden')  # the very next request: a builder's
        assert_problem(as_olga.patch('/api/projects/proj', json={'max_concurrent_runs': 1}), 403, 'forbidden')
        assert as_olga.get('/api/me').json()['role'] == 'builder'
    [entry] = _audit(api.client, 'person.role_changed')
    assert (entry['target'], entry['team_id']) == (olga.id, 'local')
    assert entry['details'] == {'name': 'olga', 'from': 'operator', 'to': 'builder'}

    again = api.client.patch(f'/api/users/{olga.id}', json={'role': 'builder'})  # no change: nothing written
    assert again.status_code == 200 and again.json()['role'] == 'builder'
    assert len(_audit(api.client, 'person.role_changed')) == 1
    back = api.client.patch(f'/api/users/{olga.id}', json={'role': 'operator'})
    assert back.json()['role'] == 'operator'
    with api.server.client(olga_token) as as_olga:
        assert as_olga.get('/api/users').status_code == 200

    for body in ({'role': 'admin'}, {}, {'role': 'operator', 'name': 'x'}):
        assert_problem(api.client.patch(f'/api/users/{olga.id}', json=body), 422, 'validation')
    assert_problem(api.client.patch('/api/users/usr_missing', json={'role': 'builder'}), 404, 'not_found')


def test_a_teams_last_operator_is_neither_demoted_nor_removed(api) -> None:  # noqa: ANN001
    """Team red has one operator, vic: he may neither demote nor remove himself, nor be, until another operator is
    there. The 409 names the team; nothing changes."""
    engine = api.server.services.engine
    ensure_team(engine, 'red', 'Red')
    vic, vic_token = create_user(engine, name='vic', role=Role.operator, team_ids=['red'])
    bob, _ = create_user(engine, name='bob', role=Role.builder, team_ids=['red'])
    with api.server.client(vic_token) as as_vic:
        for refused in (
            as_vic.patch(f'/api/users/{vic.id}', json={'role': 'builder'}),
            as_vic.delete(f'/api/users/{vic.id}'),
            as_vic.get(f'/api/users/{vic.id}/removal'),
        ):
            problem = assert_problem(refused, 409, 'last_operator')
            assert problem['teams'] == ['red'] and 'you are the last operator of red' in problem['detail']
        assert as_vic.get('/api/me').json()['role'] == 'operator'
        promoted = as_vic.patch(f'/api/users/{bob.id}', json={'role': 'operator'})
        assert promoted.status_code == 200, promoted.text
        assert as_vic.patch(f'/api/users/{vic.id}', json={'role': 'builder'}).status_code == 200  # bob is one now
        assert_problem(as_vic.get('/api/users'), 403, 'forbidden')
    # the local team: its administrator is its only operator
    local = _me(api, api.server.token)['user_id']
    problem = assert_problem(api.client.delete(f'/api/users/{local}'), 409, 'last_operator')
    assert problem['teams'] == ['local']


def test_removing_a_person_revokes_their_tokens_pauses_their_schedules_and_names_their_push_rules(
    settings_factory, repo
) -> None:  # noqa: ANN001
    """Dana (an operator of the local team only) owns a schedule and the project's push rules. The preview says what
    removing her does, and changes nothing; removing her does it: her token answers 401 on its next request, her
    schedule is paused (the slot due at that moment recorded missed), the push rules still name her (the answer
    names the project instead), and the audit log has each step."""
    # no sweep in between: the slot made due below must still be due when she is removed (a sweep every 2 s fired it
    # first once, on a loaded machine)
    with serving(settings_factory(**QUEUED, schedule_sweep_seconds=3600), repo) as api:
        engine = api.server.services.engine
        dana, dana_token = create_user(engine, name='dana', role=Role.operator, team_ids=['local'])
        with api.server.client(dana_token) as as_dana:
            made = as_dana.post('/api/projects/proj/schedules', json=SCHEDULE)
            assert made.status_code == 201, made.text
            schedule = made.json()
            rules = as_dana.patch('/api/projects/proj', json={'on_push': {'branches': ['main']}})
            assert rules.status_code == 200, rules.text
            with engine.begin() as conn:  # its slot is due now and no sweep has claimed it
                due = utcnow() - timedelta(seconds=5)
                conn.execute(
                    text('UPDATE schedule SET next_fire_at = :at WHERE id = :id'), {'at': due, 'id': schedule['id']}
                )

            expected = {
                'user_id': dana.id,
                'name': 'dana',
                'teams': ['local'],
                'in_other_teams': False,
                'tokens_revoked': 1,
                'schedules_paused': [{'id': schedule['id'], 'name': 'nightly', 'project_id': 'proj'}],
                'push_rules_as_them': [{'id': 'proj', 'name': api.project['name']}],
            }
            preview = api.client.get(f'/api/users/{dana.id}/removal')
            assert preview.status_code == 200, preview.text
            assert preview.json() == {**expected, 'done': False}
            assert as_dana.get('/api/me').status_code == 200  # a preview changes nothing
            assert api.client.get(f'/api/projects/proj/schedules/{schedule["id"]}').json()['paused'] is False

            removed = api.client.delete(f'/api/users/{dana.id}')
            assert removed.status_code == 200, removed.text
            assert removed.json() == {**expected, 'done': True}
            assert_problem(as_dana.get('/api/me'), 401, 'unauthorized')  # the very next request

        shown = api.client.get(f'/api/projects/proj/schedules/{schedule["id"]}').json()
        assert (shown['paused'], shown['next_fire_at'], shown['user_name']) == (True, None, 'dana')
        firing = api.client.get(f'/api/projects/proj/schedules/{schedule["id"]}/firings').json()[0]
        assert (firing['state'], firing['reason']) == ('missed', 'schedule_paused')
        # an operator resumes it as it is: its next slot is skipped saying why (it said the project did not exist)
        services = api.server.services
        sweep = ScheduleSweep(
            engine=services.engine, settings=services.settings, admitter=services.admitter, bus=services.bus
        )
        resumed = api.client.post(f'/api/projects/proj/schedules/{schedule["id"]}/resume')
        assert resumed.status_code == 200, resumed.text
        due = datetime.fromisoformat(resumed.json()['next_fire_at'].replace('Z', '+00:00'))
        [skipped] = sweep.sweep(now=due + timedelta(seconds=1))
        assert (skipped.state, skipped.reason) == ('skipped', 'owner_gone')
        firings = api.client.get(f'/api/projects/proj/schedules/{schedule["id"]}/firings').json()
        told = next(f for f in firings if f['state'] == 'skipped')
        assert told['detail'] == "The schedule's owner dana is no longer in the project's team."
        assert api.client.get('/api/projects/proj').json()['on_push'] == {**rules.json()['on_push']}  # untouched
        assert 'dana' not in [p['name'] for p in api.client.get('/api/users').json()]
        assert_problem(api.client.delete(f'/api/users/{dana.id}'), 404, 'not_found')  # no longer in your teams

        [left] = _audit(api.client, 'person.removed')
        assert (left['target'], left['team_id']) == (dana.id, 'local')
        assert left['details'] == {'name': 'dana', 'role': 'operator', 'tokens_revoked': 1}
        paused = _audit(api.client, 'schedule.paused')[0]
        assert (paused['target'], paused['project_id']) == (schedule['id'], 'proj')
        assert paused['details'] == {'name': 'nightly', 'why': 'owner_removed', 'owner': 'dana'}


def test_someone_also_in_another_team_leaves_only_yours_and_keeps_their_tokens(api) -> None:  # noqa: ANN001
    """Sam is in the local team and in team b: the local operator may remove sam from local (not change his role,
    which holds in b too). Sam's token keeps working, now for b only, from the very next request; b is never named."""
    engine = api.server.services.engine
    ensure_team(engine, 'b', 'B')
    sam, sam_token = create_user(engine, name='sam', role=Role.builder, team_ids=['local', 'b'])
    with api.server.client(sam_token) as as_sam:
        assert as_sam.get('/api/projects/proj').status_code == 200  # cached with both teams
        problem = assert_problem(api.client.patch(f'/api/users/{sam.id}', json={'role': 'operator'}), 403, 'forbidden')
        assert problem['reason'] == 'other_team' and "'b'" not in problem['detail']
        removed = api.client.delete(f'/api/users/{sam.id}')
        assert removed.status_code == 200, removed.text
        answer = removed.json()
        assert (answer['teams'], answer['in_other_teams'], answer['tokens_revoked']) == (['local'], True, 0)
        assert '"b"' not in removed.text  # the other team is not named
        assert as_sam.get('/api/me').json()['team_ids'] == ['b']  # the very next request
        assert_problem(as_sam.get('/api/projects/proj'), 404, 'not_found')


def test_who_may_change_roles_and_remove_people(api) -> None:  # noqa: ANN001
    """Builders nobody (403 not_yours); an operator no deployment administrator (403 admin), but themselves; nobody
    outside the caller's teams (404)."""
    engine = api.server.services.engine
    ensure_team(engine, 'red', 'Red')
    _, bob_token = create_user(engine, name='bob', role=Role.builder, team_ids=['local'])
    olga, olga_token = create_user(engine, name='olga', role=Role.operator, team_ids=['local'])
    eve, _ = create_user(engine, name='eve', role=Role.operator, team_ids=['red'])
    local = _me(api, api.server.token)['user_id']
    with api.server.client(bob_token) as bob:
        me = bob.get('/api/me').json()['user_id']
        for refused in (
            bob.patch(f'/api/users/{olga.id}', json={'role': 'builder'}),
            bob.patch(f'/api/users/{me}', json={'role': 'operator'}),  # no builder makes themselves an operator
            bob.delete(f'/api/users/{olga.id}'),
            bob.get(f'/api/users/{olga.id}/removal'),
        ):
            assert assert_problem(refused, 403, 'forbidden')['reason'] == 'not_yours'
    with api.server.client(olga_token) as as_olga:
        for refused in (
            as_olga.patch(f'/api/users/{local}', json={'role': 'builder'}),
            as_olga.delete(f'/api/users/{local}'),
        ):
            problem = assert_problem(refused, 403, 'forbidden')
            assert problem['reason'] == 'admin' and 'administrator' in problem['detail']
        for missing in (eve.id, 'usr_missing'):
            assert_problem(as_olga.delete(f'/api/users/{missing}'), 404, 'not_found')
            assert_problem(as_olga.patch(f'/api/users/{missing}', json={'role': 'builder'}), 404, 'not_found')
        left = as_olga.delete(f'/api/users/{olga.id}')  # she leaves the team herself: the admin stays its operator
        assert left.status_code == 200, left.text
        assert left.json()['tokens_revoked'] == 1
        assert_problem(as_olga.get('/api/me'), 401, 'unauthorized')
    assert 'olga' not in [p['name'] for p in api.client.get('/api/users').json()]


@pytest.mark.parametrize('change', ['demote', 'remove'])
def test_two_operators_changing_each_other_at_once_leave_the_team_an_operator(api, monkeypatch, change: str) -> None:  # noqa: ANN001
    """Ann and Ben are team red's only operators; each demotes (or removes) the other at the same moment. Both
    counts are slowed down, so without the lock both would count two operators and both would go through. One
    change goes through; the other is refused, and red keeps an operator. Which refusal depends on where the second
    waited: PostgreSQL's waits at the team's lock, then counts one operator (409 last_operator); SQLite's waits to
    begin, then finds its caller a builder (403) or in no team of theirs (404)"""
    engine = api.server.services.engine
    ensure_team(engine, 'red', 'Red')
    ann, _ = create_user(engine, name='ann', role=Role.operator, team_ids=['red'])
    ben, _ = create_user(engine, name='ben', role=Role.operator, team_ids=['red'])
    counting = people._operators

    def slow_count(session, team_ids):  # noqa: ANN001, ANN202
        found = counting(session, team_ids)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(people, '_operators', slow_count)
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def act(caller, target) -> None:  # noqa: ANN001
        principal = Principal(caller.id, caller.name, 'operator', frozenset({'red'}))
        start.wait()
        try:
            if change == 'demote':
                outcomes[caller.name] = people.change_role(engine, principal, target.id, Role.builder)
            else:
                outcomes[caller.name] = people.remove_person(engine, principal, target.id)
        except Exception as exc:  # noqa: BLE001 - the refusal is the outcome
            outcomes[caller.name] = exc

    threads = [threading.Thread(target=act, args=pair) for pair in ((ann, ben), (ben, ann))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    refused = [o for o in outcomes.values() if isinstance(o, Exception)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert getattr(refused[0], 'status', None) in (403, 404, 409), refused
    with engine.connect() as conn:
        operators = conn.execute(
            text(
                'SELECT count(*) FROM teammember m JOIN "user" u ON u.id = m.user_id '
                "WHERE m.team_id = 'red' AND u.role = 'operator'"
            )
        ).scalar()
    assert operators == 1


def test_a_role_change_reaches_every_token_of_the_person(api) -> None:  # noqa: ANN001
    """Both of olga's tokens were cached as an operator's: the change reaches each (their digests go over the bus)."""
    engine = api.server.services.engine
    olga, first = create_user(engine, name='olga', role=Role.operator, team_ids=['local'])
    second = api.client.post('/api/tokens', json={'user_id': olga.id, 'name': 'ci'}).json()['token']
    auth = api.server.services.auth
    for token in (first, second):
        assert auth.authenticate(token).role == 'operator'
    assert api.client.patch(f'/api/users/{olga.id}', json={'role': 'builder'}).status_code == 200
    for token in (first, second):
        assert auth.cached(token) is False  # forgotten: the next request reads the database
        assert auth.authenticate(token).role == 'builder'
    assert hash_token(first) != hash_token(second)


def _status_within(url: str, token: str, path: str, expected: int, seconds: float) -> None:
    started = time.monotonic()
    while True:
        status = httpx.get(url + path, headers={'Authorization': f'Bearer {token}'}, timeout=5).status_code
        if status == expected:
            return
        assert time.monotonic() - started < seconds, f'{path} still {status} after {seconds} s'
        time.sleep(0.02)


def test_a_role_change_and_a_removal_hold_on_every_instance_at_once(settings_factory, repo, backend: str) -> None:  # noqa: ANN001
    """Team mode: two instances on one database and Redis, each with the person's token cached (for 10 s). The other
    instance applies the change within a second: the bus carries the person's token digests. (Local mode is one
    process by design: there the 'second' instance is the same server.)"""
    first_settings = settings_factory()
    second_settings = settings_factory(database_url=first_settings.effective_database_url)
    with api_server(first_settings) as first, api_server(second_settings) as other_instance:
        second = other_instance if backend == 'team' else first
        engine = first.services.engine
        with first.client() as admin:
            create_project(admin, repo)
            ensure_team(engine, 'b', 'B')
            olga, olga_token = create_user(engine, name='olga', role=Role.operator, team_ids=['local'])
            _, sam_token = create_user(engine, name='sam', role=Role.builder, team_ids=['local', 'b'])
            sam_id = next(p['id'] for p in admin.get('/api/users').json() if p['name'] == 'sam')
            for server in (first, second):  # both instances have both tokens cached now
                _status_within(server.base_url, olga_token, '/api/users', 200, seconds=1.0)
                _status_within(server.base_url, sam_token, '/api/projects/proj', 200, seconds=1.0)

            assert admin.patch(f'/api/users/{olga.id}', json={'role': 'builder'}).status_code == 200
            _status_within(second.base_url, olga_token, '/api/users', 403, seconds=1.0)
            assert admin.delete(f'/api/users/{sam_id}').status_code == 200
            _status_within(second.base_url, sam_token, '/api/projects/proj', 404, seconds=1.0)
            _status_within(second.base_url, sam_token, '/api/me', 200, seconds=1.0)  # still in team b


def test_a_token_made_while_its_person_is_being_removed_does_not_outlive_the_removal(api, monkeypatch) -> None:  # noqa: ANN001
    """Bea makes herself a token while an operator removes her from her only team. The removal, once it has read her
    tokens, is held up (its schedule step slowed); her token request comes then. Either it waits for the removal and
    finds her in no team (404), or it would be made for someone the removal leaves with no team and no way to revoke
    it (nobody lists her any more): no token of hers is left either way."""
    engine = api.server.services.engine
    bea, _ = create_user(engine, name='bea', role=Role.builder, team_ids=['local'])
    pause = people.schedules.pause_owned_by
    removing = threading.Event()

    def slow_pause(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        removing.set()
        time.sleep(0.5)
        return pause(*args, **kwargs)

    monkeypatch.setattr(people.schedules, 'pause_owned_by', slow_pause)
    outcome: dict[str, object] = {}

    def make_token() -> None:
        assert removing.wait(timeout=30)
        try:
            as_bea = Principal(bea.id, 'bea', 'builder', frozenset({'local'}))
            outcome['token'] = people.issue_token(engine, as_bea, name='late')
        except Exception as exc:  # noqa: BLE001 - the refusal is the outcome
            outcome['token'] = exc

    thread = threading.Thread(target=make_token)
    thread.start()
    removed = api.client.delete(f'/api/users/{bea.id}')
    thread.join(timeout=60)
    assert removed.status_code == 200, removed.text
    assert getattr(outcome['token'], 'status', None) == 404, outcome
    with engine.connect() as conn:
        left = conn.execute(text('SELECT count(*) FROM apitoken WHERE user_id = :u'), {'u': bea.id}).scalar()
    assert left == 0


def test_the_last_administrator_who_is_an_operator_is_neither_demoted_nor_removed(api) -> None:  # noqa: ANN001
    """The local account (an administrator and the team's operator) beside another operator of its team: demoting
    itself or leaving would leave no administrator who can change an administrator's role or remove them (an
    administrator who is a builder manages nobody), so both are 409 last_admin; with another such administrator they
    are not."""
    engine = api.server.services.engine
    create_user(engine, name='olga', role=Role.operator, team_ids=['local'])  # the team keeps an operator either way
    me = api.client.get('/api/me').json()
    assert me['is_admin'] is True
    listed = {person['name']: person['last_admin'] for person in api.client.get('/api/users').json()}
    assert listed == {'local': True, 'olga': False}  # the People page offers neither change (its table test)
    assert_problem(api.client.patch(f'/api/users/{me["user_id"]}', json={'role': 'builder'}), 409, 'last_admin')
    assert_problem(api.client.delete(f'/api/users/{me["user_id"]}'), 409, 'last_admin')
    assert_problem(api.client.get(f'/api/users/{me["user_id"]}/removal'), 409, 'last_admin')  # the preview says so
    create_user(engine, name='ada', role=Role.operator, team_ids=['local'], is_admin=True)
    assert not any(person['last_admin'] for person in api.client.get('/api/users').json())
    # An administrator removed from every team manages nobody: the local account is the last one again.
    ada = next(person for person in api.client.get('/api/users').json() if person['name'] == 'ada')
    assert api.client.delete(f'/api/users/{ada["id"]}').status_code == 200
    assert {person['name']: person['last_admin'] for person in api.client.get('/api/users').json()}['local'] is True
    assert_problem(api.client.patch(f'/api/users/{me["user_id"]}', json={'role': 'builder'}), 409, 'last_admin')
    create_user(engine, name='ida', role=Role.operator, team_ids=['local'], is_admin=True)
    reply = api.client.patch(f'/api/users/{me["user_id"]}', json={'role': 'builder'})
    assert reply.status_code == 200 and reply.json()['role'] == 'builder', reply.text
