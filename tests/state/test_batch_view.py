"""The batch page's pure rules (the grid, its words, live events, who may resend) and the Run form's matrix submit
with a scripted client: one key per batch submit, reused after a lost answer."""

from __future__ import annotations

from collections import Counter

import pytest

from app.client import ApiError, Response
from app.state.batch_form import submit_batch
from app.state.batch_view import (
    approve_targets,
    batch_action_key,
    cell_of,
    event_effect,
    grid_of,
    headline,
    matrix_block_reason,
    matrix_count_text,
    may_resend,
    rerun_targets,
    stop_targets,
    with_ends_kept,
    with_run_status,
)
from app.state.run_form import RunFormState


def child(depth: str, framework: str, run_id: str | None = None, status: str = 'queued', **problem) -> dict:  # noqa: ANN003
    if run_id:
        return {
            'depth_level': depth,
            'target_framework': framework,
            'outcome': 'admitted',
            'run': {'id': run_id, 'status': status},
        }
    if problem:
        return {'depth_level': depth, 'target_framework': framework, 'outcome': 'refused', 'problem': problem}
    return {'depth_level': depth, 'target_framework': framework, 'outcome': 'pending'}


def batch(*children: dict, status: str = 'partial') -> dict:
    runs: dict[str, int] = {}
    for c in children:
        if c.get('run'):
            runs[c['run']['status']] = runs.get(c['run']['status'], 0) + 1
    outcomes = [c['outcome'] for c in children]
    return {
        'id': 'bat_1',
        'user_id': 'u1',
        'status': status,
        'matrix': {'depth_level': ['shallow', 'deep'], 'target_framework': ['python', 'node']},
        'children': list(children),
        'summary': {
            'total': len(children),
            **{o: outcomes.count(o) for o in ('admitted', 'refused', 'pending')},
        },
        'runs_by_status': dict(sorted(runs.items())),
    }


RATE = dict(
    status=429, error='rate_limited', detail='Run limit reached: 3 runs per 60 s. Retry in 12 s.', retry_after=12
)
LOCK = dict(status=409, error='pr_lock', detail="Branch 'main' is locked by active run run_x.", retry_after=None)
BATCH = batch(
    child('shallow', 'python', 'run_a', 'running'),
    child('shallow', 'node', 'run_b'),
    child('deep', 'python', **RATE),
    child('deep', 'node'),
)


def test_the_grid_has_a_cell_per_combination_with_its_words() -> None:
    grid = grid_of(BATCH)
    assert (grid.depths, grid.frameworks) == (['shallow', 'deep'], ['python', 'node'])
    running, refused, pending = (
        grid.cells['shallow', 'python'],
        grid.cells['deep', 'python'],
        grid.cells['deep', 'node'],
    )
    assert (running.status, running.run_id, running.name) == ('running', 'run_a', 'shallow/python')
    assert running.label == 'running run_a: shallow × python, run run_a'  # a link's name starts with what it shows
    assert (refused.status, refused.error, refused.run_id) == ('refused', 'rate_limited', None)
    assert refused.reason == RATE['detail']  # it names the wait already: not said twice
    assert refused.label == f'deep × python: refused. {RATE["detail"]}'
    assert pending.label == 'deep × node: not tried yet'
    retried = child('deep', 'go', 'run_01b', 'failed')
    retried['run']['retry_of'] = 'run_01a'
    again = grid_of(batch(retried)).cells['deep', 'go']  # a cell Re-run failed ran again says so, in its name too
    assert (again.retry_of, again.label) == (
        'run_01a',
        'failed run_01b retry: deep × go, run run_01b, a retry of run_01a',
    )
    locked = grid_of(batch(child('deep', 'go', **{**LOCK, 'retry_after': 5}))).cells['deep', 'go']
    assert locked.reason == LOCK['detail'] + ' (retry in 5 s)'


def test_headline() -> None:
    assert headline(BATCH) == '4 runs · 2 admitted · 1 refused · 1 not tried yet — 1 queued, 1 running'
    one = batch(child('deep', 'go', 'run_a', 'timed_out'), status='admitted')
    assert headline(one) == '1 run · 1 admitted — 1 timed out'


