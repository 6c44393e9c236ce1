"""What a worker says at its start of how its runs execute (README, "How runs reach the workers"; docs/security.md):
its sandbox and limits, and what is wrong with either, in one log line an operator reads."""

from __future__ import annotations

import pytest

from app.services.execution.worker import confinement_line


@pytest.mark.parametrize(
    ('facts', 'line'),
    [
        (
            {'sandbox': 'sandboxed', 'sandbox_warning': None, 'limits': '4096 processes', 'limits_warning': None},
            'runs execute sandboxed, limits: 4096 processes',
        ),
        (
            {
                'sandbox': 'unsandboxed',
                'sandbox_warning': "runs are not sandboxed: they can read this server's files (RUNBOARD_SANDBOX=off)",
                'limits': 'none',
                'limits_warning': 'no cgroup here: runs start unbounded',
            },
            "runs execute unsandboxed, limits: none; runs are not sandboxed: they can read this server's files "
            '(RUNBOARD_SANDBOX=off); no cgroup here: runs start unbounded',
        ),
    ],
)
def test_a_worker_says_how_its_runs_execute(facts: dict, line: str) -> None:
    assert confinement_line(facts) == line
