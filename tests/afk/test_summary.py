"""The AFK loop's summary of a night, on every backend (docs/afk.md, "The summary"): the loop takes five issues with a
$1.00 daily cap and runs reporting $0.30 each; one succeeds, three fail (the third pauses the loop, its report reaches
the cap), a person stops the fifth. The summary says it per issue with run ids and costs, when the loop paused and
reached the cap, that it is paused now, the issue nobody tried; then the Reset, and a window that holds nothing."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from app.core.errors import DomainError
from app.core.workflow_commands import usage_of
from app.infra.db import session_scope
from app.models import ProjectUpdate, RunStatus, utcnow
from app.services.afk.summary import loop_summary
from app.services.execution.stop import stop_run
from app.services.identity import accounts, audit
from app.services.projects.manage import update_project
from app.services.runs import usage as run_usage
from tests.helpers.afk import builder_principal

SPEND = usage_of('::usage input_tokens=1000,output_tokens=200,cost_usd=0.30,model=m1::')


def _spend(world, run_id: str, project: str = 'night', usage=SPEND) -> None:  # noqa: ANN001
    assert usage is not None
    with session_scope(world.engine) as session:
        run_usage.record(session.connection(), run_id, project, [usage])  # as the output ingest stores it


def _summary(world, principal=None, since: str | None = None, project: str = 'night'):  # noqa: ANN001, ANN202
    return loop_summary(
        world.engine,
        world.services.repositories,
        principal or world.principal,
        project,
        since=since,
        now=utcnow(),
        global_run_cap=world.services.settings.global_run_cap,
    )


def test_a_night_of_the_loop_per_issue_with_its_pause_cap_and_reset(world) -> None:  # noqa: ANN001
    world.project('night', issues=5, afk_cost_cap_usd_per_day=1.0)
    launched = []
    for end in (RunStatus.succeeded, RunStatus.failed, RunStatus.failed, RunStatus.failed):
        [run_id] = world.loop.sweep().launched
        _spend(world, run_id)
        world.reap(run_id, end)
        launched.append(run_id)
    assert world.loop.sweep().launched == []  # paused (and capped)
    by_hand = world.actions.start_by_hand(world.principal, 'night')  # a person decided to spend
    stop_run(world.engine, world.services.bus, world.principal, by_hand.id)
    later = world.issue('night', 'task 6')

    seen = _summary(world)
    assert seen.runs == 5
    assert seen.outcomes == {'succeeded': 1, 'failed': 3, 'stopped': 1}
    assert [(i.number, i.outcome, i.claim) for i in seen.issues] == [
        (5, 'stopped', 'parked'),  # the newest first
        (4, 'failed', 'parked'),
        (3, 'failed', 'parked'),
        (2, 'failed', 'parked'),
        (1, 'succeeded', 'done'),
    ]
    stopped = seen.issues[0].runs[0]
    assert (stopped.id, stopped.reason, stopped.by, stopped.cost_usd) == (
        by_hand.id,
        f'stopped by {world.principal.name}',  # who stopped it
        world.principal.name,  # and who started it
        None,  # it reported nothing
    )
    assert [(i.runs[0].id, i.cost_usd, i.branch) for i in seen.issues[1:]] == [
        (launched[3], 0.3, 'afk/4'),
        (launched[2], 0.3, 'afk/3'),
        (launched[1], 0.3, 'afk/2'),
        (launched[0], 0.3, 'afk/1'),
    ]
    assert (seen.cost_usd, seen.today_usd, seen.cap_usd, seen.capped) == (1.2, 1.2, 1.0, True)
    assert [(e.kind, e.run_id, e.failures, e.spent_usd) for e in seen.events] == [
        ('cost_capped', None, None, 1.2),  # the fourth run's report reached the cap, before it ended
        ('paused', launched[3], 3, None),  # its end was the third failure in a row
    ]
    assert (seen.loop_state, seen.paused, seen.consecutive_failures) == ('paused', True, 3)
    assert [(i.number, i.title) for i in seen.untried or []] == [(later, 'task 6')]
    assert seen.problems == [] and not seen.truncated

    world.actions.reset(world.principal, 'night')
    after = _summary(world)
    assert after.events[-1].kind == 'reset' and after.events[-1].by == world.principal.name
    assert (after.loop_state, after.paused, after.capped) == ('will_launch', False, False)
    assert after.runs == 5  # the night's runs are still the night's

    builder = builder_principal(world)  # a builder reads it too (the audit log is operators', its Resets are not)
    assert _summary(world, builder).runs == 5
    empty = _summary(world, since=(utcnow() + timedelta(milliseconds=-1)).isoformat())
    assert (empty.runs, empty.issues, empty.cost_usd) == (0, [], 0.0)
    assert empty.today_usd == 0.0  # the day counts again from the Reset
    assert [i.number for i in empty.untried or []] == [later]


def test_another_teams_project_is_not_found(world) -> None:  # noqa: ANN001
    world.project('night', issues=1)
    accounts.ensure_team(world.engine, 'other', 'Other')
    _, token = accounts.create_user(world.engine, name='eve', role=accounts.Role.operator, team_ids=['other'])
    stranger = world.services.auth.authenticate(token)
    with pytest.raises(DomainError) as refused:
        _summary(world, stranger)
    assert refused.value.status == 404


def _moment():  # noqa: ANN202
    """A moment strictly between what happened before it and what happens after it."""
    time.sleep(0.01)
    moment = utcnow()
    time.sleep(0.01)
    return moment


def test_a_window_holds_the_runs_that_started_before_it(world) -> None:  # noqa: ANN001
    """The loop's third failure started before the window and ended in it; a hand-started run has not ended: both
    are the window's, said to have started before it; the failure's end paused the loop in the window; the window's
    cost is the ended run's whole cost (reported before the window), the running one's is said apart."""
    world.project('night', issues=4)
    failed = []
    for _ in range(2):
        [run_id] = world.loop.sweep().launched
        world.reap(run_id, RunStatus.failed)
        failed.append(run_id)
    [third] = world.loop.sweep().launched
    _spend(world, third)
    running = world.actions.start_by_hand(world.principal, 'night').id
    _spend(world, running)
    since = _moment()
    world.reap(third, RunStatus.failed)

    seen = _summary(world, since=since.isoformat())
    assert (seen.runs, seen.started_before_window, seen.outcomes) == (2, 2, {'failed': 1, 'queued': 1})
    assert [(r.id, r.outcome, r.started_before_window) for i in seen.issues for r in i.runs] == [
        (running, 'queued', True),
        (third, 'failed', True),
    ]
    assert [(e.kind, e.run_id, e.failures) for e in seen.events] == [('paused', third, 3)]
    assert (seen.cost_usd, seen.under_way_cost_usd) == (0.3, 0.3)  # billed where it ended; the other not yet
    assert [i.cost_usd for i in seen.issues] == [0.3, 0.3]

    later = _summary(world, since=_moment().isoformat())  # the failure ended before this window: not in it
    assert (later.runs, later.started_before_window, later.cost_usd, later.under_way_cost_usd) == (1, 1, 0.0, 0.3)
    assert later.events == []
    whole = _summary(world)  # all four runs started in the last 24 hours
    assert (whole.runs, whole.started_before_window, whole.cost_usd) == (4, 0, 0.3)


def test_the_cap_replayed_is_the_one_in_force_then(world) -> None:  # noqa: ANN001
    """$5.00 cap, $0.60 spent; the cap is lowered to $1.00, the next $0.60 reaches it; then it is raised to $10.00.
    The summary says the cap was reached at that report (today's $10.00 would say it never was)."""
    since = _moment()
    world.project('night', issues=2, afk_cost_cap_usd_per_day=5.0)
    sixty = usage_of('::usage input_tokens=10,output_tokens=10,cost_usd=0.60,model=m1::')
    [first] = world.loop.sweep().launched
    _spend(world, first, usage=sixty)
    world.reap(first, RunStatus.succeeded)
    update_project(world.engine, world.principal, 'night', ProjectUpdate(afk_cost_cap_usd_per_day=1.0))
    [second] = world.loop.sweep().launched
    _spend(world, second, usage=sixty)
    world.reap(second, RunStatus.succeeded)
    update_project(world.engine, world.principal, 'night', ProjectUpdate(afk_cost_cap_usd_per_day=10.0))

    seen = _summary(world, since=since.isoformat())
    assert [(e.kind, e.spent_usd) for e in seen.events] == [('cost_capped', 1.2)]
    assert (seen.cap_usd, seen.capped, seen.cap_replay) == (10.0, False, 'as_in_force')

    # a change of the cap an older Runboard recorded, without what it replaced: today's cap stands in, and it says so
    world.project('old', issues=1, afk_cost_cap_usd_per_day=1.0)
    [run_id] = world.loop.sweep().launched
    _spend(world, run_id, project='old', usage=sixty)
    with session_scope(world.engine) as session:
        audit.record(
            session,
            world.principal,
            'project.updated',
            team_id=accounts.LOCAL_TEAM,
            project_id='old',
            target='old',
            details={'changed': {'afk_cost_cap_usd_per_day': 1.0}},
        )
    assert _summary(world, since=since.isoformat(), project='old').cap_replay == 'current_cap'