@pytest.mark.parametrize(
    ('event', 'effect'),
    [
        ({'type': 'run', 'id': 'run_a', 'status': 'succeeded'}, 'update'),
        ({'type': 'run', 'id': 'run_a', 'status': 'running'}, None),  # nothing new
        ({'type': 'run', 'id': 'run_b', 'status': 'running'}, 'update'),
        ({'type': 'run', 'id': 'run_new', 'status': 'queued', 'batch_id': 'bat_1'}, 'reload'),  # a resend admitted it
        ({'type': 'run', 'id': 'run_other', 'status': 'queued', 'batch_id': 'bat_2'}, None),
        ({'type': 'run', 'id': 'run_other', 'status': 'queued'}, None),
        ({'type': 'project', 'id': 'proj'}, None),
    ],
)
def test_event_effect(event: dict, effect: str | None) -> None:
    assert event_effect(BATCH, event) == effect


def test_an_event_older_than_the_read_that_ended_the_run_is_passed_over() -> None:
    ended = with_run_status(BATCH, 'run_a', 'stopped')
    assert event_effect(ended, {'type': 'run', 'id': 'run_a', 'status': 'running'}) is None
    assert event_effect(ended, {'type': 'run', 'id': 'run_a', 'status': 'failed'}) == 'update'


@pytest.mark.parametrize(
    ('shown', 'read', 'kept'),
    [
        ('stopped', 'running', 'stopped'),  # a read answered before the stop, arriving after its event
        ('succeeded', 'queued', 'succeeded'),
        ('running', 'stopped', 'stopped'),  # a newer read wins
        ('queued', 'running', 'running'),
        ('failed', 'failed', 'failed'),
    ],
)
def test_a_read_never_takes_an_ended_run_back(shown: str, read: str, kept: str) -> None:
    merged = with_ends_kept(with_run_status(BATCH, 'run_a', shown), with_run_status(BATCH, 'run_a', read))
    assert grid_of(merged).cells['shallow', 'python'].status == kept
    assert merged['runs_by_status'] == dict(sorted(Counter(['queued', kept]).items()))  # run_b is queued


def test_a_read_takes_the_runs_it_brings_that_the_page_did_not_know() -> None:
    shown = batch(child('shallow', 'python', 'run_a', 'stopped'))
    read = batch(child('shallow', 'python', 'run_retry', 'running'))  # the cell's retry
    assert grid_of(with_ends_kept(shown, read)).cells['shallow', 'python'].run_id == 'run_retry'


def test_with_run_status_moves_the_counts_too() -> None:
    after = with_run_status(BATCH, 'run_a', 'succeeded')
    assert grid_of(after).cells['shallow', 'python'].status == 'succeeded'
    assert after['runs_by_status'] == {'queued': 1, 'succeeded': 1}
    assert BATCH['children'][0]['run']['status'] == 'running'  # the original is left as it was


@pytest.mark.parametrize(
    ('status', 'me', 'may'),
    [
        ('partial', {'user_id': 'u1'}, True),
        ('refused', {'user_id': 'u1'}, True),
        ('admitting', {'user_id': 'u1'}, True),
        ('admitted', {'user_id': 'u1'}, False),  # nothing missing
        ('partial', {'user_id': 'u2'}, False),  # the key is its creator's
        ('partial', None, False),
    ],
)
def test_may_resend(status: str, me: dict | None, may: bool) -> None:
    assert may_resend({**BATCH, 'status': status}, me) == may


@pytest.mark.parametrize(
    ('depths', 'frameworks', 'reason'),
    [
        (['a'], ['x'], None),
        ([], ['x'], 'Pick at least one depth level for the matrix.'),
        (['a'], [], 'Pick at least one target framework for the matrix.'),
        (['a'] * 6, ['x'] * 9, '54 combinations: a matrix makes at most 50 runs.'),
    ],
)
def test_matrix_block_reason(depths: list[str], frameworks: list[str], reason: str | None) -> None:
    assert matrix_block_reason(depths, frameworks) == reason


def test_matrix_count_text() -> None:
    assert matrix_count_text(['a', 'b'], ['x', 'y']) == '2 × 2 = 4 runs'
    assert matrix_count_text(['a'], ['x']) == '1 × 1 = 1 run'


class ScriptedClient:
    def __init__(self, *answers) -> None:  # noqa: ANN002
        self.answers = list(answers)
        self.calls: list[dict] = []

    async def trigger_batch(self, **kwargs) -> Response:  # noqa: ANN003
        self.calls.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, ApiError):
            raise answer
        status, data = answer
        return Response(status, data, {'idempotent-replayed': 'true'} if status == 200 else {})


async def no_sleep(_: float) -> None:
    return None


PAYLOAD = {
    'branch': 'main',
    'depth_levels': ['shallow', 'deep'],
    'target_frameworks': ['python'],
    'all_or_nothing': True,
}


