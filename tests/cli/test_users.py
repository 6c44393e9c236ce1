"""`runboard users add` makes a person in a team whose token works against the API and sees only
that team's projects (team mode sign-in)."""

from __future__ import annotations

import json
import subprocess
import sys

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
        done = _users_add(settings, 'alice', '--team', 'red', '--role', 'builder', '--json')
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
        for name, flags in (('olga', ()), ('ada', ('--admin',))):
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
        said = _users_add(settings, 'root2', '--team', 'ops', '--admin')
        assert said.returncode == 0 and 'builder (deployment administrator) root2' in said.stdout
