"""The outcome a run ends with (engine/finishing.decide_outcome), as a table."""

from __future__ import annotations

import pytest

from app.models import RunStatus
from app.services.execution.finishing import PULL_REQUEST_MESSAGE, SHUTDOWN_ERROR, decide_outcome

S = RunStatus
BUDGET = 'the run reached its run budget of 15 s and Runboard ended it'


@pytest.mark.parametrize(
    'forced, exit_code, kill_reason, has_pr, error, status, error_out, message',
    [
        (None, 0, None, False, None, S.succeeded, None, None),
        (None, 3, None, False, None, S.failed, None, None),
        # past its budget: which one, and that Runboard ended it (the budget: test_decide_outcome's 15 s)
        (None, None, 'timeout', False, None, S.timed_out, BUDGET, BUDGET),
        (None, 143, 'timeout', False, None, S.timed_out, BUDGET, f'{BUDGET} (exit code 143)'),
        (None, -15, 'stop', False, None, S.stopped, None, None),
        (None, -15, 'shutdown', False, None, S.crashed, SHUTDOWN_ERROR, SHUTDOWN_ERROR),
        # a launch failure decided before any process: failed, with its cause as the event text
        (S.failed, None, None, False, 'launch_failed: x', S.failed, 'launch_failed: x', 'launch_failed: x'),
        (S.crashed, None, None, False, 'engine error: boom', S.crashed, 'engine error: boom', 'engine error: boom'),
        # an AFK run's pull request wins over the process's fate and over a forced outcome
        (None, 1, None, True, None, S.succeeded, None, None),
        (S.crashed, None, None, True, 'engine error: boom', S.succeeded, 'engine error: boom', 'engine error: boom'),
        (None, -15, 'pull_request', True, None, S.succeeded, None, PULL_REQUEST_MESSAGE),
    ],
)
def test_decide_outcome(
    forced: RunStatus | None,
    exit_code: int | None,
    kill_reason: str | None,
    has_pr: bool,
    error: str | None,
    status: RunStatus,
    error_out: str | None,
    message: str | None,
) -> None:
    outcome = decide_outcome(
        forced=forced,
        exit_code=exit_code,
        kill_reason=kill_reason,
        has_pull_request=has_pr,
        error=error,
        budget_seconds=15,
    )
    assert (outcome.status, outcome.error, outcome.message) == (status, error_out, message)
