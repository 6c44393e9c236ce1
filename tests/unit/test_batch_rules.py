"""Table tests for the matrix batch's pure rules: siblings and the PR lock, the matrix's validity, the
children's derived keys, and what a batch's children add up to."""

from __future__ import annotations

import pytest

from app.services.runs import admission, batch_rules

ALLOWED = {'depth_level': ['shallow', 'standard', 'deep'], 'target_framework': ['python', 'node', 'go']}


@pytest.mark.parametrize(
    ('slotted', 'limit', 'holder', 'holder_batch', 'batch', 'verdict'),
    [
        # a batch's child on a branch only its siblings hold: not locked out
        (1, 4, 'run_sib', 'bat_1', 'bat_1', None),
        # ... but it still needs a concurrency slot: siblings count against the limit
        (4, 4, 'run_sib', 'bat_1', 'bat_1', 'concurrency_limit'),
        # another batch's child holds the branch: locked out
        (1, 4, 'run_x', 'bat_2', 'bat_1', 'pr_lock'),
        # a run outside any batch holds it: locked out
        (1, 4, 'run_x', None, 'bat_1', 'pr_lock'),
        # a trigger outside any batch meets a batch's child as the holder, like any run
        (1, 4, 'run_sib', 'bat_1', None, 'pr_lock'),
        # a free branch: the batch changes nothing
        (0, 4, None, None, 'bat_1', None),
        (4, 4, None, None, 'bat_1', 'concurrency_limit'),
    ],
)
def test_siblings_of_one_batch_do_not_lock_each_other_out(slotted, limit, holder, holder_batch, batch, verdict) -> None:  # noqa: ANN001
    assert (
        admission.repository_verdict(
            slotted_active=slotted,
            max_concurrent=limit,
            branch_holder=holder,
            batch_id=batch,
            holder_batch_id=holder_batch,
        )
        == verdict
    )


@pytest.mark.parametrize(
    ('matrix', 'field', 'says'),
    [
        (
            {'depth_level': ['deep'], 'target_framework': ['go']},
            None,
            None,
        ),  # a single value per axis is a batch of one
        ({'depth_level': ['shallow', 'deep'], 'target_framework': ['python', 'node', 'go']}, None, None),
        ({'depth_level': [], 'target_framework': ['go']}, 'matrix.depth_level', 'at least one depth level'),
        ({'depth_level': ['deep']}, 'matrix.target_framework', 'at least one target framework'),
        ({'depth_level': ['deep', 'deep'], 'target_framework': ['go']}, 'matrix.depth_level', "'deep' more than once"),
        ({'depth_level': ['deep'], 'target_framework': ['rust']}, 'matrix.target_framework', "'rust' is not allowed"),
    ],
)
def test_matrix_refusal(matrix, field, says) -> None:  # noqa: ANN001
    refusal = batch_rules.matrix_refusal(matrix, allowed=ALLOWED)
    if field is None:
        assert refusal is None
        return
    assert refusal is not None and (refusal.status, refusal.error, refusal.field) == (422, 'validation', field)
    assert says in refusal.detail


@pytest.mark.parametrize(('depths', 'frameworks', 'refused'), [(5, 10, False), (6, 9, True), (1, 50, False)])
def test_a_batch_makes_at_most_fifty_runs(depths: int, frameworks: int, refused: bool) -> None:
    allowed = {
        'depth_level': [f'd{n}' for n in range(depths)],
        'target_framework': [f'f{n}' for n in range(frameworks)],
    }
    refusal = batch_rules.matrix_refusal(allowed, allowed=allowed)
    assert (refusal is not None) == refused
    if refusal:
        assert refusal.field == 'matrix' and str(depths * frameworks) in refusal.detail


def test_cells_are_depth_major_in_the_order_given() -> None:
    assert batch_rules.cells(['deep', 'shallow'], ['node', 'go']) == [
        ('deep', 'node'),
        ('deep', 'go'),
        ('shallow', 'node'),
        ('shallow', 'go'),
    ]


@pytest.mark.parametrize(
    ('key', 'cell'),
    [('k', ('deep', 'go')), ('k' * 255, ('d' * 64, 'f' * 64)), ('a#b/c', ('x/y', 'z'))],
)
def test_child_keys_stay_within_the_key_limit_and_differ_per_cell_and_batch(key: str, cell: tuple) -> None:
    derived = batch_rules.child_key(key, cell)
    assert len(derived) <= 255 and derived.isprintable()
    assert derived == batch_rules.child_key(key, cell)  # a resend derives the same key
    assert derived != batch_rules.child_key(key + 'x', cell)
    assert derived != batch_rules.child_key(key, (cell[0], cell[1] + 'x'))


def test_the_fingerprint_covers_the_matrix_its_order_the_mode_and_the_variables() -> None:
    base = dict(project_id='p', branch='main', matrix={'depth_level': ['a', 'b'], 'target_framework': ['x']})
    same = batch_rules.batch_fingerprint(**base, mode='best_effort', variables={})
    assert same == batch_rules.batch_fingerprint(**base, mode='best_effort', variables={})
    assert same != batch_rules.batch_fingerprint(**base, mode='all_or_nothing', variables={})
    swapped = {**base, 'matrix': {'depth_level': ['b', 'a'], 'target_framework': ['x']}}
    assert same != batch_rules.batch_fingerprint(**swapped, mode='best_effort', variables={})
    with_vars = batch_rules.batch_fingerprint(**base, mode='best_effort', variables={'A': '1', 'B': '2'})
    assert with_vars != same
    assert with_vars == batch_rules.batch_fingerprint(**base, mode='best_effort', variables={'B': '2', 'A': '1'})
    assert with_vars != batch_rules.batch_fingerprint(**base, mode='best_effort', variables={'A': '1', 'B': '3'})
    # a batch without variables keeps the fingerprint batches had before variables existed (keys stored then)
    before = {k: v for k, v in base.items() if k != 'matrix'}
    legacy = {**before, 'depth_level': ['a', 'b'], 'target_framework': ['x'], 'mode': 'best_effort'}
    assert same == admission.fingerprint(legacy)


@pytest.mark.parametrize(
    ('admitted', 'refused', 'pending', 'status'),
    [
        (6, 0, 0, 'admitted'),
        (4, 2, 0, 'partial'),
        (0, 6, 0, 'refused'),
        (2, 0, 4, 'admitting'),  # a pass is at work, or stopped short: a resend completes it
        (0, 1, 1, 'admitting'),
    ],
)
def test_batch_status(admitted: int, refused: int, pending: int, status: str) -> None:
    assert batch_rules.batch_status(admitted=admitted, refused=refused, pending=pending) == status


def test_summary_and_the_longest_wait() -> None:
    assert batch_rules.summary(['admitted', 'refused', 'admitted']) == {
        'total': 3,
        'admitted': 2,
        'refused': 1,
        'pending': 0,
    }
    problems = [batch_rules.problem_of(429, 'rate_limited', 'x', {'retry_after_seconds': s}) for s in (3, 7)]
    assert batch_rules.retry_after([*problems, None, batch_rules.withheld(1)]) == 7
    assert batch_rules.retry_after([batch_rules.withheld(2)]) is None
    assert 'were refused' in batch_rules.withheld(2)['detail'] and 'was refused' in batch_rules.withheld(1)['detail']
