"""The runs list's bulk selection and its one key per action (tables, no I/O)."""

from __future__ import annotations

import pytest

from app.state.bulk_selection import BulkSelection, confirm_text, outcome_text, summary_text


def test_one_key_per_action_and_selection_kept_for_a_resend() -> None:
    selection = BulkSelection(selecting=True)
    selection.toggle('r1')
    selection.toggle('r2')
    body, key = selection.request('stop', {})
    assert body == {'action': 'stop', 'run_ids': ['r1', 'r2']}
    assert selection.request('stop', {})[1] == key  # sent again after an error: the same key
    assert selection.request('retry', {})[1] != key  # another action: another key
    selection.toggle('r2')
    assert selection.request('retry', {})[0] == {'action': 'retry', 'run_ids': ['r1']}


def test_all_matching_sends_the_filter_not_the_rows() -> None:
    selection = BulkSelection(selecting=True)
    selection.toggle('r1')
    selection.pick_all_matching()
    body, _ = selection.request('stop', {'project': 'p', 'status': 'queued', 'kind': None})
    assert body == {'action': 'stop', 'filter': {'project': 'p', 'status': ['queued']}}
    assert selection.count_text == 'All runs matching these filters'
    selection.toggle('r3')  # picking a row leaves "all matching"
    assert not selection.all_matching and selection.count_text == '1 run selected'


def test_an_answer_is_shown_per_row_and_the_next_action_gets_a_new_key() -> None:
    selection = BulkSelection(selecting=True)
    selection.toggle('r1')
    _, key = selection.request('retry', {})
    answer = {
        'action': 'retry',
        'items': [
            {'run_id': 'r1', 'outcome': 'done', 'new_run_id': 'r9'},
            {'run_id': 'r2', 'outcome': 'refused', 'reason': 'Branch main has an active run.', 'error': 'pr_lock'},
        ],
        'summary': {'done': 1, 'skipped': 0, 'refused': 1},
    }
    selection.answered(answer)
    assert not selection.can_act and selection.key is None
    assert outcome_text(selection.outcomes['r1']) == 'retried as r9'
    assert outcome_text(selection.outcomes['r2']) == 'refused: Branch main has an active run.'
    assert summary_text(answer) == '1 retried, 0 skipped, 1 refused'
    selection.toggle('r1')
    assert selection.request('retry', {})[1] != key


@pytest.mark.parametrize(
    'item, text',
    [
        ({'outcome': 'done', 'action': 'stop'}, 'stop requested'),
        (
            {'outcome': 'skipped', 'action': 'stop', 'reason': 'already ended (failed)'},
            'skipped: already ended (failed)',
        ),
        ({'outcome': 'done', 'action': 'approve'}, 'approved'),
        (
            {'outcome': 'skipped', 'action': 'approve', 'reason': 'Run r1 is queued and waits for no approval.'},
            'skipped: Run r1 is queued and waits for no approval.',
        ),
    ],
)
def test_outcome_words(item: dict, text: str) -> None:
    assert outcome_text(item) == text


@pytest.mark.parametrize(
    ('picked', 'all_matching', 'shown', 'more', 'text'),
    [
        (['a', 'b'], False, 20, True, 'Stop 2 selected runs?'),
        (['a'], False, 20, False, 'Stop 1 selected run?'),
        ([], True, 10, False, 'Stop all 10 runs matching these filters?'),
        ([], True, 50, True, 'Stop the 50 runs shown and every older one matching these filters?'),
    ],
)
def test_the_confirmation_says_how_many_runs(picked, all_matching, shown, more, text) -> None:  # noqa: ANN001
    selection = BulkSelection(selecting=True)
    for run_id in picked:
        selection.toggle(run_id)
    if all_matching:
        selection.pick_all_matching()
    assert confirm_text('stop', selection, shown=shown, more=more).startswith(text)


@pytest.mark.parametrize(
    ('action', 'question', 'summary'),
    [
        # a Stop asks a running run to stop: the summary says what the rows say, not that they stopped
        ('stop', 'Stop 1 selected run? Each run follows its own rules (only active runs stop).', '2 stop requested'),
        ('retry', 'Retry 1 selected run? Each run follows its own rules (only ended ones retry).', '2 retried'),
        (
            'approve',
            "Approve 1 selected run? Each run follows its own rules (only runs waiting for an operator's approval "
            'are approved).',
            '2 approved',
        ),
    ],
)
def test_each_action_asks_and_sums_up_in_its_own_words(action: str, question: str, summary: str) -> None:
    selection = BulkSelection(selecting=True)
    selection.toggle('a')
    assert confirm_text(action, selection, shown=1, more=False) == question
    answer = {'action': action, 'summary': {'done': 2, 'skipped': 1, 'refused': 0}}
    assert summary_text(answer) == f'{summary}, 1 skipped, 0 refused'
