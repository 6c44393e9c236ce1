"""Schedules over HTTP and their firing, on every backend: CRUD with its validation, exactly one run per slot
with two servers (also at once, also across a restart and a server that died mid-firing), the catch-up
policies, and refusals recorded as skipped firings. An edit made on the schedule as it was read is refused (409
edit_conflict, nothing saved) when another operator edited it since, also when the two saves race; a firing, a
pause or a resume is no one's edit and refuses none. The sweep takes `now`, so a test fires the slot it means
without waiting for the clock (the servers' own sweeps are slowed down to stay out of the way)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.models import Role, as_utc
from app.services.runs.timeline import timed_sql
from app.services.scheduling.sweep import ScheduleSweep
from tests.helpers.api import QUEUED, add_user, assert_problem, same_database, serving
from tests.helpers.servers import api_server

QUIET = dict(QUEUED, schedule_sweep_seconds=3600.0)  # the servers sweep once at start; the tests drive the rest
MINUTELY = {
    'name': 'every minute',
    'cron': '* * * * *',
    'branch': 'main',
    'depth_level': 'shallow',
    'target_framework': 'python',
}


def sweeper(server) -> ScheduleSweep:  # noqa: ANN001
    services = server.services
    return ScheduleSweep(
        engine=services.engine, settings=services.settings, admitter=services.admitter, bus=services.bus
    )


def create(client, body: dict | None = None, project: str = 'proj') -> dict:  # noqa: ANN001
    reply = client.post(f'/api/projects/{project}/schedules', json=body or MINUTELY)
    assert reply.status_code == 201, reply.text
    return reply.json()


def firings(client, schedule: dict) -> list[dict]:  # noqa: ANN001
    reply = client.get(f'/api/projects/{schedule["project_id"]}/schedules/{schedule["id"]}/firings')
    assert reply.status_code == 200, reply.text
    return reply.json()


def scheduled_runs(server) -> list[tuple[str, str, str]]:  # noqa: ANN001
    with server.services.engine.connect() as conn:
        return conn.execute(text("SELECT id, user_id, idempotency_key FROM run WHERE kind = 'scheduled'")).all()


def slot_of(schedule: dict) -> datetime:
    return as_utc(schedule['next_fire_at'])


def test_create_read_edit_pause_resume_delete(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUIET), repo) as api:
        nightly = create(api.client, {**MINUTELY, 'name': 'nightly', 'cron': '30 2 * * *', 'timezone': 'Europe/Berlin'})
        assert (nightly['catch_up'], nightly['paused'], nightly['user_name']) == ('once', False, 'local')
        first = slot_of(nightly)
        assert len(nightly['upcoming']) == 3 and as_utc(nightly['upcoming'][0]) == first
        assert (first.hour, first.minute) in ((1, 30), (0, 30))  # 02:30 in Berlin, in UTC (winter or summer)
        assert [s['id'] for s in api.client.get('/api/projects/proj/schedules').json()] == [nightly['id']]
        # the project card's next firing
        assert api.client.get('/api/projects/proj').json()['next_schedule']['name'] == 'nightly'

        path = f'/api/projects/proj/schedules/{nightly["id"]}'
        edited = api.client.patch(path, json={'cron': '0 * * * *', 'branch': 'feature/a'}).json()
        assert edited['cron'] == '0 * * * *' and edited['branch'] == 'feature/a'
        assert slot_of(edited).minute == 0 and slot_of(edited) < first + timedelta(days=1)

        paused = api.client.post(path + '/pause').json()
        assert paused['paused'] is True and paused['next_fire_at'] is None and paused['upcoming'] == []
        assert api.client.get('/api/projects/proj').json()['next_schedule'] is None
        resumed = api.client.post(path + '/resume').json()
        assert resumed['paused'] is False and resumed['next_fire_at'] is not None

        assert api.client.delete(path).status_code == 204
        assert_problem(api.client.get(path), 404, 'not_found')
        actions = [e['action'] for e in api.client.get('/api/audit', params={'action': 'schedule'}).json()['items']]
        assert actions == [
            'schedule.deleted',
            'schedule.resumed',
            'schedule.paused',
            'schedule.updated',
            'schedule.created',
        ]


@pytest.mark.parametrize(
    ('change', 'field'),
    [
        ({'cron': '61 * * * *'}, 'cron'),
        ({'cron': 'every day'}, 'cron'),
        ({'cron': '0 0 1 * 1'}, 'cron'),
        ({'timezone': 'Mars/Olympus'}, 'timezone'),
        ({'branch': 'no-such-branch'}, 'branch'),
        ({'depth_level': 'abyssal'}, 'depth_level'),
        ({'catch_up': 'twice'}, 'catch_up'),
        ({'name': '   '}, 'name'),
    ],
)
def test_bad_schedules_are_422_naming_the_field(api, change, field) -> None:  # noqa: ANN001
    problem = assert_problem(
        api.client.post('/api/projects/proj/schedules', json={**MINUTELY, **change}), 422, 'validation'
    )
    assert problem.get('field') == field or field in problem['detail'], problem
    schedule = create(api.client)
    edited = api.client.patch(f'/api/projects/proj/schedules/{schedule["id"]}', json=change)
    assert_problem(edited, 422, 'validation')


def test_an_edit_reads_a_time_zone_and_cron_as_creating_does(api) -> None:  # noqa: ANN001
    spaced = {'cron': '  30   2 * * * ', 'timezone': ' Europe/Berlin '}
    created = create(api.client, {**MINUTELY, 'name': 'made spaced', **spaced})
    assert (created['cron'], created['timezone']) == ('30 2 * * *', 'Europe/Berlin')
    plain = create(api.client)
    assert plain['timezone'] == 'UTC'  # a script that names no zone (the UI's form names the browser's)
    path = f'/api/projects/proj/schedules/{plain["id"]}'
    edited = api.client.patch(path, json={**spaced, 'edit_version': plain['edit_version']})
    assert edited.status_code == 200, edited.text
    assert (edited.json()['cron'], edited.json()['timezone']) == ('30 2 * * *', 'Europe/Berlin')
    assert edited.json()['upcoming'] == created['upcoming']
    # the same, spaced again: nothing changed, so no new edit version and nothing audited
    again = api.client.patch(path, json={**spaced, 'edit_version': edited.json()['edit_version']})
    assert again.status_code == 200, again.text
    assert again.json()['edit_version'] == edited.json()['edit_version']
    audited = api.client.get('/api/audit', params={'action': 'schedule.updated'}).json()['items']
    assert [e['details']['changed'] for e in audited] == [{'cron': '30 2 * * *', 'timezone': 'Europe/Berlin'}]
    blank = api.client.patch(path, json={'timezone': '   '})
    assert assert_problem(blank, 422, 'validation').get('field') == 'timezone'


def test_only_operators_change_schedules_and_names_are_unique(api) -> None:  # noqa: ANN001
    schedule = create(api.client)
    assert_problem(api.client.post('/api/projects/proj/schedules', json=MINUTELY), 409, 'conflict')
    builder = api.server.client(add_user(api.server, role=Role.builder))
    assert builder.get('/api/projects/proj/schedules').status_code == 200  # the team reads them
    assert_problem(builder.post('/api/projects/proj/schedules', json={**MINUTELY, 'name': 'b'}), 403, 'forbidden')
    assert_problem(builder.post(f'/api/projects/proj/schedules/{schedule["id"]}/pause'), 403, 'forbidden')
    stranger = api.server.client(add_user(api.server, team='other', role=Role.operator, name='eve'))
    assert_problem(stranger.get(f'/api/projects/proj/schedules/{schedule["id"]}'), 404, 'not_found')


def test_an_edit_made_on_an_older_edit_version_is_refused_and_a_firing_is_no_edit(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUIET), repo) as api:
        schedule = create(api.client)
        path = f'/api/projects/proj/schedules/{schedule["id"]}'
        assert schedule['edit_version'] == 1
        # a firing, a pause and a resume move the sweep's own version, not the edit version: an edit made on the
        # schedule as read before them is saved
        [fired] = sweeper(api.server).sweep(now=slot_of(schedule) + timedelta(seconds=1))
        assert fired.run_id
        assert api.client.post(path + '/pause').json()['edit_version'] == 1
        assert api.client.post(path + '/resume').json()['edit_version'] == 1
        first = api.client.patch(path, json={'branch': 'feature/a', 'edit_version': 1})
        assert first.status_code == 200 and first.json()['edit_version'] == 2, first.text

        # another operator's save on the version they read before the first's: refused, nothing saved
        second = api.client.patch(path, json={'cron': '0 * * * *', 'name': 'theirs', 'edit_version': 1})
        problem = assert_problem(second, 409, 'edit_conflict')
        assert problem['current_version'] == 2 and problem['field'] == 'edit_version'
        said = 'Schedule “every minute” was changed by someone else since you read it (version 1, now 2)'
        assert said in problem['detail']
        now = api.client.get(path).json()
        assert (now['cron'], now['name'], now['branch'], now['edit_version']) == (
            '* * * * *',
            'every minute',
            'feature/a',
            2,
        )
        audited = api.client.get('/api/audit', params={'action': 'schedule.updated'}).json()['items']
        assert [e['details']['changed'] for e in audited] == [{'branch': 'feature/a'}]  # the refused one: none

        # a change to nothing (the cron as stored, spaced otherwise) leaves the version, and records nothing
        same = api.client.patch(path, json={'branch': 'feature/a', 'cron': '*  * * *  *', 'edit_version': 2})
        assert same.status_code == 200 and same.json()['edit_version'] == 2, same.text
        again = api.client.patch(path, json={'cron': '0 * * * *', 'edit_version': 2})
        assert again.status_code == 200 and again.json()['edit_version'] == 3, again.text
        # without the version, an edit applies to the schedule as it is now, and moves it on
        assert api.client.patch(path, json={'catch_up': 'skip'}).json()['edit_version'] == 4
        assert len(api.client.get('/api/audit', params={'action': 'schedule.updated'}).json()['items']) == 3
        assert_problem(api.client.patch(path, json={'name': 'x', 'edit_version': 3}), 409, 'edit_conflict')
        for bad in (0, -1, 'two', None):
            refused = api.client.patch(path, json={'name': 'x', 'edit_version': bad})
            assert assert_problem(refused, 422, 'validation')['field'] == 'edit_version', bad


def test_of_two_schedule_edits_saved_at_once_on_one_version_exactly_one_is_saved(api) -> None:  # noqa: ANN001
    schedule = create(api.client)
    path = f'/api/projects/proj/schedules/{schedule["id"]}'
    start = threading.Barrier(2)

    def save(name: str) -> int:
        with api.server.client() as client:
            start.wait()
            return client.patch(path, json={'name': name, 'edit_version': 1}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(save, ['first', 'second']))
    assert codes == [200, 409]
    now = api.client.get(path).json()
    assert now['edit_version'] == 2 and now['name'] in ('first', 'second')
    audited = api.client.get('/api/audit', params={'action': 'schedule.updated'}).json()['items']
    assert [e['details']['changed'] for e in audited] == [{'name': now['name']}]


def test_a_schedule_by_its_id_alone_for_its_team_only(api) -> None:  # noqa: ANN001
    schedule = create(api.client)
    found = api.client.get(f'/api/schedules/{schedule["id"]}')
    assert found.status_code == 200, found.text
    assert (found.json()['id'], found.json()['project_id'], found.json()['name']) == (
        schedule['id'],
        'proj',
        'every minute',
    )
    builder = api.server.client(add_user(api.server, role=Role.builder))
    assert builder.get(f'/api/schedules/{schedule["id"]}').json()['project_id'] == 'proj'  # the team reads it
    stranger = api.server.client(add_user(api.server, team='other', role=Role.operator, name='eve'))
    hidden = assert_problem(stranger.get(f'/api/schedules/{schedule["id"]}'), 404, 'not_found')
    assert 'proj' not in hidden['detail']  # nor which project it is in
    assert_problem(api.client.get('/api/schedules/sch_nonesuch'), 404, 'not_found')


def test_a_slot_fires_exactly_once_with_two_servers(settings_factory, repo) -> None:  # noqa: ANN001
    settings = settings_factory(**QUIET)
    with serving(settings, repo) as api, api_server(same_database(settings_factory, settings, **QUIET)) as second:
        schedule = create(api.client)
        slot = slot_of(schedule)
        sweeps = [sweeper(api.server), sweeper(second)]
        results: list = []
        barrier = threading.Barrier(len(sweeps) * 2)

        def sweep(one: ScheduleSweep) -> None:
            barrier.wait()
            results.extend(one.sweep(now=slot + timedelta(seconds=1)))

        threads = [threading.Thread(target=sweep, args=(one,)) for one in sweeps * 2]  # twice each, all at once
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runs = scheduled_runs(api.server)
        assert len(runs) == 1, runs
        run_id, user_id, key = runs[0]
        assert key == f'schedule:{schedule["id"]}:{slot:%Y-%m-%dT%H:%M:%SZ}'
        assert [(r.state, r.run_id) for r in results] == [('admitted', run_id)]
        history = firings(api.client, schedule)
        assert [(f['state'], f['run_id'], f['run_status'], f['late']) for f in history] == [
            ('admitted', run_id, 'queued', False)
        ]
        run = api.client.get(f'/api/runs/{run_id}').json()
        assert (run['kind'], run['user_name'], run['branch_name']) == ('scheduled', 'local', 'main')
        # the same slot again, later, on either server: nothing new
        for one in sweeps:
            assert one.sweep(now=slot + timedelta(seconds=30)) == []
        assert len(scheduled_runs(api.server)) == 1


def test_a_refused_firing_is_skipped_with_the_reason(api) -> None:  # noqa: ANN001
    schedule = create(api.client)
    slot = slot_of(schedule)
    sweep = sweeper(api.server)
    [first] = sweep.sweep(now=slot + timedelta(seconds=1))
    assert first.state == 'admitted'
    # the first run still holds the branch (runs stay queued here): the next slot is refused by the PR lock
    [second] = sweep.sweep(now=slot + timedelta(minutes=1, seconds=1))
    assert (second.state, second.reason) == ('skipped', 'pr_lock')
    newest = firings(api.client, schedule)[0]
    assert newest['state'] == 'skipped' and newest['reason'] == 'pr_lock' and first.run_id in newest['detail']
    assert len(scheduled_runs(api.server)) == 1


def test_a_schedules_variables_reach_each_run_it_fires(api) -> None:  # noqa: ANN001
    """GitLab's schedule variables: checked as a trigger's, replaced whole by an edit, kept out of the audit log
    (names only: a value may be a token), and given to every run the schedule fires."""
    bad = api.client.post('/api/projects/proj/schedules', json={**MINUTELY, 'variables': {'RUNBOARD_TOKEN': 'x'}})
    assert_problem(bad, 422, 'validation')
    assert bad.json()['field'] == 'variables'
    unnamed = api.client.post('/api/projects/proj/schedules', json={**MINUTELY, 'variables': {'1BAD': 'x'}})
    assert_problem(unnamed, 422, 'validation')
    assert api.client.get('/api/projects/proj/schedules').json() == []  # nothing made by a refused create

    schedule = create(api.client, {**MINUTELY, 'variables': {'TARGET': 'staging', 'SECRETISH': 'tok-123'}})
    assert schedule['variables'] == {'SECRETISH': 'tok-123', 'TARGET': 'staging'}
    path = f'/api/projects/proj/schedules/{schedule["id"]}'
    assert api.client.get(path).json()['variables'] == schedule['variables']
    edited = api.client.patch(path, json={'variables': {'TARGET': 'production'}})
    assert edited.status_code == 200 and edited.json()['variables'] == {'TARGET': 'production'}  # the whole set
    assert_problem(api.client.patch(path, json={'variables': {'PATH=': 'x'}}), 422, 'validation')
    assert api.client.get(path).json()['variables'] == {'TARGET': 'production'}  # a refused edit changed nothing
    audit = api.client.get('/api/audit', params={'action': 'schedule'}).json()['items']
    assert 'tok-123' not in str(audit) and 'production' not in str(audit)
    assert {'variables': ['SECRETISH', 'TARGET']}.items() <= audit[-1]['details'].items()

    [fired] = sweeper(api.server).sweep(now=slot_of(edited.json()) + timedelta(seconds=1))
    assert fired.state == 'admitted'
    assert api.client.get(f'/api/runs/{fired.run_id}').json()['variables'] == {'TARGET': 'production'}

    cleared = api.client.patch(path, json={'variables': {}})
    assert cleared.json()['variables'] == {}
    api.client.post(f'/api/runs/{fired.run_id}/stop')  # frees the branch for the next slot
    [again] = sweeper(api.server).sweep(now=slot_of(cleared.json()) + timedelta(seconds=1))
    assert again.state == 'admitted'
    assert api.client.get(f'/api/runs/{again.run_id}').json()['variables'] == {}


def test_each_slot_once_across_a_restart_and_a_server_that_died_mid_firing(settings_factory, repo) -> None:  # noqa: ANN001
    settings = settings_factory(**QUIET)
    with serving(settings, repo) as api:
        schedule = create(api.client)
        slot = slot_of(schedule)
        [fired] = sweeper(api.server).sweep(now=slot + timedelta(seconds=1))
        api.client.post(f'/api/runs/{fired.run_id}/stop')  # frees the branch for the next slot
        # the next slot is claimed, then the server dies before it admits the run
        dying = sweeper(api.server)
        dying.fire = lambda schedule_id, slot: None  # type: ignore[method-assign]
        dying.sweep(now=slot + timedelta(minutes=1, seconds=1))
    with api_server(same_database(settings_factory, settings, **QUIET)) as restarted, restarted.client() as client:
        assert [f['state'] for f in firings(client, schedule)] == ['pending', 'admitted']
        later = sweeper(restarted)
        assert later.sweep(now=slot + timedelta(minutes=1, seconds=5)) == []  # both slots were claimed already
        # once the pending firing is stale, the restarted server takes it over and admits its run, once
        [retaken] = later.sweep(now=slot + timedelta(minutes=1, seconds=40))
        assert retaken.state == 'admitted'
        assert later.sweep(now=slot + timedelta(minutes=1, seconds=50)) == []
        assert [f['state'] for f in firings(client, schedule)] == ['admitted', 'admitted']
        assert len(scheduled_runs(restarted)) == 2
        # the dead server's own attempt, had it come back, replays the same run (the slot's key)
        again = later.fire(schedule['id'], slot + timedelta(minutes=1))
        assert again.run_id == retaken.run_id and len(scheduled_runs(restarted)) == 2


@pytest.mark.parametrize('catch_up', ['once', 'skip'])
def test_slots_missed_while_every_server_was_down(settings_factory, repo, catch_up) -> None:  # noqa: ANN001
    settings = settings_factory(**QUIET, schedule_grace_seconds=10.0)
    with serving(settings, repo) as api:
        schedule = create(api.client, {**MINUTELY, 'catch_up': catch_up})
        slot = slot_of(schedule)
        # no server ran for five minutes and a half; the first sweep after the start
        fired = sweeper(api.server).sweep(now=slot + timedelta(minutes=5, seconds=30))
        history = firings(api.client, schedule)
        runs = scheduled_runs(api.server)
        if catch_up == 'once':  # one run, for the latest missed slot, marked late
            assert [(f['state'], f['late']) for f in history] == [('admitted', True), ('missed', False)]
            assert as_utc(history[0]['slot']) == slot + timedelta(minutes=5) and len(runs) == 1
            assert 'catch-up: once' in history[1]['detail']
        else:  # none
            assert [f['state'] for f in history] == ['missed'] and runs == []
            assert 'catch-up: skip' in history[0]['detail']
        assert as_utc(history[-1]['slot']) == slot
        assert [f.state for f in fired] == (['missed', 'admitted'] if catch_up == 'once' else ['missed'])
        # the schedule goes on from the next slot after now
        assert slot_of(api.client.get(f'/api/projects/proj/schedules/{schedule["id"]}').json()) == slot + timedelta(
            minutes=6
        )


def due_now(server, schedule: dict) -> datetime:  # noqa: ANN001
    """Make the schedule's next slot the one of this minute, due and not fired yet: the moment a sweep is about to
    claim it. Returns it. The server's own start-up sweep has passed first (it would fire it: the clock is real)."""
    job = next(job for job in server.services.jobs.jobs if job.name == 'schedules')
    deadline = time.monotonic() + 60
    while job._last_pass_ended == datetime.min.replace(tzinfo=UTC):  # noqa: SLF001 - no public sign of a pass
        assert time.monotonic() < deadline, 'the start-up sweep never ran'
        time.sleep(0.05)
    while datetime.now(UTC).second >= 45:  # the test's steps all see the same minute
        time.sleep(0.2)
    slot = datetime.now(UTC).replace(second=0, microsecond=0)
    with server.services.engine.begin() as conn:
        conn.execute(
            timed_sql('UPDATE schedule SET next_fire_at = :t WHERE id = :s', binds=('t',)),
            {'t': slot, 's': schedule['id']},
        )
    return slot


