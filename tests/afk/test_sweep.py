"""The AFK sweep and the failure counter, on every backend. The sweep is called directly; runs stay
queued until the test reaps them with the outcome it needs."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.core.errors import DomainError
from app.models import RunStatus
from app.services.afk import claims
from tests.helpers.afk import builder_principal, close_services


def _fail_once(world, project_id: str) -> str:  # noqa: ANN001
    world.loop.sweep()
    runs = world.active_auto_runs(project_id)
    assert len(runs) == 1, runs
    world.reap(runs[0]['id'], RunStatus.failed, 'exit code 1')
    return runs[0]['id']


def test_failure_increments_success_resets_stop_is_neutral(world) -> None:  # noqa: ANN001
    world.project('pp', issues=4)
    _fail_once(world, 'pp')
    assert world.get('pp').consecutive_failures == 1
    world.loop.sweep()
    run = world.active_auto_runs('pp')[0]
    world.reap(run['id'], RunStatus.stopped)  # a person's Stop
    assert world.get('pp').consecutive_failures == 1
    world.loop.sweep()
    run = world.active_auto_runs('pp')[0]
    world.reap(run['id'], RunStatus.timed_out, 'budget')
    assert world.get('pp').consecutive_failures == 2
    world.loop.sweep()
    run = world.active_auto_runs('pp')[0]
    world.reap(run['id'], RunStatus.succeeded)
    assert world.get('pp').consecutive_failures == 0


def _pipeline_run(world, project_id: str, branch: str = 'main'):  # noqa: ANN001, ANN202
    return world.services.admitter.trigger(
        world.principal,
        project_id=project_id,
        depth_level='shallow',
        target_framework='python',
        branch=branch,
        key=None,
        correlation_id=None,
    ).run


def test_pipeline_runs_never_touch_the_counter(world) -> None:  # noqa: ANN001
    """Rule 1: three failed (or crashed, timed out) pipeline runs leave the counter at 0 and auto launching;
    a good pipeline run does not re-arm a paused loop either."""
    world.project('pp', issues=1, max_concurrent_runs=5)
    for status in (RunStatus.failed, RunStatus.timed_out, RunStatus.crashed):
        world.reap(_pipeline_run(world, 'pp').id, status, 'exit code 1')
    retry = world.services.admitter.retry(
        world.principal, run_id=_last_run_id(world, 'pp'), overrides={}, key=None, correlation_id=None
    )
    world.reap(retry.run.id, RunStatus.failed, 'exit code 1')
    project = world.get('pp')
    assert project.consecutive_failures == 0 and not project.paused
    assert len(world.loop.sweep().launched) == 1
    world.reap(world.active_auto_runs('pp')[0]['id'], RunStatus.failed, 'exit code 1')
    assert world.get('pp').consecutive_failures == 1  # the AFK run counts
    with Session(world.engine) as session:
        session.connection().execute(text("UPDATE project SET consecutive_failures = 3 WHERE id = 'pp'"))
        session.commit()
    world.reap(_pipeline_run(world, 'pp').id, RunStatus.succeeded)
    assert world.get('pp').consecutive_failures == 3 and world.get('pp').paused


def _last_run_id(world, project_id: str) -> str:  # noqa: ANN001
    with Session(world.engine) as session:
        return (
            session.connection()
            .execute(
                text('SELECT id FROM run WHERE project_id = :p ORDER BY created_at DESC, id DESC LIMIT 1'),
                {'p': project_id},
            )
            .scalar_one()
        )


def test_a_crashed_afk_run_is_neutral_and_its_issue_ready_again(world) -> None:  # noqa: ANN001
    """Rule 5 (at the reaper): a crash is infrastructure, not the agent: counter unchanged, issue ready."""
    world.project('pp', issues=1, failures=2)
    run = world.actions.start_by_hand(world.principal, 'pp')
    world.reap(run.id, RunStatus.crashed, 'owner instance gone')
    project = world.get('pp')
    assert project.consecutive_failures == 2 and project.parked_count == 0 and project.ready_count == 1
    assert world.actions.start_by_hand(world.principal, 'pp').issue_number == 1  # claimable again


def test_reaping_twice_moves_the_counter_once(world) -> None:  # noqa: ANN001
    world.project('pp', issues=1)
    world.loop.sweep()
    run_id = world.active_auto_runs('pp')[0]['id']
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(world.reap(run_id, RunStatus.failed, 'x'))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if r) == 1
    assert world.get('pp').consecutive_failures == 1


def test_sweep_pauses_at_three_while_other_projects_keep_launching(world) -> None:  # noqa: ANN001
    world.project('bad', issues=6)
    world.project('good', issues=6)
    for expected in (1, 2, 3):
        _fail_once(world, 'bad')
        good = world.active_auto_runs('good')
        world.reap(good[0]['id'], RunStatus.succeeded)
        assert world.get('bad').consecutive_failures == expected
    project = world.get('bad')
    assert project.paused and project.auto_enabled and project.parked_count == 3
    for _ in range(3):
        report = world.loop.sweep()
        assert world.active_auto_runs('bad') == []
        good = world.active_auto_runs('good')
        assert len(good) == 1 and good[0]['id'] in report.launched
        world.reap(good[0]['id'], RunStatus.succeeded)
    assert world.get('bad').consecutive_failures == 3
    assert world.get('bad').ready_count == 3  # the three parked issues are not retried


def test_failed_run_parks_its_issue_requeue_and_discard(world) -> None:  # noqa: ANN001
    world.project('pp', issues=2)
    _fail_once(world, 'pp')  # issue 1 parked
    parked = world.actions.parked(world.principal, 'pp')
    assert [(c['issue_number'], c['state'], c['cause']) for c in parked] == [(1, 'parked', 'failed: exit code 1')]
    world.loop.sweep()
    assert world.active_auto_runs('pp')[0]['issue_number'] == 2  # never issue 1 again by itself
    world.reap(world.active_auto_runs('pp')[0]['id'], RunStatus.failed, 'exit code 2')
    world.actions.leave_parked(world.principal, 'pp', 1, 'requeue')
    world.actions.leave_parked(world.principal, 'pp', 2, 'discard')
    with pytest.raises(DomainError) as caught:
        world.actions.leave_parked(world.principal, 'pp', 2, 'discard')  # discarded already
    assert caught.value.status == 404
    world.loop.sweep()
    assert [r['issue_number'] for r in world.active_auto_runs('pp')] == [1]
    world.reap(world.active_auto_runs('pp')[0]['id'], RunStatus.succeeded)
    world.loop.sweep()
    assert world.active_auto_runs('pp') == []  # 1 done, 2 discarded
    assert world.get('pp').ready_count == 0
    world.actions.leave_parked(world.principal, 'pp', 2, 'requeue')  # a person takes the discard back
    assert world.get('pp').ready_count == 1


def test_success_closes_the_local_issue(world) -> None:  # noqa: ANN001
    world.project('pp', issues=1)
    world.loop.sweep()
    world.reap(world.active_auto_runs('pp')[0]['id'], RunStatus.succeeded)
    with Session(world.engine) as session:
        state = session.connection().execute(text("SELECT state FROM issue WHERE project_id = 'pp'")).scalar()
    assert state == 'closed'


def test_hand_start_and_manual_runs_work_on_a_paused_project(world) -> None:  # noqa: ANN001
    world.project('pp', issues=1, failures=3)
    assert world.loop.sweep().launched == []
    run = world.actions.start_by_hand(world.principal, 'pp')
    assert run.kind == 'auto' and run.issue_number == 1 and run.branch_name == 'afk/1'
    manual = world.services.admitter.trigger(
        world.principal,
        project_id='pp',
        depth_level='shallow',
        target_framework='python',
        branch='main',
        key=None,
        correlation_id=None,
    )
    assert manual.run.status == 'queued'
    # a builder may start one too: hand-started AFK runs are additive, each on its own issue
    world.issue('pp', 'second')
    second = world.actions.start_by_hand(builder_principal(world), 'pp')
    assert second.issue_number == 2
    with pytest.raises(DomainError) as caught:  # never two runs on one issue
        world.actions.start_by_hand(world.principal, 'pp')
    assert (caught.value.status, caught.value.error) == (409, 'no_ready_issue')


def test_hand_started_and_loop_runs_of_one_project_run_side_by_side(world) -> None:  # noqa: ANN001
    """Rule 2: the loop is serial per project, hand-started AFK runs are additive, never on one issue."""
    world.project('pp', issues=4)
    by_hand = world.actions.start_by_hand(world.principal, 'pp')
    launched = world.loop.sweep().launched
    assert len(launched) == 1  # a hand-started run does not hold the loop back
    assert world.actions.start_by_hand(world.principal, 'pp').id  # nor does a loop run hold a hand start back
    assert world.loop.sweep().launched == []  # the loop itself: one at a time
    active = world.active_auto_runs('pp')
    assert len(active) == 3 and len({r['issue_number'] for r in active}) == 3
    world.reap(by_hand.id, RunStatus.succeeded)
    assert world.loop.sweep().launched == []  # the loop's own run is still in flight
    world.reap(launched[0], RunStatus.succeeded)
    assert len(world.loop.sweep().launched) == 1


def test_hand_start_without_ready_issue_is_409(world) -> None:  # noqa: ANN001
    world.project('pp')
    world.issue('pp', 'not labelled', labels=[])
    with pytest.raises(DomainError) as caught:
        world.actions.start_by_hand(world.principal, 'pp')
    assert (caught.value.status, caught.value.error) == (409, 'no_ready_issue')
    assert 'ready-for-agent' in caught.value.detail


def test_reset_clears_and_next_sweep_launches_auto_toggle_does_not(world) -> None:  # noqa: ANN001
    world.project('pp', issues=1, failures=3)
    world.actions.set_auto(world.principal, 'pp', False)
    world.actions.set_auto(world.principal, 'pp', True)
    assert world.get('pp').paused and world.loop.sweep().launched == []
    with pytest.raises(DomainError) as caught:
        world.actions.reset(builder_principal(world), 'pp')
    assert caught.value.status == 403
    project = world.actions.reset(world.principal, 'pp')
    assert project.consecutive_failures == 0 and not project.paused
    assert len(world.loop.sweep().launched) == 1


def test_auto_is_serial_per_project_and_manual_runs_do_not_block_it(world) -> None:  # noqa: ANN001
    world.project('pp', issues=3)
    manual = world.services.admitter.trigger(
        world.principal,
        project_id='pp',
        depth_level='shallow',
        target_framework='python',
        branch='main',
        key=None,
        correlation_id=None,
    )
    assert len(world.loop.sweep().launched) == 1  # the manual run holds the only slot; auto bypasses slots
    for _ in range(3):
        assert world.loop.sweep().launched == []
    assert len(world.active_auto_runs('pp')) == 1
    world.reap(manual.run.id, RunStatus.succeeded)
    assert world.loop.sweep().launched == []  # still one at a time
    world.reap(world.active_auto_runs('pp')[0]['id'], RunStatus.succeeded)
    assert len(world.loop.sweep().launched) == 1


def test_global_cap_stops_the_sweep(world_factory) -> None:  # noqa: ANN001
    world = world_factory(global_run_cap=2)
    for i in range(5):
        world.project(f'pp{i}', issues=2)
    report = world.loop.sweep()
    assert len(report.launched) == 2 and report.stopped_by == 'global_cap'
    assert world.loop.sweep().launched == []
    first = world.active_auto_runs()[0]
    world.reap(first['id'], RunStatus.succeeded)
    report = world.loop.sweep()
    assert len(report.launched) == 1
    launched_projects = {r['project_id'] for r in world.active_auto_runs()}
    assert first['project_id'] not in launched_projects  # the freed place goes to a project that waited
    assert len(world.active_auto_runs()) == 2


def test_cap_zero_launches_nothing(world_factory) -> None:  # noqa: ANN001
    world = world_factory(global_run_cap=0)
    world.project('pp', issues=1)
    assert world.loop.sweep().launched == [] and world.active_auto_runs() == []


@pytest.mark.parametrize('with_lease', [True, False])
def test_two_sweepers_racing_never_double_launch_or_double_claim(world_factory, with_lease: bool) -> None:  # noqa: ANN001
    first = world_factory(global_run_cap=100)
    second = world_factory(global_run_cap=100)
    if not with_lease:  # the database alone must keep it safe
        first.loop.lease = second.loop.lease = None
    for i in range(6):
        first.project(f'pp{i}', issues=3)
    for _round in range(3):
        barrier = threading.Barrier(4)
        errors = []

        def race(loop, barrier=barrier, errors=errors) -> None:  # noqa: ANN001
            barrier.wait()
            try:
                loop.sweep()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=race, args=(w.loop,)) for w in (first, second, first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        active = first.active_auto_runs()
        per_project = [r['project_id'] for r in active]
        assert len(per_project) == len(set(per_project)) == 6
        with Session(first.engine) as session:
            rows = (
                session.connection()
                .execute(
                    text(
                        "SELECT project_id, issue_number, count(*) FROM issueclaim WHERE state = 'active' "
                        'GROUP BY project_id, issue_number'
                    )
                )
                .all()
            )
        assert all(count == 1 for _, _, count in rows) and len(rows) == 6
        for run in active:
            first.reap(run['id'], RunStatus.succeeded)


def test_two_claims_of_one_issue_cannot_both_win(world) -> None:  # noqa: ANN001
    world.project('pp', issues=1)
    from app.infra.db import session_scope

    with session_scope(world.engine) as session:
        assert claims.claim_in(session.connection(), project_id='pp', issue_number=1, issue_title='t', run_id='r1')
    with session_scope(world.engine) as session:
        assert not claims.claim_in(session.connection(), project_id='pp', issue_number=1, issue_title='t', run_id='r2')


def test_counter_survives_a_restart(world_factory) -> None:  # noqa: ANN001
    world = world_factory()
    world.project('pp', issues=5)
    for _ in range(3):
        _fail_once(world, 'pp')
    close_services(world.services)
    restarted = world_factory()
    project = restarted.get('pp')
    assert project.consecutive_failures == 3 and project.paused and project.auto_enabled
    assert restarted.loop.sweep().launched == []
    restarted.actions.reset(restarted.principal, 'pp')
    assert len(restarted.loop.sweep().launched) == 1


def test_team_mode_sweeps_one_instance_at_a_time(world_factory) -> None:  # noqa: ANN001
    """Team mode holds a Redis lease while sweeping (local mode has one instance and no lease);
    either way the database keeps launches safe (see the racing test without the lease)."""
    first, second = world_factory(), world_factory()
    first.project('pp', issues=1)
    if not first.services.settings.redis_url:
        assert first.loop.lease is None and len(first.loop.sweep().launched) == 1
        return
    assert first.loop.lease.acquire()
    try:
        assert second.loop.sweep().stopped_by == 'lease_held'
        assert second.active_auto_runs() == []
    finally:
        first.loop.lease.release()
    assert len(second.loop.sweep().launched) == 1


def test_a_project_changed_under_the_sweep_does_not_stop_the_others(world, monkeypatch) -> None:  # noqa: ANN001
    world.project('moved', issues=1)
    world.project('kept', issues=1)
    loop = world.loop
    original = loop.launch_first

    def move_then_launch(project, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if project.id == 'moved':  # its repository changes after the sweep read it
            from app.infra.db import session_scope

            with session_scope(world.engine) as session:
                session.connection().execute(text("UPDATE project SET repository_key = 'elsewhere' WHERE id = 'moved'"))
        return original(project, *args, **kwargs)

    monkeypatch.setattr(loop, 'launch_first', move_then_launch)
    report = loop.sweep()
    assert [r['project_id'] for r in world.active_auto_runs()] == ['kept']
    assert len(report.launched) == 1
