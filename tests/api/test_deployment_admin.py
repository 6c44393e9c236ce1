"""Deployment administrators on every backend: the workers serve every team, so draining one needs a deployment
administrator (the first local operator, or a person added with --admin); a team's operator gets 403 with the
reason. Migration 0016 makes the server's first local operator one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text

from app.infra.db import alembic_config, make_engine
from app.models import Role
from app.services.execution import workers
from app.services.identity.accounts import create_user, ensure_team
from app.services.runs.timeline import timed_sql
from tests.helpers.api import assert_problem
from tests.helpers.servers import api_server


def a_worker(server, name: str = 'gpu@build-3') -> str:  # noqa: ANN001
    workers.register(
        server.services.engine, name=name, instance_id='w:1:x', host='build-3', pid=1, labels=[], slots=2, version='t'
    )
    return name


def test_a_team_operator_may_not_drain_a_worker_and_an_administrator_may(settings_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory()) as server, server.client() as first_local:
        name = a_worker(server)
        engine = server.services.engine
        ensure_team(engine, 'red', 'Red')
        _, operator = create_user(engine, name='olga', role=Role.operator, team_ids=['red'])
        _, admin = create_user(engine, name='ada', role=Role.builder, team_ids=['red'], is_admin=True)

        with server.client(operator) as as_operator:
            assert as_operator.get('/api/me').json()['is_admin'] is False
            for action in ('drain', 'undrain'):
                refused = assert_problem(as_operator.post(f'/api/workers/{name}/{action}'), 403, 'admin_required')
                assert (
                    'deployment administrator' in refused['detail'] and 'olga is a team operator' in refused['detail']
                )
            assert as_operator.get('/api/workers').json()['items'][0]['state'] == 'live'  # nothing changed

        assert first_local.get('/api/me').json()['is_admin'] is True  # the first local operator is one
        a_worker(server)  # its heartbeat fresh: live, not lost, on a slow machine too
        drained = first_local.post(f'/api/workers/{name}/drain')
        assert drained.status_code == 200, drained.text
        assert drained.json()['state'] == 'draining'
        with server.client(admin) as as_admin:  # an administrator by the flag, whatever the team role
            assert as_admin.get('/api/me').json()['is_admin'] is True
            a_worker(server)
            undrained = as_admin.post(f'/api/workers/{name}/undrain')
        assert undrained.status_code == 200 and undrained.json()['state'] == 'live'


T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
USER_SQL = 'INSERT INTO "user" (id, name, role, created_at) VALUES (:id, :name, :role, :at)'


@pytest.mark.fresh_database  # it migrates step by step itself
def test_the_upgrade_makes_the_first_local_operator_an_administrator(settings_factory) -> None:  # noqa: ANN001
    engine = make_engine(settings_factory().effective_database_url)
    try:
        command.upgrade(alembic_config(engine), '0015_project_environment')
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO team (id, name) VALUES ('local', 'Local'), ('red', 'Red')"))
            people = [  # (id, role, team, created): the server's own account came first
                ('usr_red_op', 'operator', 'red', T0 - timedelta(days=1)),
                ('usr_local', 'operator', 'local', T0),
                ('usr_later', 'operator', 'local', T0 + timedelta(days=1)),
                ('usr_builder', 'builder', 'local', T0 - timedelta(days=2)),
            ]
            for user_id, role, team, at in people:
                conn.execute(
                    timed_sql(USER_SQL, binds=('at',)), {'id': user_id, 'name': user_id, 'role': role, 'at': at}
                )
                conn.execute(
                    text('INSERT INTO teammember (team_id, user_id) VALUES (:t, :u)'), {'t': team, 'u': user_id}
                )
        command.upgrade(alembic_config(engine), 'head')
        with engine.connect() as conn:
            admins = conn.execute(text('SELECT id FROM "user" WHERE is_admin')).scalars().all()
        assert admins == ['usr_local']
        command.downgrade(alembic_config(engine), '0015_project_environment')
        command.upgrade(alembic_config(engine), 'head')
    finally:
        engine.dispose()