@pytest.mark.parametrize(
    ('change', 'reason', 'said'),
    [
        ({'cron': '0 * * * *'}, 'schedule_edited', 'the schedule was edited while it was due'),
        (
            {'timezone': 'Asia/Tokyo', 'cron': '0 3 * * *'},
            'schedule_edited',
            'the schedule was edited while it was due',
        ),
        ('pause', 'schedule_paused', 'the schedule was paused while it was due'),
    ],
)
def test_a_slot_due_when_its_rule_changes_is_recorded_missed(settings_factory, repo, change, reason, said) -> None:  # noqa: ANN001
    """Like Prefect (an edited or paused deployment's scheduled runs that had not started are not run) and Airflow
    (a new timetable applies from the next run): the new rule starts after the edit, and the old rule's slot that
    was due and not yet fired is not run. It is never dropped silently: its firing is `missed`, saying why."""
    with serving(settings_factory(**QUIET), repo) as api:
        schedule = create(api.client)
        path = f'/api/projects/proj/schedules/{schedule["id"]}'
        slot = due_now(api.server, schedule)
        reply = api.client.post(path + '/pause') if change == 'pause' else api.client.patch(path, json=change)
        assert reply.status_code == 200, reply.text
        history = firings(api.client, schedule)
        assert [(f['state'], as_utc(f['slot']), f['reason']) for f in history] == [('missed', slot, reason)]
        assert said in history[0]['detail'] and history[0]['detail'].startswith(f'Missed {slot:%Y-%m-%d %H:%M} UTC')
        assert sweeper(api.server).sweep(now=datetime.now(UTC)) == [] and scheduled_runs(api.server) == []
        edited = reply.json()
        if change == 'pause':
            assert edited['next_fire_at'] is None
        else:
            assert slot_of(edited) > datetime.now(UTC) and slot_of(edited).minute == 0  # the new rule, from now
        assert edited['last_firing']['state'] == 'missed'


