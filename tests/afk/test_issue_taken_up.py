"""An AFK run whose issue another AFK run took up again (the loop after a crash released it, or a person's retry)
names that run (`issue_taken_up_by`), on its page and in lists: its own Retry would be refused (409 issue_busy)."""

from __future__ import annotations

import pytest

from app.core.errors import DomainError
from app.models import RunStatus
from app.services.runs import reads


def test_the_loop_taking_a_crashed_runs_issue_up_again_is_named_on_the_crashed_run(world) -> None:  # noqa: ANN001
    world.project('pp', issues=1)
    world.project('qq', issues=1)
    world.loop.sweep()
    [crashed] = world.active_auto_runs('pp')
    [other] = world.active_auto_runs('qq')
    world.reap(crashed['id'], RunStatus.crashed, 'server stopped while the run was in progress')
    world.loop.sweep()  # the crash released issue #1: the loop takes it up again, not as a retry
    [again] = world.active_auto_runs('pp')
    assert again['issue_number'] == 1 and again['id'] > crashed['id']

    with pytest.raises(DomainError) as refused:  # what a Retry of the crashed run gets meanwhile
        world.services.admitter.retry(
            world.principal, run_id=crashed['id'], overrides={}, key=None, correlation_id=None
        )
    assert refused.value.error == 'issue_busy'

    assert reads.get_run(world.engine, world.principal, crashed['id']).issue_taken_up_by == again['id']
    listed, _ = reads.list_runs(world.engine, world.principal, kind='auto')
    assert {run.id: run.issue_taken_up_by for run in listed} == {
        again['id']: None,  # the newest run on its issue: its Retry is the one that means something
        other['id']: None,  # another project's issue #1
        crashed['id']: again['id'],
    }

    world.reap(again['id'], RunStatus.failed, 'exit code 1')  # ended: the newest run is still the one to retry
    assert reads.get_run(world.engine, world.principal, crashed['id']).issue_taken_up_by == again['id']
