"""Run history for charts on every backend: a project's newest finished runs with durations, its runs per day
by outcome, the batch of many projects' newest runs; visibility as the runs list; bounds as 422 problems."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.models import Role, Run, RunStatus
from app.services.execution.reaper import finish_run
from tests.helpers.api import QUEUED, Api, add_user, assert_problem, run_body, serving


@pytest.fixture
def api(settings_factory, repo) -> Iterator[Api]:  # noqa: ANN001
    """Runs stay queued until a test ends them; room for every run these tests make."""
    with serving(settings_factory(**QUEUED, rate_limit_runs=1000), repo, max_concurrent_runs=50) as running:
        yield running


def finished_run(
    api: Api,
    status: str,
    *,
    project: str = 'proj',
    branch: str = 'main',
    created: datetime | None = None,
    took: float | None = 30.0,
) -> str:
    """A run admitted through the API, ended as the engine ends it, then dated `created` (ran `took` s)."""
    reply = api.client.post('/api/runs', json=run_body(project, branch))
    assert reply.status_code == 201, reply.text
    run_id = reply.json()['id']
    engine = api.server.services.engine
    assert finish_run(engine, run_id=run_id, status=RunStatus(status)) is not None
    if created is not None:
        with Session(engine) as session:
            run = session.get(Run, run_id)
            assert run is not None
            run.created_at = created
            run.started_at = None if took is None else created + timedelta(seconds=1)
            run.finished_at = created + timedelta(seconds=1 + (took or 0))
            session.add(run)
            session.commit()
    return run_id


def history(api: Api, project: str = 'proj', **params) -> dict:  # noqa: ANN003
    reply = api.client.get(f'/api/projects/{project}/history', params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_newest_finished_runs_with_durations_newest_first(api: Api) -> None:
    now = datetime.now(UTC)
    ok = finished_run(api, 'succeeded', created=now - timedelta(hours=3), took=42.5)
    bad = finished_run(api, 'failed', branch='feature/a', created=now - timedelta(hours=2), took=7)
    never_started = finished_run(api, 'stopped', created=now - timedelta(hours=1), took=None)
    active = api.client.post('/api/runs', json=run_body('proj', 'feature/b')).json()['id']  # no outcome yet

    answer = history(api)
    assert [r['id'] for r in answer['runs']] == [never_started, bad, ok]
    assert active not in {r['id'] for r in answer['runs']}
    by_id = {r['id']: r for r in answer['runs']}
    assert by_id[ok]['duration_seconds'] == 42.5 and by_id[ok]['status'] == 'succeeded'
    assert by_id[bad]['duration_seconds'] == 7 and by_id[bad]['branch_name'] == 'feature/a'
    assert by_id[never_started]['duration_seconds'] is None and by_id[never_started]['started_at'] is None
    assert set(by_id[ok]) >= {'id', 'status', 'branch_name', 'kind', 'created_at', 'started_at', 'finished_at'}
    assert by_id[ok]['kind'] == 'manual'
    # its commit's title for the bar's tooltip, once the server has read it (these runs never started, which would
    # have read it; a read of the run does)
    assert by_id[ok]['commit_title'] is None
    api.client.get(f'/api/runs/{ok}')
    assert {r['id']: r for r in history(api)['runs']}[ok]['commit_title'] == 'main commit'

    assert [r['id'] for r in history(api, limit=2)['runs']] == [never_started, bad]
    on_branch = history(api, branch='feature/a')
    assert on_branch['branch'] == 'feature/a' and [r['id'] for r in on_branch['runs']] == [bad]
    assert on_branch['totals'] == {'finished': 1, 'succeeded': 0, 'failed': 1, 'stopped': 0, 'success_rate': 0.0}
    assert history(api, branch='no/such/branch')['runs'] == []


def test_per_day_buckets_cover_the_window_with_zeros_and_a_success_rate(api: Api) -> None:
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = midnight + (now - midnight) / 2  # in the past and on today's UTC date at any hour, 23:59 included
    for status in ('succeeded', 'succeeded', 'succeeded', 'failed', 'stopped'):
        finished_run(api, status, created=today)
    for status in ('timed_out', 'crashed'):
        finished_run(api, status, created=today - timedelta(days=3))
    finished_run(api, 'succeeded', created=today - timedelta(days=29))  # the window's first day
    finished_run(api, 'failed', created=today - timedelta(days=30))  # one day before the window
    api.client.post('/api/runs', json=run_body('proj', 'feature/c'))  # queued: not a finished run

    answer = history(api)
    days = answer['days']
    assert len(days) == 30 and days[-1]['day'] == today.date().isoformat()
    assert days[0]['day'] == (today - timedelta(days=29)).date().isoformat()
    assert [d['day'] for d in days] == sorted(d['day'] for d in days)
    assert days[-1] == {
        'day': today.date().isoformat(),
        'finished': 5,
        'succeeded': 3,
        'failed': 1,
        'stopped': 1,
        'success_rate': 0.75,  # stopped runs are no verdict
    }
    three_ago = days[-4]
    assert (three_ago['finished'], three_ago['failed'], three_ago['success_rate']) == (2, 2, 0.0)
    assert days[0]['succeeded'] == 1 and days[0]['success_rate'] == 1.0
    quiet = [d for d in days if d['finished'] == 0]
    assert len(quiet) == 27 and all(d['success_rate'] is None for d in quiet)
    assert answer['totals'] == {'finished': 8, 'succeeded': 4, 'failed': 3, 'stopped': 1, 'success_rate': 0.5714}
    # the failed run one day before the window is still among the newest runs, just not in the days
    assert len(answer['runs']) == 9

    week = history(api, days=7)['days']
    assert len(week) == 7 and sum(d['finished'] for d in week) == 7


def test_days_are_counted_in_the_viewers_utc_offset(api: Api) -> None:
    yesterday_late = (datetime.now(UTC) - timedelta(days=1)).replace(hour=23, minute=30, second=0, microsecond=0)
    run_id = finished_run(api, 'succeeded', created=yesterday_late)
    utc_days = history(api, days=3)['days']
    assert utc_days[-2]['day'] == yesterday_late.date().isoformat() and utc_days[-2]['finished'] == 1
    east = history(api, days=3, utc_offset=60)  # 00:30 the next day in UTC+01:00
    assert east['utc_offset'] == 60
    assert [d['finished'] for d in east['days']] == one_run_in_local_days(yesterday_late, utc_offset=60)
    assert east['runs'][0]['id'] == run_id
    west = history(api, days=3, utc_offset=-300)  # 18:30 the same day in UTC-05:00
    assert [d['finished'] for d in west['days']] == one_run_in_local_days(yesterday_late, utc_offset=-300)


def one_run_in_local_days(created: datetime, *, utc_offset: int, days: int = 3) -> list[int]:
    """The per-day counts of one run created at `created`, in the window that ends on the viewer's today:
    which local day that is depends on the hour the test runs (after 23:00 UTC it is already tomorrow in
    UTC+01:00, before 05:00 UTC still yesterday in UTC-05:00)."""
    shift = timedelta(minutes=utc_offset)
    local_today = (datetime.now(UTC) + shift).date()
    days_ago = (local_today - (created + shift).date()).days
    return [1 if days - 1 - index == days_ago else 0 for index in range(days)]


def test_another_teams_project_does_not_exist_and_bad_parameters_are_422(api: Api) -> None:
    finished_run(api, 'succeeded')
    token = add_user(api.server, team='team-b', role=Role.operator, name='bea')
    with api.server.client(token) as bea:
        assert_problem(bea.get('/api/projects/proj/history'), 404, 'not_found')
        assert bea.get('/api/history', params={'project': 'proj'}).json() == {'items': []}
    assert_problem(api.client.get('/api/projects/nope/history'), 404, 'not_found')
    for params, field in (
        ({'limit': 0}, 'limit'),
        ({'limit': 501}, 'limit'),
        ({'limit': 'many'}, 'limit'),
        ({'days': 0}, 'days'),
        ({'days': 91}, 'days'),
        ({'utc_offset': 841}, 'utc_offset'),
        ({'utc_offset': -841}, 'utc_offset'),
        ({'branch': 'b' * 251}, 'branch'),
    ):
        problem = assert_problem(api.client.get('/api/projects/proj/history', params=params), 422, 'validation')
        assert problem['field'] == field, (params, problem)
    assert history(api, limit=500, days=90, utc_offset=-840)['days'][-1]['finished'] == 1
    assert_problem(api.client.get('/api/history'), 422, 'validation')
    assert_problem(api.client.get('/api/history', params={'project': ','}), 422, 'validation')
    too_many = ','.join(f'p{n}' for n in range(101))
    assert (
        assert_problem(api.client.get('/api/history', params={'project': too_many}), 422, 'validation')['field']
        == 'project'
    )
    assert_problem(api.client.get('/api/history', params={'project': 'proj', 'limit': 101}), 422, 'validation')


def test_batch_answers_each_projects_newest_runs_in_one_request(api: Api) -> None:
    from tests.helpers.runs import create_project

    create_project(api.client, api.repo, project_id='other', max_concurrent_runs=50)
    mine = [finished_run(api, status) for status in ('succeeded', 'failed', 'succeeded', 'stopped')]
    theirs = [finished_run(api, 'succeeded', project='other', branch='feature/a') for _ in range(2)]
    api.client.post('/api/runs', json=run_body('proj', 'feature/b'))  # active: left out
    token = add_user(api.server, team='team-b', role=Role.operator, name='bea')
    with api.server.client(token) as bea:
        create_project(bea, api.repo, project_id='bee', team_id='team-b')

    reply = api.client.get('/api/history', params={'project': 'other,proj,bee,nope', 'limit': 3})
    assert reply.status_code == 200, reply.text
    items = reply.json()['items']
    assert [i['project_id'] for i in items] == ['other', 'proj']  # as asked; unseen ones left out
    assert [r['id'] for r in items[0]['runs']] == theirs[::-1]
    assert [r['id'] for r in items[1]['runs']] == mine[::-1][:3]
    assert [r['status'] for r in items[1]['runs']] == ['stopped', 'succeeded', 'failed']
    repeated = api.client.get('/api/history', params=[('project', 'proj'), ('project', 'other')]).json()
    assert [i['project_id'] for i in repeated['items']] == ['proj', 'other']
    assert len(repeated['items'][0]['runs']) == 4
