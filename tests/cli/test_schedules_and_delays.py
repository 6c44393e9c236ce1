"""The CLI against a running server (both backends): `runboard schedules ...`, `runs trigger --at / --in /
--ttl`, cancelling a delayed run, and `projects edit --queued-ttl`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.cli.schedules import FIRINGS_PAGE_MAX, firings_page
from app.cli.when import at_time
from app.services.scheduling.sweep import ScheduleSweep
from tests.helpers.cli import served

TRIGGER = ('runs', 'trigger', '--project', 'proj', '--framework', 'python', '--depth', 'shallow')
ADD = ('schedules', 'add', '-p', 'proj', '--branch', 'main', '--depth', 'shallow', '--framework', 'python')


def test_schedules_add_list_edit_pause_resume_history_remove(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, global_run_cap=0, schedule_sweep_seconds=3600.0) as (server, cli):
        added = cli(*ADD, '--name', 'nightly', '--cron', '30 2 * * 1-5', '--tz', 'Europe/Berlin', '--json')
        assert added.code == 0, added.stderr
        schedule = added.json()
        assert (schedule['cron'], schedule['timezone'], schedule['catch_up']) == (
            '30 2 * * 1-5',
            'Europe/Berlin',
            'once',
        )
        sid = schedule['id']

        listed = cli('schedules', 'list', 'proj')
        assert listed.code == 0 and sid in listed.stdout and 'nightly' in listed.stdout and 'none yet' in listed.stdout

        bad = cli(*ADD, '--name', 'broken', '--cron', '61 * * * *')
        assert bad.code == 2 and 'cron' in bad.stderr  # a 422 is a usage error
        bad_zone = cli(*ADD, '--name', 'broken', '--cron', '@daily', '--tz', 'Mars/Olympus')
        assert bad_zone.code == 2 and 'timezone' in bad_zone.stderr

        edited = cli('schedules', 'edit', sid, '-p', 'proj', '--cron', '* * * * *', '--catch-up', 'skip')
        assert edited.code == 0 and 'changed' in edited.stdout, edited.stderr
        assert edited.stdout.strip().endswith('(edit version 2).'), edited.stdout

        # --if-version: the edit version read; edited by someone else since, nothing is saved and the exit code is 3
        with server.client() as api:
            assert api.patch(f'/api/projects/proj/schedules/{sid}', json={'name': 'theirs'}).is_success
        stale = cli('schedules', 'edit', sid, '--name', 'mine', '--if-version', '2')
        assert stale.code == 3 and stale.stdout == ''
        said = ' '.join(stale.stderr.split())
        assert 'Schedule “theirs” was changed by someone else since you read it (version 2, now 3)' in said, said
        assert '(HTTP 409 edit_conflict)' in said and 'Correlation id: ' in said
        assert cli('schedules', 'list', 'proj', '--json').json()[0]['name'] == 'theirs'
        current = cli('schedules', 'edit', sid, '--name', 'mine', '--if-version', '3', '--json')
        assert current.code == 0 and current.json()['edit_version'] == 4, current.stderr
        paused = cli('schedules', 'pause', sid, '-p', 'proj')
        assert paused.code == 0 and 'paused' in paused.stdout
        resumed = cli('schedules', 'resume', sid, '-p', 'proj', '--json')
        assert resumed.code == 0 and resumed.json()['paused'] is False

        services = server.services
        sweep = ScheduleSweep(
            engine=services.engine, settings=services.settings, admitter=services.admitter, bus=services.bus
        )
        slot = datetime.fromisoformat(resumed.json()['next_fire_at'])
        [fired] = sweep.sweep(now=slot + timedelta(seconds=1))
        history = cli('schedules', 'history', sid, '-p', 'proj')
        assert history.code == 0 and f'admitted {fired.run_id} (queued)' in history.stdout, history.stdout
        scheduled = cli('runs', 'list', '--kind', 'scheduled', '--json')
        assert [r['id'] for r in scheduled.json()['items']] == [fired.run_id]

        removed = cli('schedules', 'remove', sid, '-p', 'proj')
        assert removed.code == 0 and 'removed' in removed.stdout
        gone = cli('schedules', 'history', sid, '-p', 'proj')
        assert gone.code == 4 and 'not found' in gone.stderr


def _firings(*slots: str) -> list[dict]:
    return [{'slot': slot} for slot in slots]


@pytest.mark.parametrize(
    ('firings', 'limit', 'shown', 'next_before'),
    [
        (_firings(), 20, [], None),
        (_firings('03:00', '02:00'), 20, _firings('03:00', '02:00'), None),  # fewer than asked: the last page
        (_firings('03:00', '02:00', '01:00'), 2, _firings('03:00', '02:00'), '02:00'),  # the one more: a next page
        (_firings('03:00', '02:00'), 2, _firings('03:00', '02:00'), None),  # exactly the limit, none more
        (_firings(*map(str, range(FIRINGS_PAGE_MAX))), FIRINGS_PAGE_MAX, _firings(*map(str, range(200))), '199'),
    ],
)
def test_a_page_of_firings_says_the_next_pages_before(firings, limit, shown, next_before) -> None:  # noqa: ANN001
    assert firings_page(firings, limit) == (shown, next_before)


def test_schedules_history_pages_past_the_first(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """`schedules history -n N` says `More: --before SLOT` on stderr when there are older firings, and that
    --before reads them: a schedule firing every minute has more than one page."""
    with served(settings_factory, repo_factory, global_run_cap=0, schedule_sweep_seconds=3600.0) as (server, cli):
        schedule = cli(*ADD, '--name', 'minutely', '--cron', '* * * * *', '--catch-up', 'skip', '--json').json()
        services = server.services
        sweep = ScheduleSweep(
            engine=services.engine, settings=services.settings, admitter=services.admitter, bus=services.bus
        )
        first = datetime.fromisoformat(schedule['next_fire_at'])
        for minute in range(3):
            sweep.sweep(now=first + timedelta(minutes=minute, seconds=1))
        every = cli('schedules', 'history', schedule['id'], '--json').json()
        assert len(every) == 3
        newest = every[:2]

        page = cli('schedules', 'history', schedule['id'], '-n', '2', '--json')
        assert page.code == 0 and page.json() == newest
        assert f'More: --before {newest[-1]["slot"]}' in page.stderr
        rest = cli('schedules', 'history', schedule['id'], '-n', '2', '--before', newest[-1]['slot'], '--json')
        assert rest.code == 0 and rest.json() == every[2:] and 'More' not in rest.stderr
        human = cli('schedules', 'history', schedule['id'], '-n', '2')
        assert human.code == 0 and 'More' not in human.stdout and 'More: --before' in human.stderr
        assert cli('schedules', 'history', schedule['id'], '--before', 'yesterday').code == 2


def test_a_schedule_id_is_enough_without_its_project(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, global_run_cap=0, schedule_sweep_seconds=3600.0) as (_server, cli):
        sid = cli(*ADD, '--name', 'nightly', '--cron', '30 2 * * *', '--json').json()['id']
        edited = cli('schedules', 'edit', sid, '--cron', '0 3 * * *', '--json')
        assert edited.code == 0 and edited.json()['cron'] == '0 3 * * *', edited.stderr
        paused = cli('schedules', 'pause', sid)
        assert paused.code == 0 and f'Schedule {sid} (nightly) paused.' in paused.stdout, paused.stderr
        assert cli('schedules', 'resume', sid, '--json').json()['paused'] is False
        history = cli('schedules', 'history', sid)
        assert history.code == 0 and 'No firings yet.' in history.stdout
        removed = cli('schedules', 'remove', sid, '--json')  # as every other change: --json, the outcome as JSON
        assert removed.code == 0 and removed.json() == {'removed': sid}, removed.stderr
        again = cli('schedules', 'remove', sid, '--json')
        assert again.code == 4 and again.json()['error'] == 'not_found'
        gone = cli('schedules', 'pause', sid)
        assert gone.code == 4 and f"schedule '{sid}' not found" in gone.stderr
        wrong = cli('schedules', 'pause', 'sch_nonesuch', '-p', 'proj')  # with --project, as before
        assert wrong.code == 4


def test_schedules_add_defaults_branch_depth_and_framework_as_a_trigger_does(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """`schedules add` once required --branch, --depth and --framework; what is left out is now the project's base
    branch and first depth and framework, as `runs trigger` takes them."""
    with served(settings_factory, repo_factory, global_run_cap=0, schedule_sweep_seconds=3600.0) as (server, cli):
        with server.client() as client:
            changed = {'target_frameworks': ['node', 'python'], 'depth_levels': ['standard', 'shallow', 'deep']}
            assert client.patch('/api/projects/proj', json=changed).status_code == 200
        bare = cli('schedules', 'add', 'proj', '--name', 'nightly', '--cron', '@daily', '--json')
        assert bare.code == 0, bare.stderr
        assert (bare.json()['branch'], bare.json()['depth_level'], bare.json()['target_framework']) == (
            'main',
            'standard',
            'node',
        )
        some = cli(
            'schedules', 'add', 'proj', '--name', 'x', '--cron', '@daily', '-b', 'feature/x', '-d', 'deep', '--json'
        )
        assert some.code == 0, some.stderr
        assert (some.json()['branch'], some.json()['depth_level'], some.json()['target_framework']) == (
            'feature/x',
            'deep',
            'node',
        )
        unknown = cli('schedules', 'add', 'nope', '--name', 'nightly', '--cron', '@daily')
        assert unknown.code == 4 and 'nope' in unknown.stderr
        helped = ' '.join(cli('schedules', 'add', '--help').stdout.replace('│', ' ').split())
        assert "default: the project's base branch" in helped and "(default: the project's first)" in helped


def test_schedule_variables_are_set_replaced_and_cleared(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, global_run_cap=0, schedule_sweep_seconds=3600.0) as (_server, cli):
        added = cli(*ADD, '--name', 'nightly', '--cron', '@daily', '--var', 'TARGET=staging', '--var', 'NOTE=a=b')
        assert added.code == 0, added.stderr
        listed = cli('schedules', 'list', 'proj', '--json').json()
        assert listed[0]['variables'] == {'NOTE': 'a=b', 'TARGET': 'staging'}
        assert 'with NOTE, TARGET' in cli('schedules', 'list', 'proj').stdout  # names; the values are in --json
        sid = listed[0]['id']
        replaced = cli('schedules', 'edit', sid, '--var', 'TARGET=production', '--json')
        assert replaced.code == 0 and replaced.json()['variables'] == {'TARGET': 'production'}, replaced.stderr
        assert cli('schedules', 'edit', sid, '--cron', '@hourly', '--json').json()['variables'] == {
            'TARGET': 'production'
        }  # an edit without --var keeps them
        cleared = cli('schedules', 'edit', sid, '--clear-vars', '--json')
        assert cleared.code == 0 and cleared.json()['variables'] == {}
        both = cli('schedules', 'edit', sid, '--var', 'A=1', '--clear-vars')
        assert both.code == 2 and 'not both' in both.stderr
        malformed = cli('schedules', 'edit', sid, '--var', 'NOPE')
        assert malformed.code == 2 and 'is not NAME=VALUE' in malformed.stderr
        refused = cli(*ADD, '--name', 'other', '--cron', '@daily', '--var', 'RUNBOARD_X=1')
        assert refused.code == 2 and 'variables' in refused.stderr, refused.stderr


def test_trigger_later_shows_the_delay_and_stop_cancels_it(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, global_run_cap=0) as (server, cli):
        later = cli(*TRIGGER, '--branch', 'main', '--in', '2h', '--ttl', '30m')
        assert later.code == 0, later.stderr
        assert 'delayed' in later.stdout and 'It runs at ' in later.stdout and 'runboard runs stop' in later.stdout
        at = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        shown = cli(*TRIGGER, '--branch', 'feature/x', '--at', at, '--json')
        run = shown.json()
        assert run['status'] == 'delayed' and datetime.fromisoformat(run['run_at']) == datetime.fromisoformat(at)
        details = cli('runs', 'show', run['id'])
        assert 'Runs at' in details.stdout and 'delayed' in details.stdout
        listed = cli('runs', 'list', '--status', 'delayed', '--json')
        assert len(listed.json()['items']) == 2
        cancelled = cli('runs', 'stop', run['id'])
        assert cancelled.code == 0 and 'stopped' in cancelled.stdout, cancelled.stdout
        both = cli(*TRIGGER, '--branch', 'main', '--at', '14:30', '--in', '10m')
        assert both.code == 2 and '--at or --in' in both.stderr
        nonsense = cli(*TRIGGER, '--branch', 'main', '--in', 'soon')
        assert nonsense.code == 2 and 'run_in' in nonsense.stderr


def test_projects_edit_sets_and_clears_the_queued_ttl(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, global_run_cap=0) as (server, cli):
        assert cli('projects', 'edit', 'proj', '--queued-ttl', '600').code == 0
        queued = cli(*TRIGGER, '--branch', 'main', '--json').json()
        assert queued['ttl_seconds'] == 600 and queued['expires_at']
        assert 'Expires' in cli('runs', 'show', queued['id']).stdout
        assert cli('projects', 'edit', 'proj', '--no-queued-ttl').code == 0
        assert cli('projects', 'show', 'proj', '--json').json()['queued_ttl_seconds'] is None


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).astimezone(UTC)


@pytest.mark.parametrize(
    ('text', 'moment'),
    [
        ('14:30', '2026-11-23T14:30:00+00:00'),  # the next 14:30: today
        ('11:00', '2026-11-24T11:00:00+00:00'),  # already past today: tomorrow
        ('2026-11-25 09:15', '2026-11-25T09:15:00+00:00'),  # no offset: the terminal's zone
        ('2026-11-25T09:15:00+01:00', '2026-11-25T09:15:00+01:00'),
        ('2026-11-25T09:15:00Z', '2026-11-25T09:15:00+00:00'),
        ('tomorrow', None),
        ('25:00', None),
    ],
)
def test_at_time(text, moment) -> None:  # noqa: ANN001
    assert at_time(text, NOW) == moment


BERLIN_BEFORE_SPRING = datetime(2026, 3, 28, 20, 0, tzinfo=ZoneInfo('Europe/Berlin'))  # clocks go forward at 02:00


@pytest.mark.parametrize(
    ('text', 'moment'),
    [
        ('21:00', '2026-03-28T21:00:00+01:00'),  # tonight: winter time
        ('09:00', '2026-03-29T09:00:00+02:00'),  # tomorrow morning: summer time, not today's offset
        ('2026-04-10 14:30', '2026-04-10T14:30:00+02:00'),
        ('2026-10-30 14:30', '2026-10-30T14:30:00+01:00'),  # back to winter time
    ],
)
def test_at_time_takes_the_offset_of_the_day_it_names(text, moment) -> None:  # noqa: ANN001
    assert at_time(text, BERLIN_BEFORE_SPRING) == moment