async def test_a_lost_answer_is_resent_with_the_same_key_and_the_replay_taken() -> None:
    form = RunFormState(project_id='p')
    client = ScriptedClient(ApiError(0, 'network', 'dropped'), (200, BATCH))
    result = await submit_batch(client, form, PAYLOAD, sleep=no_sleep)
    assert result.response is not None and result.response.replayed and result.attempts == 2
    assert [c['key'] for c in client.calls] == [form.key, form.key]
    assert len({c['correlation_id'] for c in client.calls}) == 1
    assert client.calls[0]['depth_levels'] == ['shallow', 'deep'] and client.calls[0]['all_or_nothing'] is True


async def test_after_the_automatic_resends_the_next_press_reuses_the_key_and_a_changed_matrix_gets_a_new_one() -> None:
    form = RunFormState(project_id='p')
    client = ScriptedClient(*[ApiError(0, 'network', 'dropped')] * 3, (201, BATCH), (201, BATCH))
    lost = await submit_batch(client, form, PAYLOAD, sleep=no_sleep)
    assert lost.response is None and lost.failure is not None and lost.failure.kind == 'network'
    assert (await submit_batch(client, form, PAYLOAD, sleep=no_sleep)).response is not None
    assert len({c['key'] for c in client.calls}) == 1
    await submit_batch(client, form, {**PAYLOAD, 'target_frameworks': ['python', 'node']}, sleep=no_sleep)
    assert client.calls[-1]['key'] != client.calls[0]['key']


async def test_a_refusal_of_the_whole_request_is_not_resent() -> None:
    form = RunFormState(project_id='p')
    client = ScriptedClient(ApiError(422, 'validation', "matrix.depth_level 'huge' is not allowed"))
    result = await submit_batch(client, form, PAYLOAD, sleep=no_sleep)
    assert result.failure is not None and result.failure.kind == 'error' and len(client.calls) == 1


@pytest.mark.parametrize(
    ('children', 'targets'),
    [
        ([child('shallow', 'python', 'run_1', 'succeeded')], []),
        ([child('shallow', 'python', 'run_1', 'running'), child('deep', 'python', 'run_2', 'queued')], []),
        (
            [
                child('shallow', 'python', 'run_1', 'failed'),
                child('shallow', 'node', 'run_2', 'succeeded'),
                child('deep', 'python', 'run_3', 'timed_out'),
                child('deep', 'node', 'run_4', 'stopped'),
            ],
            ['run_1', 'run_3', 'run_4'],  # every end but success, in the grid's order
        ),
        ([child('deep', 'python', 'run_5', 'crashed'), child('deep', 'node', error='pr_lock')], ['run_5']),  # refused
    ],
)
def test_rerun_targets(children: list[dict], targets: list[str]) -> None:
    assert rerun_targets({'children': children}) == targets


def test_rerun_key_is_one_per_set_of_runs() -> None:
    key = batch_action_key('bat_1', 'rerun', ['run_2', 'run_1'])
    assert key == batch_action_key('bat_1', 'rerun', ['run_1', 'run_2'])  # a second press sends the same key
    assert key.startswith('bat_1-rerun-') and len(key) <= 64
    assert key != batch_action_key('bat_1', 'rerun', ['run_1', 'run_3'])  # the next failures are a new action
    assert key != batch_action_key('bat_2', 'rerun', ['run_1', 'run_2'])


def test_stop_targets_are_the_cells_still_queued_or_running() -> None:
    children = [
        child('shallow', 'python', 'run_1', 'running'),
        child('shallow', 'node', 'run_2', 'succeeded'),
        child('deep', 'python', 'run_3', 'queued'),
        child('deep', 'node', error='pr_lock'),
    ]
    assert stop_targets({'children': children}) == ['run_1', 'run_3']
    assert batch_action_key('bat_1', 'stop', ['run_1']) != batch_action_key('bat_1', 'rerun', ['run_1'])


def test_approve_targets_are_the_cells_waiting_for_an_operator() -> None:
    waiting = child('shallow', 'python', 'run_1', 'delayed')
    waiting['run']['approval'] = 'waiting'
    approved = child('shallow', 'node', 'run_2', 'delayed')
    approved['run']['approval'] = 'approved'  # due, the sweep not there yet
    moved_on = child('deep', 'python', 'run_3', 'queued')
    moved_on['run']['approval'] = 'waiting'  # the page's copy after a live status update: no longer waiting
    children = [waiting, approved, moved_on, child('deep', 'node', 'run_4', 'delayed'), child('x', 'y', error='e')]
    assert approve_targets({'children': children}) == ['run_1']
    cell = cell_of(waiting)
    assert cell.awaiting_approval and cell.label.startswith('delayed run_1 awaits approval: shallow × python')
    assert not cell_of(approved).awaiting_approval
