"""The runs list's text search and date range, and the retry chain both ways, on every backend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.helpers.api import assert_problem, run_body


def _fail(server, run_id: str) -> None:  # noqa: ANN001
    from app.models import RunStatus
    from app.services.execution.reaper import finish_run

    assert finish_run(server.services.engine, run_id=run_id, status=RunStatus.failed) is not None


def ids(api, **params) -> list[str]:  # noqa: ANN001, ANN003
    page = api.client.get('/api/runs', params=params)
    assert page.status_code == 200, page.text
    return [r['id'] for r in page.json()['items']]


def test_search_matches_run_id_branch_and_issue_title_in_any_case(api) -> None:  # noqa: ANN001
    api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 50})
    on_main = api.client.post('/api/runs', json=run_body(branch='main')).json()
    on_a = api.client.post('/api/runs', json=run_body(branch='feature/a')).json()
    with api.server.services.engine.begin() as conn:  # an AFK run's issue title, as the loop stores it
        conn.execute(
            text("UPDATE run SET issue_title = 'Fix the 100% flaky LOGIN test' WHERE id = :id"), {'id': on_main['id']}
        )

    assert ids(api, q='FEATURE/') == [on_a['id']]
    assert ids(api, q='login') == [on_main['id']]  # the issue title
    assert ids(api, q='100%') == [on_main['id']]  # % is a character here, not a wildcard
    assert ids(api, q='_') == [on_a['id'], on_main['id']]  # so is _ (both ids have one)
    assert ids(api, q=on_a['id'][-6:]) == [on_a['id']]  # part of a run id
    assert ids(api, q='nothing-like-this') == []
    assert ids(api, q='main', branch='feature/a') == []  # with the other filters
    assert_problem(api.client.get('/api/runs', params={'q': '  '}), 422, 'validation')
    assert_problem(api.client.get('/api/runs', params={'q': 'x' * 201}), 422, 'validation')


def test_a_date_range_selects_runs_by_creation_day(api) -> None:  # noqa: ANN001
    api.client.patch('/api/projects/proj', json={'max_concurrent_runs': 50})
    runs = [api.client.post('/api/runs', json=run_body(branch='main')).json()]
    time.sleep(0.05)  # a moment between the two runs' creation, for a time bound to fall into
    runs.append(api.client.post('/api/runs', json=run_body(branch='feature/a')).json())
    today = datetime.now(UTC).date()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    newest_first = [runs[1]['id'], runs[0]['id']]

    assert ids(api, since=today.isoformat()) == newest_first
    assert ids(api, until=today.isoformat()) == newest_first  # a date as the end includes that day
    assert ids(api, since=tomorrow.isoformat()) == []
    assert ids(api, until=yesterday.isoformat()) == []
    first, second = (datetime.fromisoformat(r['created_at']).replace(tzinfo=UTC) for r in runs)
    between = (first + (second - first) / 2).isoformat()
    assert ids(api, since=between) == [runs[1]['id']]  # a time, to the millisecond
    assert ids(api, until=between) == [runs[0]['id']]
    assert ids(api, since=today.isoformat(), limit=1) == [runs[1]['id']]  # keyset pages within the range
    page = api.client.get('/api/runs', params={'since': today.isoformat(), 'limit': 1}).json()
    assert ids(api, since=today.isoformat(), cursor=page['next_cursor']) == [runs[0]['id']]
    assert_problem(api.client.get('/api/runs', params={'since': 'last tuesday'}), 422, 'validation')
    bad_order = {'since': today.isoformat(), 'until': yesterday.isoformat()}
    assert_problem(api.client.get('/api/runs', params=bad_order), 422, 'validation')


def test_a_retried_run_links_to_its_retries_in_the_list_and_its_page(api) -> None:  # noqa: ANN001
    original = api.client.post('/api/runs', json=run_body(branch='feature/b')).json()
    _fail(api.server, original['id'])
    first = api.client.post(f'/api/runs/{original["id"]}/retry', json={}).json()
    _fail(api.server, first['id'])
    second = api.client.post(f'/api/runs/{original["id"]}/retry', json={}).json()

    detail = api.client.get(f'/api/runs/{original["id"]}').json()
    assert detail['retried_by'] == [first['id'], second['id']]  # oldest first
    listed = {r['id']: r for r in api.client.get('/api/runs').json()['items']}
    assert listed[original['id']]['retried_by'] == [first['id'], second['id']]
    assert listed[first['id']]['retry_of'] == original['id'] and listed[first['id']]['retried_by'] == []
