"""Delayed runs and queued TTLs over HTTP, on every backend: a delayed run holds nothing until it is due
(no PR lock, no slot, no quota), is idempotent like any trigger (also on the fast path), can be cancelled,
and when due is admitted under the rules of that moment (refused: `skipped`, with the refusal); a queued run
past its TTL ends `expired` with how long it waited and what for. Runs stay queued (global_run_cap=0)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.services.scheduling.delayed_runs import DelayedRuns
from tests.helpers.api import QUEUED, assert_problem, run_body, same_database, serving
from tests.helpers.runs import wait_for_status
from tests.helpers.servers import api_server


def later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def status_events(client, run_id: str) -> list[str]:  # noqa: ANN001
    return [e['text'] for e in client.get(f'/api/runs/{run_id}').json()['events'] if e['type'] == 'status']


def test_a_delayed_run_holds_nothing_until_it_is_due(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, rate_limit_runs=2), repo, max_concurrent_runs=1) as api:
        reply = api.client.post('/api/runs', json={**run_body(), 'run_in': '1h'})
        assert reply.status_code == 201, reply.text
        delayed = reply.json()
        assert delayed['status'] == 'delayed' and delayed['commit_sha'] is None
        due = datetime.fromisoformat(delayed['run_at'])
        assert timedelta(minutes=59) < due - datetime.now(UTC) <= timedelta(hours=1)
        assert status_events(api.client, delayed['id']) == [f'delayed until {due:%Y-%m-%d %H:%M:%S} UTC']
        # the same branch, the only slot and the quota are all still free
        now = api.client.post('/api/runs', json=run_body())
        assert now.status_code == 201, now.text
        assert now.headers['RateLimit'].startswith('"runs";r=1;')
        assert api.client.get('/api/runs', params={'status': 'delayed'}).json()['items'][0]['id'] == delayed['id']


def test_the_runs_list_shows_waiting_delayed_runs_above_now_soonest_nearest(api) -> None:  # noqa: ANN001
    """Newest first by when a run starts: delayed runs wait above the runs of now, the latest-due on top, as
    Prefect lists scheduled runs; a delayed run created first does not sink among older rows."""
    in_an_hour = api.client.post('/api/runs', json={**run_body(), 'run_in': '1h'}).json()
    in_a_minute = api.client.post('/api/runs', json={**run_body(), 'run_in': '1m'}).json()
    now = api.client.post('/api/runs', json=run_body()).json()
    listed = [run['id'] for run in api.client.get('/api/runs').json()['items']]
    assert listed[:3] == [in_an_hour['id'], in_a_minute['id'], now['id']]
    # the next page's keyset still starts below the last row shown: nothing is skipped or shown twice
    first = api.client.get('/api/runs', params={'limit': 1}).json()
    rest = api.client.get('/api/runs', params={'cursor': first['next_cursor']}).json()['items']
    assert [first['items'][0]['id'], *(run['id'] for run in rest)][:3] == listed[:3]


def test_since_and_until_take_a_delayed_run_by_when_it_was_created(api) -> None:  # noqa: ANN001
    """`until`/`since` say "created": a run created today and due in two days is in today's runs, not in those
    created two days on (its id is minted at its due time, for the list's order)."""
    later = api.client.post('/api/runs', json={**run_body(), 'run_in': '2d'}).json()
    today = datetime.now(UTC).date()

    def listed(**params: str) -> list[str]:
        answer = api.client.get('/api/runs', params=params)
        assert answer.status_code == 200, answer.text
        return [run['id'] for run in answer.json()['items']]

    assert later['id'] in listed(until=today.isoformat())
    assert later['id'] in listed(since=today.isoformat(), until=today.isoformat())
    assert later['id'] not in listed(since=(today + timedelta(days=2)).isoformat())
    assert later['id'] not in listed(until=(today - timedelta(days=1)).isoformat())


def test_delayed_triggers_are_idempotent_on_the_route_and_its_fast_path(api) -> None:  # noqa: ANN001
    body = {**run_body(), 'run_in': '10m', 'ttl': '5m'}
    first = api.client.post('/api/runs', json=body, headers={'Idempotency-Key': 'k1'})
    assert first.status_code == 201, first.text
    # a resend a moment later (its run_in counts from a later now) is the same request: the same run
    again = api.client.post('/api/runs', json=body, headers={'Idempotency-Key': 'k1'})
    assert again.status_code == 200 and again.headers['Idempotent-Replayed'] == 'true'
    assert again.json()['id'] == first.json()['id'] and again.json()['run_at'] == first.json()['run_at']
    # the same through the route (a JSON subtype the fast path leaves to it): the same answer
    routed = api.client.post(
        '/api/runs',
        content=json.dumps(body),
        headers={'Idempotency-Key': 'k1', 'Content-Type': 'application/merge-patch+json'},
    )
    assert routed.status_code == 200 and routed.json()['id'] == first.json()['id']
    # the same key with another delay is another request
    assert_problem(
        api.client.post('/api/runs', json={**body, 'run_in': '20m'}, headers={'Idempotency-Key': 'k1'}),
        422,
        'idempotency_key_mismatch',
    )
    fresh = api.client.post('/api/runs', json={**run_body(branch='feature/a'), 'ttl': 90}).json()
    assert fresh['status'] == 'queued' and fresh['ttl_seconds'] == 90 and fresh['expires_at']


@pytest.mark.parametrize(
    ('fields', 'field'),
    [
        ({'run_in': 'soon'}, 'run_in'),
        ({'run_in': '10m', 'run_at': '2030-01-01T00:00:00Z'}, 'run_at'),
        ({'run_at': '2020-01-01T00:00:00Z'}, 'run_at'),
        ({'run_at': 'tomorrow noon'}, 'run_at'),
        ({'run_in': '90d'}, 'run_in'),
        ({'ttl': 'forever'}, 'ttl'),
        ({'ttl': True}, 'ttl'),  # not 1 second
        ({'ttl': -5}, 'ttl'),
        ({'run_in': '9' * 40}, 'run_in'),
    ],
)
def test_bad_timing_is_422_naming_the_field(api, fields, field) -> None:  # noqa: ANN001
    for content_type in ('application/json', 'application/merge-patch+json'):  # the fast path and the route
        reply = api.client.post(
            '/api/runs',
            content=json.dumps({**run_body(), **fields}),
            headers={'Content-Type': content_type},
        )
        assert assert_problem(reply, 422, 'validation')['field'] == field


def test_a_cancelled_delayed_run_ends_stopped_without_starting(api) -> None:  # noqa: ANN001
    run = api.client.post('/api/runs', json={**run_body(), 'run_in': '5s'}).json()
    stopped = api.client.post(f'/api/runs/{run["id"]}/stop')
    assert stopped.status_code == 202 and stopped.json()['status'] == 'stopped'
    final = wait_for_status(api.client, run['id'], ('stopped',))
    assert final['started_at'] is None
    assert 'cancelled by local before it was due' in status_events(api.client, run['id'])
    assert_problem(api.client.post(f'/api/runs/{run["id"]}/stop'), 409, 'run_ended')
    # past its time, the sweep leaves it as it is: nothing admits a cancelled run
    assert (
        DelayedRuns(
            engine=api.server.services.engine, admitter=api.server.services.admitter, bus=api.server.services.bus
        ).admit_due(datetime.now(UTC) + timedelta(seconds=10))
        == {}
    )
    assert api.client.get(f'/api/runs/{run["id"]}').json()['status'] == 'stopped'


def test_when_due_it_is_queued_once_even_with_two_servers(settings_factory, repo) -> None:  # noqa: ANN001
    settings = settings_factory(**QUEUED)
    with serving(settings, repo) as api, api_server(same_database(settings_factory, settings)):
        run = api.client.post('/api/runs', json={**run_body(), 'run_at': later(1.0), 'ttl': '1h'}).json()
        queued = wait_for_status(api.client, run['id'], ('queued', 'skipped'), timeout=15)
        assert queued['status'] == 'queued', queued
        assert queued['commit_sha'] and queued['expires_at']  # the branch's commit and the TTL, from when it was due
        events = status_events(api.client, run['id'])
        assert [e for e in events if e.startswith('queued')] == [events[-1]] and 'due at' in events[-1]
        # now it holds the branch like any queued run
        assert_problem(api.client.post('/api/runs', json=run_body(depth='deep')), 409, 'pr_lock')


def test_refused_when_due_it_ends_skipped_with_the_refusal(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUEUED, rate_limit_runs=1), repo) as api:
        # first (a slow machine may take seconds over these requests): takes main and the one run of the quota
        holder = api.client.post('/api/runs', json=run_body()).json()
        # asked for later, they take neither now
        locked = api.client.post('/api/runs', json={**run_body(), 'run_in': '3s'}).json()
        limited = api.client.post('/api/runs', json={**run_body(branch='feature/a'), 'run_in': '3s'}).json()
        assert (locked['status'], limited['status']) == ('delayed', 'delayed')
        skipped = wait_for_status(api.client, locked['id'], ('skipped', 'queued'), timeout=15)
        assert skipped['status'] == 'skipped' and skipped['error'].startswith(('pr_lock:', 'rate_limited:'))
        assert skipped['started_at'] is None
        over = wait_for_status(api.client, limited['id'], ('skipped', 'queued'), timeout=15)
        assert over['status'] == 'skipped' and over['error'].startswith('rate_limited:'), over
        assert any(e.startswith('skipped: not admitted when it was due') for e in status_events(api.client, over['id']))
        assert api.client.get(f'/api/runs/{holder["id"]}').json()['status'] == 'queued'
        # a skipped run can be retried like a failed one
        assert api.client.post(f'/api/runs/{over["id"]}/retry').status_code in (201, 429)


