"""Which runs wait for an operator's approval, and how a waiting run reads (pure; docs/security.md, "Approvals")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.models import Project
from app.services.runs.approvals import approved_run_waits, needs_approval, request_expired
from app.state.run_timing import approval_text, approved_text, held_back_text, timing_line


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
    assert approved_text(waiting) is None
    assert approved_text({**approved, 'approved_by': 'ann'}) == 'approved by ann'  # the row, until it is admitted
    assert approved_text({**approved, 'approved_by': 'ann', 'status': 'queued'}) is None
    # held back by a lock: why, and no countdown to the next try (which is not when it will run)
    locked = {**approved, 'waits_for': "Branch 'main' is locked by active run run_1."}
    assert held_back_text(locked) == "waits: Branch 'main' is locked by active run run_1."
    assert timing_line(locked) is None
    assert held_back_text(approved) is None and held_back_text({**locked, 'status': 'queued'}) is None
    assert held_back_text({**locked, 'approval': 'waiting'}) is None


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('approval', 'approved_ago', 'status', 'waits'),
    [
        ('approved', timedelta(seconds=5), 409, True),  # the branch lock or the concurrency limit passes
        ('approved', timedelta(minutes=59), 429, True),  # so does the requester's quota
        ('approved', timedelta(hours=1), 409, False),  # an hour after the approval: it ends skipped
        ('approved', timedelta(seconds=5), 404, False),  # the branch or the person is gone: waiting cannot help
        ('approved', timedelta(seconds=5), 422, False),  # the depth or framework is no longer allowed
        (None, None, 409, False),  # a delayed run nobody had to approve ends skipped, as it always has
        ('waiting', None, 409, False),
    ],
)
def test_an_approved_run_waits_out_a_lock_or_a_limit_for_an_hour(approval, approved_ago, status, waits) -> None:  # noqa: ANN001
    approved_at = NOW - approved_ago if approved_ago is not None else None
    assert approved_run_waits(approval=approval, approved_at=approved_at, status=status, now=NOW) is waits


@pytest.mark.parametrize(
    ('waited', 'expired'),
    [(timedelta(days=29, hours=23), False), (timedelta(days=30), True), (timedelta(days=90), True)],
)
def test_a_request_for_an_approval_expires_after_30_days(waited: timedelta, expired: bool) -> None:
    assert request_expired(NOW - waited, NOW) is expired
