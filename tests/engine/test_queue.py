"""The global instance cap: beyond it runs wait queued, first in first out, and start as slots free.
Queued runs survive a restart and resume."""

from __future__ import annotations

import time
from datetime import datetime

from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server

BRANCHES = [f'feature/b{i}' for i in range(6)]
SHORT = shell_script('sleep 0.4\necho done')


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace('Z', '+00:00'))


def test_global_cap_queues_and_drains_in_order(settings_factory, repo_factory) -> None:
    cap = 2
    repo = repo_factory({'main': SHORT, **{b: SHORT for b in BRANCHES}})
    with api_server(settings_factory(global_run_cap=cap)) as server, server.client() as client:
        create_project(client, repo, max_concurrent_runs=50)
        ids = []
        for branch in BRANCHES:
            reply = trigger(client, branch=branch)
            assert reply.status_code == 201, reply.text
            ids.append(reply.json()['id'])
        most_running = 0
        while True:  # sample what a client sees while the queue drains
            page = client.get('/api/runs', params={'project': 'proj', 'limit': 50}).json()['items']
            most_running = max(most_running, sum(1 for r in page if r['status'] == 'running'))
            if all(r['status'] not in ('queued', 'running') for r in page):
                break
            time.sleep(0.05)
        runs = [wait_for_status(client, run_id) for run_id in ids]
        assert [r['status'] for r in runs] == ['succeeded'] * len(ids)
        assert most_running <= cap
        created = [r['id'] for r in sorted(runs, key=lambda r: (_at(r['created_at']), r['id']))]
        assert created == ids
        started = [r['id'] for r in sorted(runs, key=lambda r: _at(r['started_at']))]
        assert started == ids  # first in, first out
        # from the stored times: when any run started, at most cap runs (it included) were in flight
        for run in runs:
            moment = _at(run['started_at'])
            in_flight = [r for r in runs if _at(r['started_at']) <= moment < _at(r['finished_at'])]
            assert len(in_flight) <= cap


def test_queued_runs_resume_after_restart(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': SHORT, **{b: SHORT for b in BRANCHES[:3]}})
    settings = settings_factory(global_run_cap=0)  # nothing may start: everything stays queued
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        ids = [trigger(client, branch=b).json()['id'] for b in BRANCHES[:2]]
        time.sleep(0.3)
        assert [client.get(f'/api/runs/{i}').json()['status'] for i in ids] == ['queued', 'queued']
    restarted = settings.model_copy(update={'global_run_cap': 2})  # same database and data dir
    with api_server(restarted) as server, server.client() as client:
        runs = [wait_for_status(client, run_id) for run_id in ids]
        assert [r['status'] for r in runs] == ['succeeded', 'succeeded']
        assert all(r['events'][-1]['text'].startswith('succeeded') for r in runs)


def test_one_claim_fills_the_free_slots_oldest_first_never_past_the_cap(settings_factory, repo_factory) -> None:  # noqa: ANN001
    from app.services.execution.claim import claim_next

    repo = repo_factory({'main': SHORT, **{b: SHORT for b in BRANCHES[:4]}})
    settings = settings_factory(global_run_cap=0)  # the server's own engine starts nothing
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo, max_concurrent_runs=50)
        ids = [trigger(client, branch=b).json()['id'] for b in BRANCHES[:4]]
        registered: list[str] = []

        def claim(cap: int, limit: int) -> list[dict] | None:
            return claim_next(
                server.services.engine,
                global_cap=cap,
                instance_id='elsewhere.invalid:1:test',
                worktrees_dir=settings.worktrees_dir,
                register=lambda run: registered.append(run['id']),
                unregister=registered.remove,
                limit=limit,
            )

        first = claim(cap=3, limit=5)
        assert first is not None
        assert [run['id'] for run in first] == ids[:3] == registered
        assert claim(cap=3, limit=5) is None  # the cap is full
        second = claim(cap=10, limit=5)
        assert second is not None
        assert [run['id'] for run in second] == ids[3:]
        assert [client.get(f'/api/runs/{i}').json()['status'] for i in ids] == ['running'] * 4