def test_an_edit_that_keeps_the_rule_leaves_the_due_slot_to_fire(settings_factory, repo) -> None:  # noqa: ANN001
    with serving(settings_factory(**QUIET), repo) as api:
        schedule = create(api.client)
        slot = due_now(api.server, schedule)
        reply = api.client.patch(f'/api/projects/proj/schedules/{schedule["id"]}', json={'branch': 'feature/a'})
        assert reply.status_code == 200 and slot_of(reply.json()) == slot
        [fired] = sweeper(api.server).sweep(now=datetime.now(UTC))
        assert (fired.state, fired.slot) == ('admitted', slot)
        assert api.client.get(f'/api/runs/{fired.run_id}').json()['branch_name'] == 'feature/a'
        assert [f['state'] for f in firings(api.client, schedule)] == ['admitted']


def test_an_edit_racing_a_sweep_fires_the_slot_or_records_it_missed(settings_factory, repo) -> None:  # noqa: ANN001
    """The edit and the sweep at once, many times over: each due slot is fired by the sweep or recorded missed by
    the edit, once, never both, never neither."""
    with serving(settings_factory(**QUIET), repo) as api:
        schedule = create(api.client)
        path = f'/api/projects/proj/schedules/{schedule["id"]}'
        sweep = sweeper(api.server)

        def sweep_now(barrier: threading.Barrier, delay: float, fired: list) -> None:
            barrier.wait()
            time.sleep(delay)  # from before the edit's request to after it: each side wins some rounds
            fired.extend(sweep.sweep(now=datetime.now(UTC)))

        for n in range(10):
            assert api.client.patch(path, json={'cron': '* * * * *'}).status_code == 200  # its next slot lies ahead
            slot = due_now(api.server, schedule)
            barrier = threading.Barrier(2)
            fired: list = []
            thread = threading.Thread(target=sweep_now, args=(barrier, n * 0.002, fired))
            thread.start()
            barrier.wait()
            assert api.client.patch(path, json={'cron': '0 * * * *'}).status_code == 200
            thread.join()
            states = [f['state'] for f in firings(api.client, schedule) if as_utc(f['slot']) == slot]
            assert states in (['missed'], ['admitted'], ['skipped']), (n, states, fired)
            with api.server.services.engine.begin() as conn:  # the next round starts afresh
                conn.execute(text('DELETE FROM schedulefiring WHERE schedule_id = :s'), {'s': schedule['id']})
            for run_id, *_ in scheduled_runs(api.server):
                api.client.post(f'/api/runs/{run_id}/stop')
