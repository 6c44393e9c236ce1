"""The AFK loop's notification events, on every backend: a failed AFK run parks its issue (issue.parked), the
failure that reaches the pause threshold pauses the loop (project.auto_paused, once), a person's Stop parks
without pausing. Each delivery is written in the transaction that ends the run, with what a receiver needs."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.models import Delivery, RuleCreate, RunStatus
from app.services.notifications import webhooks as notifications
from app.services.notifications.webhook_policy import parse_policy


def _rule(world, project_id: str, events: list[str]) -> str:  # noqa: ANN001
    rule = notifications.create_rule(
        world.engine,
        world.services.repositories.secrets,
        world.principal,
        project_id,
        RuleCreate(url='http://127.0.0.1:9/hook', events=events),
        policy=parse_policy('loopback', team_mode=True),  # written, never sent
    )
    return rule.id


def _deliveries(world) -> list[Delivery]:  # noqa: ANN001
    with Session(world.engine) as session:
        return list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())


def _one_auto_run(world, project_id: str) -> dict:  # noqa: ANN001
    world.loop.sweep()
    [run] = world.active_auto_runs(project_id)
    return run


def test_the_failure_that_pauses_the_loop_parks_and_pauses(world) -> None:  # noqa: ANN001
    world.project('pp', issues=3, failures=1)
    _rule(world, 'pp', ['issue.parked', 'project.auto_paused'])
    first = _one_auto_run(world, 'pp')
    world.reap(first['id'], RunStatus.failed, 'exit code 1')
    assert [d.event_type for d in _deliveries(world)] == ['issue.parked']  # 2 failures: not paused yet
    second = _one_auto_run(world, 'pp')
    world.reap(second['id'], RunStatus.failed, 'exit code 1')
    assert world.get('pp').paused
    found = _deliveries(world)
    assert [d.event_type for d in found] == ['issue.parked', 'issue.parked', 'project.auto_paused']
    parked, paused = found[1], found[2]
    assert parked.run_id == paused.run_id == second['id']
    assert parked.facts['issue']['number'] == second['issue_number']
    assert parked.facts['issue']['title'] == 'task 2' and 'failed' in parked.facts['issue']['cause']
    assert paused.facts['afk'] == {'consecutive_failures': 3, 'threshold': 3}
    assert all(d.status == 'pending' and d.payload is None for d in found)  # sent apart, rendered by the sender


def test_a_stop_parks_without_pausing_and_only_subscribed_events_are_delivered(world) -> None:  # noqa: ANN001
    world.project('pp', issues=2, failures=2)
    _rule(world, 'pp', ['run.stopped', 'issue.parked', 'project.auto_paused'])
    _rule(world, 'pp', ['run.failed'])  # subscribed to something that does not happen here
    run = _one_auto_run(world, 'pp')
    world.reap(run['id'], RunStatus.stopped)
    assert sorted(d.event_type for d in _deliveries(world)) == ['issue.parked', 'run.stopped']
    assert not world.get('pp').paused


def test_a_second_end_of_the_same_run_adds_nothing(world) -> None:  # noqa: ANN001
    world.project('pp', issues=1)
    _rule(world, 'pp', ['run.failed', 'issue.parked'])
    run = _one_auto_run(world, 'pp')
    assert world.reap(run['id'], RunStatus.failed, 'exit code 1') is not None
    assert world.reap(run['id'], RunStatus.crashed, 'late reaper') is None  # two reapers race: one wins
    assert sorted(d.event_type for d in _deliveries(world)) == ['issue.parked', 'run.failed']
