"""Team mode admits a trigger on the event loop (services/runs/loop_admission.py), and hands it to a thread, from the
start and with nothing done, for what the loop does not do. The rules themselves are the admission tests', which
run on this path too; these tests hold the path's own promises."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from app.api import runs as runs_api
from tests.helpers.api import run_body

pytestmark = pytest.mark.parametrize('backend', ['team'])  # the loop's admission is PostgreSQL's


def _no_thread(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every admission handed to a thread (and still runs it)."""
    handed: list[str] = []
    real = runs_api.call_in_thread

    async def recording(call):  # noqa: ANN001, ANN202
        handed.append(repr(call))
        return await real(call)

    monkeypatch.setattr(runs_api, 'call_in_thread', recording)
    return handed


def test_a_plain_trigger_and_its_replay_need_no_thread(api, monkeypatch) -> None:  # noqa: ANN001
    assert api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 10}).status_code == 200
    first = api.client.post('/api/runs', json=run_body(branch='feature/a'))  # warms the project and branch caches
    assert first.status_code == 201, first.text
    handed = _no_thread(monkeypatch)
    created = api.client.post('/api/runs', json=run_body(branch='feature/b'), headers={'Idempotency-Key': 'loop-1'})
    assert created.status_code == 201, created.text
    again = api.client.post('/api/runs', json=run_body(branch='feature/b'), headers={'Idempotency-Key': 'loop-1'})
    assert again.status_code == 200 and again.json()['id'] == created.json()['id'], again.text
    mismatch = api.client.post('/api/runs', json=run_body(branch='feature/a'), headers={'Idempotency-Key': 'loop-1'})
    assert mismatch.status_code == 422 and mismatch.json()['error'] == 'idempotency_key_mismatch', mismatch.text
    # the same connections after those rollbacks: the statements they prepared are still there
    later = api.client.post('/api/runs', json=run_body(branch='main'), headers={'Idempotency-Key': 'loop-2'})
    assert later.status_code == 201, later.text
    assert handed == []


def test_what_the_loop_does_not_decide_a_thread_does_with_nothing_left_behind(api, monkeypatch) -> None:  # noqa: ANN001
    """At the concurrency limit the rules read the active runs one statement at a time: the loop's attempt rolls
    back and gives its quota entry back, and the thread's refusal is the answer. Nothing is written twice."""
    handed = _no_thread(monkeypatch)
    for branch in ('feature/a', 'feature/b'):  # project 'proj' allows 2
        assert api.client.post('/api/runs', json=run_body(branch=branch)).status_code == 201
    services = api.server.services
    principal = services.auth.authenticate(api.server.token)
    refused = api.client.post('/api/runs', json=run_body(branch='main'), headers={'Idempotency-Key': 'at-limit'})
    assert refused.status_code == 409 and refused.json()['error'] == 'concurrency_limit', refused.text
    assert len(handed) >= 1
    runs = api.client.get('/api/runs', params={'limit': 50}).json()['items']
    assert sorted(run['branch_name'] for run in runs) == ['feature/a', 'feature/b']
    assert services.admitter.quota(principal).remaining == services.settings.rate_limit_runs - 2  # its entry is back


def test_connections_postgresql_dropped_are_replaced_on_the_next_admission(api) -> None:  # noqa: ANN001
    first = {'json': run_body(branch='feature/a'), 'headers': {'Idempotency-Key': 'first'}}
    assert api.client.post('/api/runs', **first).status_code == 201  # fills the caches (in a thread)
    assert api.client.post('/api/runs', **first).status_code == 200  # the loop's replay
    transactions = api.server.services.admitter.on_loop.transactions
    pids = [wire.connection.info.backend_pid for wire, _ in transactions._idle]
    assert pids, 'the admission left its connection idle for the next one'
    url = api.server.services.engine.url.set(drivername='postgresql').render_as_string(hide_password=False)
    with psycopg.connect(url) as admin:
        assert all(admin.execute('SELECT pg_terminate_backend(%s)', (pid,)).fetchone()[0] for pid in pids)
    created = api.client.post('/api/runs', json=run_body(branch='feature/b'), headers={'Idempotency-Key': 'dropped'})
    assert created.status_code == 201, created.text
    again = api.client.post('/api/runs', json=run_body(branch='feature/b'), headers={'Idempotency-Key': 'dropped'})
    assert again.status_code == 200 and again.json()['id'] == created.json()['id'], again.text


def test_the_loop_admission_serves_any_event_loop(api) -> None:  # noqa: ANN001
    """Its connections belong to one loop; called from another (a second server in one process, a test's
    loop) it opens its own rather than awaiting another loop's."""
    services = api.server.services
    assert api.client.post('/api/runs', json=run_body(branch='feature/a')).status_code == 201
    principal = services.auth.authenticate(api.server.token)

    async def trigger(key: str):  # noqa: ANN202
        return await services.admitter.on_loop.trigger(
            principal,
            key=key,
            correlation_id='test',
            project_id='proj',
            depth_level='shallow',
            target_framework='python',
            branch='feature/b',
        )

    created = asyncio.run(trigger('other-loop'))
    assert created is not None and not created.replayed
    replayed = asyncio.run(trigger('other-loop'))
    assert replayed is not None and replayed.replayed and replayed.run.id == created.run.id
    listed = api.client.get('/api/runs', params={'limit': 50}).json()['items']
    assert created.run.id in {run['id'] for run in listed}
