"""Gone workers leave the Workers list, on every backend: an administrator removes a stopped or lost one
(`DELETE /api/workers/{name}`, `runboard workers remove NAME`); a live or draining one is refused (409 worker_live:
it would register again at its next beat), a team's operator is refused (403 admin_required), an unknown name is
404. Every server's hourly sweep forgets the workers stopped or lost for longer than RUNBOARD_WORKER_RETENTION_DAYS,
but never one that still owns a running run; a worker whose row is gone registers again at its next beat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from app.infra.db import session_scope
from app.models import Role, Run, Worker, utcnow
from app.services.execution import workers
from app.services.identity.accounts import create_user, ensure_team
from app.services.scheduling import jobs as housekeeping
from tests.helpers.api import QUEUED, assert_problem
from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, shell_script, trigger
from tests.helpers.servers import api_server


def a_worker(server, name: str, *, stopped_days_ago: float | None = None, silent_days: float | None = None) -> str:  # noqa: ANN001
    """Register `name` (instance `i:<name>`); then, if asked, stopped that many days ago or silent that long."""
    engine = server.services.engine
    workers.register(engine, name=name, instance_id=f'i:{name}', host='build-3', pid=1, labels=[], slots=2, version='t')
    with session_scope(engine) as session:
        row = session.get(Worker, name)
        assert row is not None
        if stopped_days_ago is not None:
            row.stopped_at = row.heartbeat_at = utcnow() - timedelta(days=stopped_days_ago)
        if silent_days is not None:
            row.heartbeat_at = utcnow() - timedelta(days=silent_days)
        session.add(row)
        session.commit()
    return name


def names(client) -> list[str]:  # noqa: ANN001
    return [w['name'] for w in client.get('/api/workers').json()['items']]


def test_an_administrator_removes_a_stopped_or_lost_worker_and_never_a_live_one(settings_factory) -> None:  # noqa: ANN001
    settings = settings_factory(heartbeat_seconds=30.0)  # the live worker stays live however slow the machine
    with api_server(settings) as server, server.client() as admin:
        engine = server.services.engine
        a_worker(server, 'old@ci-1')
        workers.mark_stopped(engine, 'old@ci-1')
        a_worker(server, 'gone@ci-2', silent_days=1)  # lost
        a_worker(server, 'busy@ci-3')
        a_worker(server, 'drained@ci-4')
        assert admin.post('/api/workers/drained@ci-4/drain').json()['state'] == 'draining'
        states = {w['name']: w['state'] for w in admin.get('/api/workers').json()['items']}
        assert states == {'busy@ci-3': 'live', 'drained@ci-4': 'draining', 'gone@ci-2': 'lost', 'old@ci-1': 'stopped'}

        ensure_team(engine, 'red', 'Red')
        _, operator = create_user(engine, name='olga', role=Role.operator, team_ids=['red'])
        with server.client(operator) as as_operator:
            refused = assert_problem(as_operator.delete('/api/workers/old@ci-1'), 403, 'admin_required')
            assert 'Removing a worker needs a deployment administrator' in refused['detail']
            assert 'olga is a team operator' in refused['detail']
        assert 'old@ci-1' in names(admin)  # nothing changed

        for name, state in (('busy@ci-3', 'live'), ('drained@ci-4', 'draining')):
            live = assert_problem(admin.delete(f'/api/workers/{name}'), 409, 'worker_live')
            assert live['state'] == state
            assert 'registers again at its next heartbeat' in live['detail'] and 'Drain it, stop it' in live['detail']
        assert_problem(admin.delete('/api/workers/nobody@nowhere'), 404, 'not_found')

        removed = admin.delete('/api/workers/old@ci-1')
        assert removed.status_code == 204, removed.text
        assert_problem(admin.delete('/api/workers/old@ci-1'), 404, 'not_found')  # already gone

        said = run_cli(server.base_url, server.token, 'workers', 'remove', 'gone@ci-2')
        assert said.code == 0, said.stdout
        assert 'gone@ci-2 removed' in said.stdout
        refused_cli = run_cli(server.base_url, server.token, 'workers', 'remove', 'busy@ci-3')
        assert refused_cli.code != 0 and 'registers again' in refused_cli.stdout + refused_cli.stderr
        assert names(admin) == ['busy@ci-3', 'drained@ci-4']

        # a worker whose row is gone hears so from its beat, and registers again
        assert workers.beat(engine, 'gone@ci-2') is None
        assert workers.beat(engine, 'busy@ci-3') is False


def test_the_sweep_forgets_workers_gone_longer_than_the_retention(settings_factory, repo_factory) -> None:  # noqa: ANN001
    settings = settings_factory(**QUEUED, worker_retention_days=14)
    with api_server(settings) as server, server.client() as admin:
        engine = server.services.engine
        a_worker(server, 'old@ci-1', stopped_days_ago=20)
        a_worker(server, 'lost@ci-2', silent_days=20)
        a_worker(server, 'recent@ci-3', stopped_days_ago=3)
        a_worker(server, 'lately-lost@ci-4', silent_days=3)
        a_worker(server, 'holder@ci-5', stopped_days_ago=20)
        a_worker(server, 'live@ci-6')
        create_project(admin, repo_factory({'main': shell_script('echo hi')}))
        run = trigger(admin).json()
        with session_scope(engine) as session:  # a run still running on the old worker (run recovery ends it)
            session.connection().execute(
                update(Run).where(col(Run.id) == run['id']).values(status='running', owner_instance='i:holder@ci-5')
            )
            session.commit()
        busy = assert_problem(admin.delete('/api/workers/holder@ci-5'), 409, 'worker_busy')
        assert 'owns 1 running run' in busy['detail']

        # two servers sweeping at once: each gone worker is deleted once, neither sweep fails
        with ThreadPoolExecutor(2) as pool:
            swept = list(pool.map(lambda _: housekeeping.forget_gone_workers(engine, settings), range(2)))
        assert sum(swept) == 2, swept
        assert names(admin) == ['holder@ci-5', 'lately-lost@ci-4', 'live@ci-6', 'recent@ci-3']
        assert housekeeping.forget_gone_workers(engine, settings) == 0  # a later pass: nothing left

        kept_for_ever = settings.model_copy(update={'worker_retention_days': 0})
        a_worker(server, 'ancient@ci-7', stopped_days_ago=400)
        assert housekeeping.forget_gone_workers(engine, kept_for_ever) == 0
        assert 'ancient@ci-7' in names(admin)
