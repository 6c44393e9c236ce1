"""Table tests for the pure admission decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.runs import admission

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
EARLIER = NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    ('stored_fp', 'run_id', 'expires', 'fp', 'verdict'),
    [
        (None, None, None, 'a', 'new'),  # never seen
        ('a', 'run_1', LATER, 'a', 'replay'),  # same payload: the same run
        ('a', 'run_1', LATER, 'b', 'mismatch'),  # same key, other payload
        ('a', None, LATER, 'a', 'in_flight'),  # claimed, run not yet recorded
        ('a', None, LATER, 'b', 'mismatch'),
        ('a', 'run_1', EARLIER, 'b', 'new'),  # expired: free again, whatever the payload
        ('a', 'run_1', NOW, 'a', 'new'),  # expiry is exclusive
    ],
)
def test_idempotency_verdict(stored_fp, run_id, expires, fp, verdict) -> None:  # noqa: ANN001
    assert (
        admission.idempotency_verdict(
            stored_fingerprint=stored_fp, stored_run_id=run_id, expires_at=expires, fingerprint_now=fp, now=NOW
        )
        == verdict
    )


@pytest.mark.parametrize(
    ('a', 'b', 'same'),
    [
        ({'x': 1, 'y': 2}, {'y': 2, 'x': 1}, True),  # order does not matter
        ({'x': 1}, {'x': 1, 'x_idempotency_key': 'k'}, True),  # the key is not payload
        ({'x': 1}, {'x': 1, 'z': None}, True),  # absent == null
        ({'x': 1}, {'x': 2}, False),
        ({'branch': 'a'}, {'branch': 'A'}, False),
    ],
)
def test_fingerprint_is_canonical(a, b, same) -> None:  # noqa: ANN001
    assert (admission.fingerprint(a) == admission.fingerprint(b)) is same


@pytest.mark.parametrize(
    ('depth', 'framework', 'exists', 'field'),
    [
        ('shallow', 'python', True, None),
        ('bottomless', 'python', True, 'depth_level'),
        ('shallow', 'cobol', True, 'target_framework'),
        ('shallow', 'python', False, 'branch'),
        ('bottomless', 'cobol', False, 'depth_level'),  # the first problem is named
    ],
)
def test_validate_run_request(depth, framework, exists, field) -> None:  # noqa: ANN001
    refusal = admission.validate_run_request(
        depth_level=depth,
        target_framework=framework,
        branch='b',
        allowed_depths=['shallow', 'deep'],
        allowed_frameworks=['python'],
        branch_exists=exists,
    )
    assert (refusal.field if refusal else None) == field
    if refusal:
        assert (refusal.status, refusal.error) == (422, 'validation')


@pytest.mark.parametrize(
    ('slotted', 'limit', 'holder', 'bypass', 'verdict'),
    [
        (0, 1, None, False, None),
        (1, 2, None, False, None),
        (2, 2, None, False, 'concurrency_limit'),
        (3, 2, None, False, 'concurrency_limit'),  # a lowered limit still refuses
        (2, 2, 'run_x', False, 'concurrency_limit'),  # concurrency is checked before the PR lock
        (1, 2, 'run_x', False, 'pr_lock'),
        (5, 2, None, True, None),  # AFK runs bypass the concurrency limit ...
        (5, 2, 'run_x', True, 'pr_lock'),  # ... but never the PR lock
    ],
)
def test_repository_verdict(slotted, limit, holder, bypass, verdict) -> None:  # noqa: ANN001
    assert (
        admission.repository_verdict(
            slotted_active=slotted, max_concurrent=limit, branch_holder=holder, bypass_concurrency=bypass
        )
        == verdict
    )


def test_refusals_name_the_blocking_runs() -> None:
    limit = admission.concurrency_refusal(2, ('run_a', 'run_b'))
    assert (limit.status, limit.error, limit.blocking_runs) == (409, 'concurrency_limit', ('run_a', 'run_b'))
    lock = admission.pr_lock_refusal('feature/x', 'run_a')
    assert (lock.status, lock.error, lock.blocking_runs) == (409, 'pr_lock', ('run_a',))
    assert 'feature/x' in lock.detail and 'run_a' in lock.detail


@pytest.mark.parametrize(
    ('used', 'limit', 'slot'),
    [
        (set(), 3, 0),
        ({0}, 3, 1),
        ({0, 2}, 3, 1),
        ({0, 1, 2}, 3, None),
        ({1}, 1, 0),
        ({5}, 3, 0),
    ],
)
def test_free_slot(used, limit, slot) -> None:  # noqa: ANN001
    assert admission.free_slot(used, limit) == slot


@pytest.mark.parametrize(
    ('status', 'allowed'),
    [
        ('failed', True),
        ('timed_out', True),
        ('crashed', True),
        ('stopped', True),
        ('queued', False),
        ('running', False),
        ('succeeded', False),
    ],
)
def test_retry_verdict(status, allowed) -> None:  # noqa: ANN001
    from app.models import RETRYABLE_STATUSES

    refusal = admission.retry_verdict(status, RETRYABLE_STATUSES)
    assert (refusal is None) is allowed
    if refusal:
        assert (refusal.status, refusal.error) == (409, 'not_retryable') and status in refusal.detail
