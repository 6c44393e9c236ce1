"""Which runs wait for an operator's approval, and how a waiting run reads (pure; docs/security.md, "Approvals")."""

from __future__ import annotations

import pytest

from app.models import Project
from app.services.runs.approvals import needs_approval
from app.state.run_timing import approval_text, timing_line


def project(**fields) -> Project:  # noqa: ANN003
    values = dict(id='p', team_id='t', repository_key='k', name='P', repository='/r', command=['true'])
    return Project(**{**values, 'approval_required': True, 'base_branch': 'main', **fields})


@pytest.mark.parametrize(
    ('fields', 'kind', 'branch', 'operator', 'waits'),
    [
        ({}, 'manual', 'main', False, True),  # a builder's run of the base branch
        ({}, 'manual', 'main', True, False),  # an operator's own run
        ({}, 'manual', 'feature/x', False, False),  # not a protected branch
        ({}, 'retry', 'main', False, True),  # a retry is asked for again
        ({}, 'scheduled', 'main', False, True),  # a schedule whose operator has become a builder
        ({}, 'push', 'main', False, True),  # the same for push rules
        ({}, 'auto', 'main', False, False),  # the AFK loop has its own gates
        ({}, 'pull_request', 'main', False, False),  # never given the protected variables
        ({'approval_required': False}, 'manual', 'main', False, False),
        ({'protected_branches': ['release/*']}, 'manual', 'release/2', False, True),
        ({'protected_branches': ['release/*']}, 'manual', 'main', False, False),
    ],
)
def test_needs_approval(fields: dict, kind: str, branch: str, operator: bool, waits: bool) -> None:
    assert needs_approval(project=project(**fields), kind=kind, branch=branch, is_operator=operator) is waits


def test_a_waiting_run_reads_as_waiting_not_as_due_at_a_time() -> None:
    waiting = {'status': 'delayed', 'approval': 'waiting', 'branch_name': 'main', 'run_at': '2030-01-01T00:00:00Z'}
    assert approval_text(waiting) == "waiting for an operator's approval (branch main is protected)"
    assert timing_line(waiting) is None  # it runs when approved, whatever time it asked for
    approved = {**waiting, 'approval': 'approved'}
    assert approval_text(approved) is None and timing_line(approved) is not None
    assert approval_text({**waiting, 'status': 'stopped'}) is None