def test_a_queued_run_past_its_ttl_expires_with_what_it_waited_for(api) -> None:  # noqa: ANN001
    run = api.client.post('/api/runs', json={**run_body(), 'ttl': 1}).json()
    assert run['status'] == 'queued' and run['ttl_seconds'] == 1
    expired = wait_for_status(api.client, run['id'], ('expired',), timeout=15)
    assert expired['started_at'] is None and 'Queued TTL of 1 s passed' in expired['error']
    last = status_events(api.client, run['id'])[-1]
    assert last.startswith('expired: waited ') and 'in the queue, waiting for a free run slot (0 of 0 running)' in last
    # it no longer holds the branch, and can be retried
    assert api.client.post('/api/runs', json=run_body(depth='deep')).status_code == 201
    assert api.client.get('/api/runs', params={'status': 'expired'}).json()['items'][0]['id'] == run['id']


def test_the_project_ttl_applies_unless_the_trigger_names_one(api) -> None:  # noqa: ANN001
    assert (
        api.client.patch('/api/projects/proj', json={'queued_ttl_seconds': 3600}).json()['queued_ttl_seconds'] == 3600
    )
    assert api.client.post('/api/runs', json=run_body()).json()['ttl_seconds'] == 3600
    assert api.client.post('/api/runs', json={**run_body(branch='feature/a'), 'ttl': '2m'}).json()['ttl_seconds'] == 120
    assert (
        api.client.patch('/api/projects/proj', json={'queued_ttl_seconds': None}).json()['queued_ttl_seconds'] is None
    )
    assert_problem(api.client.patch('/api/projects/proj', json={'queued_ttl_seconds': 0}), 422, 'validation')
