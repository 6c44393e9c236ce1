"""`runboard users add` makes a person in a team whose token works against the API and sees only
that team's projects (team mode sign-in); it refuses a name already in the team (the API's rule) and a team nobody
made (unless --new-team says to make it, or the database has no team yet), and audits what it adds."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlmodel import Session, col, select

from app.models import Team, User
from tests.helpers.runs import create_project
from tests.helpers.servers import ROOT, api_server, clean_env


def _users_add(settings, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = clean_env(RUNBOARD_DATA_DIR=str(settings.data_dir))
    if settings.database_url:
        env['RUNBOARD_DATABASE_URL'] = settings.database_url
    return subprocess.run(
        [sys.executable, '-m', 'app.cli', 'users', 'add', *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_users_add_prints_a_token_scoped_to_the_team(settings_factory, repo_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    with api_server(settings) as server, server.client() as admin:
        create_project(admin, repo_factory(), project_id='local-proj')  # in the local operator's team
        done = _users_add(settings, 'alice', '--team', 'red', '--new-team', '--role', 'builder', '--json')
        assert done.returncode == 0, done.stderr
        alice = json.loads(done.stdout)
        assert alice['teams'] == ['red'] and alice['token'].startswith('rb_')
        with server.client(alice['token']) as client:
            me = client.get('/api/me').json()
            assert me.pop('token_id').startswith('tok_')  # the token this request came with
            assert me == {
                'user_id': alice['user_id'],
                'name': 'alice',
                'role': 'builder',
                'team_ids': ['red'],
                'is_admin': False,
            }
            assert client.get('/api/projects').json() == []  # another team's project stays invisible
            assert client.get('/api/projects/local-proj').status_code == 404
        refused = _users_add(settings, 'mallory', '--team', 'red', '--role', 'admin')
        assert refused.returncode == 2 and 'builder or operator' in refused.stderr
        with server.client('rb_not-a-token') as stranger:
            assert stranger.get('/api/me').status_code == 401


def test_users_add_admin_makes_a_deployment_administrator_who_drains_workers(settings_factory) -> None:  # noqa: ANN001
    from app.services.execution import workers

    settings = settings_factory(heartbeat_seconds=30.0)  # the registered worker stays live however slow the machine
    with api_server(settings) as server:
        made = {}
        for name, flags in (('olga', ('--new-team',)), ('ada', ('--admin',))):
            done = _users_add(settings, name, '--team', 'red', '--role', 'operator', *flags, '--json')
            assert done.returncode == 0, done.stderr
            made[name] = json.loads(done.stdout)
        assert (made['olga']['admin'], made['ada']['admin']) == (False, True)
        workers.register(  # a live worker (its heartbeat fresh)
            server.services.engine, name='w1', instance_id='w:1:x', host='h', pid=1, labels=[], slots=1, version='t'
        )
        with server.client(made['olga']['token']) as olga:
            assert olga.post('/api/workers/w1/drain').json()['error'] == 'admin_required'
        with server.client(made['ada']['token']) as ada:
            assert ada.get('/api/me').json()['is_admin'] is True
            assert ada.post('/api/workers/w1/drain').json()['state'] == 'draining'
        said = _users_add(settings, 'root2', '--team', 'ops', '--new-team', '--admin')
        assert said.returncode == 0 and 'builder (deployment administrator) root2' in said.stdout
        # a builder manages nobody: the administrator meant to add the others is told how to make one
        assert '--role operator --admin' in ' '.join(said.stderr.split())
        assert 'Note' not in done.stderr  # ada, an operator and administrator: nothing to say


def test_the_first_admin_of_a_fresh_database_and_a_name_taken_in_the_team(settings_factory) -> None:  # noqa: ANN001
    """On a database with no team yet the documented first command makes the team with its first person; a second
    `bob` in a team is refused (409, as the API refuses it), so `runboard users revoke bob` never meets two."""
    settings = settings_factory()
    first = _users_add(settings, 'alice', '--team', 'core', '--role', 'operator', '--admin', '--json')
    assert first.returncode == 0, first.stderr
    alice = json.loads(first.stdout)
    assert (alice['teams'], alice['admin']) == (['core'], True)

    assert _users_add(settings, 'bob', '--team', 'core').returncode == 0
    again = _users_add(settings, 'bob', '--team', 'core')
    assert again.returncode == 3, again.stderr
    assert "someone named 'bob' is already in core" in again.stderr and 'Token' not in again.stdout
    assert _users_add(settings, 'bob', '--team', 'red', '--new-team').returncode == 0  # another team: its own bob
    twice = _users_add(settings, 'bob', '--team', 'blue', '--team', 'core', '--new-team')
    assert twice.returncode == 3 and 'already in core' in twice.stderr
    with api_server(settings) as server:
        engine = server.services.engine
        with Session(engine) as session:
            bobs = session.exec(select(User).where(col(User.name) == 'bob')).all()
            assert len(bobs) == 2
            assert session.get(Team, 'blue') is None  # the refused add made nothing
        with server.client(alice['token']) as client:
            assert client.post('/api/tokens/revoke', params={'user': 'bob'}).status_code == 200


def test_an_unknown_team_is_refused_unless_new_team_says_to_make_it(settings_factory) -> None:  # noqa: ANN001
    """A typo in --team made a team of its own, with the person in it and nobody else's projects in sight."""
    settings = settings_factory()
    assert _users_add(settings, 'olga', '--team', 'core', '--role', 'operator').returncode == 0  # the first team
    typo = _users_add(settings, 'bea', '--team', 'cor')
    assert typo.returncode == 2, typo.stderr
    assert "no team 'cor'" in typo.stderr and 'core' in typo.stderr and '--new-team' in typo.stderr
    made = _users_add(settings, 'bea', '--team', 'platform', '--new-team', '--json')
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)['teams'] == ['platform']
    with api_server(settings) as server, Session(server.services.engine) as session:
        assert sorted(session.exec(select(Team.id)).all()) == ['core', 'local', 'platform']  # never 'cor'
        assert session.exec(select(User).where(col(User.name) == 'bea')).all()[0].name == 'bea'


def test_users_add_records_the_person_and_the_token_in_the_audit_log(settings_factory) -> None:  # noqa: ANN001
    """As the UI's Add person does (docs/team.md): `person.created` and `token.created`, in the person's team, by
    the server's command (no token)."""
    settings = settings_factory()
    olga = json.loads(_users_add(settings, 'olga', '--team', 'core', '--role', 'operator', '--json').stdout)
    dan = json.loads(_users_add(settings, 'dan', '--team', 'core', '--json').stdout)
    with api_server(settings) as server, server.client(olga['token']) as client:
        items = client.get('/api/audit', params={'limit': 10}).json()['items']
        with server.client(dan['token']) as as_dan:
            dan_token = as_dan.get('/api/me').json()['token_id']
    entries = [(e['action'], e['target'], e['details'].get('of') or e['details'].get('name')) for e in items]
    assert entries[:2] == [('token.created', dan_token, 'dan'), ('person.created', dan['user_id'], 'dan')]
    assert {e['action'] for e in items} == {'person.created', 'token.created'}  # olga's two, dan's two
    assert len(items) == 4
    for entry in items:
        assert entry['actor_name'] == 'runboard users add (on the server)' and entry['token_id'] is None
        assert entry['team_id'] == 'core'
