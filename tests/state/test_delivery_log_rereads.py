"""When the webhook delivery log reads again: while a delivery can change with no change event (pending, retrying,
held), and on the events that bring deliveries of their own (a run's end, a project's change, a run that waits)."""

from __future__ import annotations

import pytest

from app.state.notifications_view import any_changing, log_reread


@pytest.mark.parametrize(
    ('statuses', 'changing'),
    [
        ([], False),
        (['delivered', 'gave_up', 'skipped'], False),
        (['delivered', 'pending'], True),
        (['failed'], True),
        (['held'], True),  # "held … sent in 30 s": counts down, then is sent or skipped
    ],
)
def test_the_log_reads_again_while_a_delivery_can_change(statuses: list[str], changing: bool) -> None:
    assert any_changing([{'id': f'd{i}', 'status': s} for i, s in enumerate(statuses)]) is changing


@pytest.mark.parametrize(
    ('event', 'reread'),
    [
        ({'type': 'run', 'id': 'r1', 'status': 'failed'}, 'now'),  # run.failed, issue.parked, project.auto_paused
        ({'type': 'run', 'id': 'r1', 'status': 'succeeded'}, 'now'),
        ({'type': 'project', 'id': 'p', 'project_id': 'p'}, 'now'),  # project.cost_capped
        ({'type': 'run', 'id': 'r1', 'status': 'delayed'}, 'soon'),  # run.awaiting_approval, on the sender's pass
        ({'type': 'run', 'id': 'r1', 'status': 'running'}, None),
        ({'type': 'run', 'id': 'r1', 'status': 'queued'}, None),
        ({'type': 'run.output', 'id': 'r1'}, None),
        ({'type': 'queue'}, None),
    ],
)
def test_which_events_bring_deliveries(event: dict, reread: str | None) -> None:
    assert log_reread(event) == reread
