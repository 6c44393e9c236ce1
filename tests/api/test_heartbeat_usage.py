"""A heartbeat stores what an instance's running runs used so far (their cgroups' count): on those runs only, never
on another instance's, and never over a run's final figures once it ended."""

from __future__ import annotations

from sqlalchemy import text

from app.services.execution.liveness import UsageSoFar, refresh_heartbeats
from tests.helpers.api import Api, run_body

ME, OTHER = 'i:me', 'i:other'


def test_a_heartbeat_stores_usage_on_its_own_running_runs_only(api: Api) -> None:
    engine = api.server.services.engine
    api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 3}).raise_for_status()
    mine, theirs, ended = (
        api.client.post('/api/runs', json=run_body(branch=branch)).json()['id']
        for branch in ('main', 'feature/a', 'feature/b')
    )
    rows = [
        {'id': mine, 'status': 'running', 'owner': ME, 'peak': None, 'cpu': None},
        {'id': theirs, 'status': 'running', 'owner': OTHER, 'peak': None, 'cpu': None},
        {'id': ended, 'status': 'succeeded', 'owner': ME, 'peak': 900, 'cpu': 9.0},  # its end's figures, final
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                'UPDATE run SET status = :status, owner_instance = :owner, peak_memory_bytes = :peak, '
                'cpu_seconds = :cpu WHERE id = :id'
            ),
            rows,
        )
    said = [UsageSoFar(run_id, 100, 1.5, 1024) for run_id in (ended, theirs, mine)]
    assert refresh_heartbeats(engine, ME, said) == []
    shown = {
        run_id: (run['peak_memory_bytes'], run['cpu_seconds'], run['memory_max_bytes'])
        for run_id in (mine, theirs, ended)
        for run in [api.client.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()]
    }
    assert shown == {mine: (100, 1.5, 1024), theirs: (None, None, None), ended: (900, 9.0, None)}
    # a heartbeat whose cgroup read found nothing (the run ending meanwhile) keeps what was stored
    refresh_heartbeats(engine, ME, [UsageSoFar(mine, None, None, 1024)])
    assert api.client.get(f'/api/runs/{mine}', params={'events_limit': 0}).json()['peak_memory_bytes'] == 100
