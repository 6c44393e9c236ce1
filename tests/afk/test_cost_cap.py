"""The AFK loop's daily cost cap on every backend (docs/afk.md, "Cost"): with a $1.00 cap and runs reporting $0.60
each, the loop launches two runs, then stops launching with the day recorded on the project (the card's reason) and
one `project.cost_capped` delivery; hand-started runs still start; Reset or the next UTC day resumes it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from app.core.workflow_commands import usage_of
from app.infra.db import session_scope
from app.models import Delivery, ProjectUpdate, RuleCreate, RunStatus, utcnow
from app.services.afk import costs
from app.services.notifications import webhooks as notifications
from app.services.notifications.webhook_policy import parse_policy
from app.services.projects.manage import update_project
from app.services.runs import usage as run_usage

SPEND = usage_of('::usage input_tokens=1200,output_tokens=300,cost_usd=0.60,model=m1::')


def _report_and_succeed(world, run_id: str, project_id: str) -> None:  # noqa: ANN001
    assert SPEND is not None
    with session_scope(world.engine) as session:
        run_usage.record(session.connection(), run_id, project_id, [SPEND])  # as the output ingest stores it
    world.reap(run_id, RunStatus.succeeded)


def _capped_deliveries(world) -> list[Delivery]:  # noqa: ANN001
    with Session(world.engine) as session:
        rows = session.exec(select(Delivery).where(col(Delivery.event_type) == 'project.cost_capped')).all()
        return list(rows)


def test_the_loop_stops_at_the_cap_and_resumes_on_reset_and_the_next_day(world) -> None:  # noqa: ANN001
    world.project('cc', issues=7, afk_cost_cap_usd_per_day=1.0)
    notifications.create_rule(
        world.engine,
        world.services.repositories.secrets,
        world.principal,
        'cc',
        RuleCreate(url='http://127.0.0.1:9/hook', events=['project.cost_capped']),
        policy=parse_policy('loopback', team_mode=True),  # written, never sent
    )
    for _ in range(2):  # $0.00, then $0.60 spent: under the cap, the loop launches
        report = world.loop.sweep()
        assert len(report.launched) == 1 and report.cost_capped == []
        _report_and_succeed(world, report.launched[0], 'cc')

    report = world.loop.sweep()  # $1.20 >= $1.00
    assert report.launched == [] and report.cost_capped == ['cc']
    project = world.get('cc')
    assert project.afk_cost_capped_on == utcnow().date().isoformat()
    assert project.consecutive_failures == 0 and not project.paused  # not the failure pause
    [delivery] = _capped_deliveries(world)
    assert delivery.facts['afk']['cap_usd'] == 1.0 and delivery.facts['afk']['spent_usd'] == 1.2
    assert world.loop.sweep().launched == []  # still capped; notified once
    # the project page's charts: today against the cap, per day, per issue
    seen = costs.project_costs(world.engine, world.principal, 'cc', days=3, now=utcnow())
    assert (seen.today_usd, seen.cap_usd, seen.capped) == (1.2, 1.0, True)
    assert [(d.cost_usd, d.runs) for d in seen.days] == [(0.0, 0), (0.0, 0), (1.2, 2)]
    assert [(i.issue_number, i.cost_usd, i.runs) for i in seen.issues] == [(1, 0.6, 1), (2, 0.6, 1)]
    assert len(_capped_deliveries(world)) == 1

    # a person may still start an AFK run by hand
    by_hand = world.actions.start_by_hand(world.principal, 'cc')
    assert by_hand.kind == 'auto'
    world.reap(by_hand.id, RunStatus.succeeded)

    # Reset: the day's count starts again, the loop launches
    world.actions.reset(world.principal, 'cc')
    assert world.get('cc').afk_cost_capped_on is None
    report = world.loop.sweep()
    assert len(report.launched) == 1
    _report_and_succeed(world, report.launched[0], 'cc')
    report = world.loop.sweep()  # $0.60 since the Reset: one more
    assert len(report.launched) == 1
    _report_and_succeed(world, report.launched[0], 'cc')
    assert world.loop.sweep().launched == []  # $1.20 since the Reset: capped again, notified again
    assert len(_capped_deliveries(world)) == 2

    # the cap raised: the card no longer says it is reached, the loop goes on, and reaching the new cap is said again
    update_project(world.engine, world.principal, 'cc', ProjectUpdate(afk_cost_cap_usd_per_day=1.5))
    assert world.get('cc').afk_cost_capped_on is None
    report = world.loop.sweep()  # $1.20 < $1.50
    assert len(report.launched) == 1 and report.cost_capped == []
    _report_and_succeed(world, report.launched[0], 'cc')
    assert world.loop.sweep().cost_capped == ['cc']  # $1.80 >= $1.50
    assert len(_capped_deliveries(world)) == 3

    # the next UTC day: a new count, the loop launches by itself
    tomorrow = utcnow() + timedelta(days=1)
    world.loop.clock = lambda: tomorrow
    assert len(world.loop.sweep().launched) == 1


def test_no_cap_never_stops_the_loop_and_only_afk_runs_count(world) -> None:  # noqa: ANN001
    world.project('nc', issues=3)
    report = world.loop.sweep()
    _report_and_succeed(world, report.launched[0], 'nc')
    assert len(world.loop.sweep().launched) == 1  # no cap: $0.60 stops nothing

    world.project('pc', issues=2, auto=False, afk_cost_cap_usd_per_day=0.5)
    run = world.actions.start_by_hand(world.principal, 'pc')
    with session_scope(world.engine) as session:  # the same spend on a pipeline run is not AFK cost
        session.connection().execute(text("UPDATE run SET kind = 'manual' WHERE id = :r"), {'r': run.id})
    _report_and_succeed(world, run.id, 'pc')
    with session_scope(world.engine) as session:
        session.connection().execute(text("UPDATE project SET auto_enabled = :on WHERE id = 'pc'"), {'on': True})
    report = world.loop.sweep()
    assert report.cost_capped == [] and [r for r in world.active_auto_runs('pc')]
