"""Table tests for the pure reaping decisions: status of a finished run, its outcome class, and the
project's consecutive-failure counter after it."""

from __future__ import annotations

import pytest

from app.models import RunStatus
from app.services.execution.reaper import classify_run, stop_reason


@pytest.mark.parametrize(
    ('exit_code', 'kill_reason', 'owner_gone', 'has_pull_request', 'expected'),
    [
        # the exit code decides when nobody intervened
        (0, None, False, False, RunStatus.succeeded),
        (1, None, False, False, RunStatus.failed),
        (2, None, False, False, RunStatus.failed),
        (-9, None, False, False, RunStatus.failed),  # killed by a signal nobody here sent
        (None, None, False, False, RunStatus.failed),  # never started (command missing)
        # a blown budget is timed_out whatever the exit code the kill produced
        (-15, 'timeout', False, False, RunStatus.timed_out),
        (0, 'timeout', False, False, RunStatus.timed_out),
        (None, 'timeout', False, False, RunStatus.timed_out),
        # a person's stop is stopped, even if the process managed to exit 0 meanwhile
        (-15, 'stop', False, False, RunStatus.stopped),
        (0, 'stop', False, False, RunStatus.stopped),
        (None, 'stop', False, False, RunStatus.stopped),  # stopped before it started
        # the owner instance went away: crashed, whatever we knew about the process
        (None, None, True, False, RunStatus.crashed),
        (0, None, True, False, RunStatus.crashed),
        (-15, 'shutdown', False, False, RunStatus.crashed),
        (None, 'timeout', True, False, RunStatus.crashed),
        # a pull request opened (AFK on a forge) wins over everything
        (1, None, False, True, RunStatus.succeeded),
        (None, 'timeout', False, True, RunStatus.succeeded),
        (None, None, True, True, RunStatus.succeeded),
    ],
)
def test_classify_run(exit_code, kill_reason, owner_gone, has_pull_request, expected) -> None:  # noqa: ANN001
    assert (
        classify_run(
            exit_code=exit_code, kill_reason=kill_reason, owner_gone=owner_gone, has_pull_request=has_pull_request
        )
        == expected
    )


@pytest.mark.parametrize(
    ('lines', 'reason'),
    [
        (['stop requested by bob'], 'stopped by bob'),
        (['stop requested: issue #8 was closed by bob'], 'stopped: issue #8 was closed by bob'),
        (
            ["stopping: today's AFK cost $3.60 reached the project's cap of $3.50"],
            "stopped: today's AFK cost $3.60 reached the project's cap of $3.50",
        ),
        (['cancelled by ann before it was due'], 'cancelled by ann before it was due'),
        (['stopping: the cost cap', 'stop requested by bob'], 'stopped by bob'),  # the last asked
        ([], None),  # nothing says why (a shutdown's own line is its error already)
    ],
)
def test_why_a_stopped_run_stopped(lines: list[str], reason: str | None) -> None:
    assert stop_reason(lines) == reason
