"""Run form decisions and the submit flow with a scripted client (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from app.client import ApiError, Response
from app.state.run_form import (
    CONCURRENCY_TEXT,
    BranchHead,
    RunFormState,
    branch_head,
    describe_failure,
    is_auto_retryable,
    own_variables_reason,
    parse_variables,
    quota_banner,
    run_again_query,
    submit_run,
    typed_branch,
    variables_from_query,
    variables_text,
)
from app.state.runs_store import RunsStore

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
PAYLOAD = {'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'}


def problem(status: int, error: str, **body) -> ApiError:  # noqa: ANN003
    headers = body.pop('headers', {})
    return ApiError(status, error, body.pop('detail', 'nope'), body.pop('cid', 'cid-1'), body, headers)


@pytest.mark.parametrize(
    'error, kind, text, links, retry_after',
    [
        (problem(429, 'rate_limited', headers={'retry-after': '37'}), 'rate_limited', '37 s', (), 37),
        (
            problem(409, 'concurrency_limit', blocking_runs=['r1', 'r2']),
            'concurrency_limit',
            CONCURRENCY_TEXT,
            ('r1', 'r2'),
            None,
        ),
        (problem(409, 'pr_lock', blocking_runs=['r3']), 'pr_lock', 'pr_lock contention', ('r3',), None),
        (ApiError(0, 'network', 'Could not reach the server.'), 'network', 'No answer from the server', (), None),
        (problem(500, 'internal', detail='Unexpected server error'), 'error', 'HTTP 500', (), None),
        (problem(422, 'validation', detail='branch: unknown'), 'error', 'branch: unknown', (), None),
    ],
)
def test_describe_failure(error: ApiError, kind: str, text: str, links: tuple, retry_after: int | None) -> None:
    failure = describe_failure(error, 'sent-cid')
    assert failure.kind == kind
    assert text in failure.message
    assert failure.links == links
    assert failure.retry_after == retry_after
    assert failure.correlation_id == (error.correlation_id or 'sent-cid')


def test_a_lost_answer_keeps_the_correlation_id_we_sent() -> None:
    assert describe_failure(ApiError(0, 'network', 'x'), 'mine').correlation_id == 'mine'


@pytest.mark.parametrize(
    'error, retry',
    [
        (ApiError(0, 'network', 'x'), True),
        (ApiError(0, 'timeout', 'x'), True),
        (problem(409, 'idempotency_in_flight'), True),
        (problem(409, 'pr_lock'), False),
        (problem(500, 'internal'), False),
        (problem(429, 'rate_limited'), False),
    ],
)
def test_only_lost_answers_are_retried_automatically(error: ApiError, retry: bool) -> None:
    assert is_auto_retryable(error) is retry


def quota(remaining: int, limit: int = 20, resets_in: int = 90) -> dict:
    return {
        'limit': limit,
        'remaining': remaining,
        'window_seconds': 600,
        'resets_at': (NOW + timedelta(seconds=resets_in)).isoformat(),
        'retry_after_seconds': 0 if remaining else resets_in,
    }


@pytest.mark.parametrize(
    'value, level, blocks, text',
    [
        (quota(20), None, None, None),
        (quota(3), None, None, None),
        (
            quota(2),
            'amber',
            False,
            'You are close to your run limit. 2 runs remaining in the current window (resets at ',
        ),
        (quota(1, limit=10), 'amber', False, '1 run remaining'),
        (quota(0, resets_in=90), 'red', True, 'Quota exhausted — next window opens in 1:30.'),
        (quota(0, resets_in=7), 'red', True, 'Quota exhausted — next window opens in 7 s.'),
        (None, None, None, None),
    ],
)
def test_quota_banner(value: dict | None, level: str | None, blocks: bool | None, text: str | None) -> None:
    banner = quota_banner(value, NOW)
    if level is None:
        assert banner is None
        return
    assert (banner.level, banner.blocks_run) == (level, blocks)
    assert text in banner.text


def test_red_countdown_runs_down_with_the_clock() -> None:
    value = quota(0, resets_in=30)
    assert quota_banner(value, NOW).seconds_left == 30
    assert quota_banner(value, NOW + timedelta(seconds=29)).seconds_left == 1
    assert quota_banner(value, NOW + timedelta(seconds=31)).seconds_left == 0


# ------------------------------------------------------------------ the key lifecycle
def test_the_key_is_a_uuid4_kept_for_retries_and_renewed_on_reset() -> None:
    form = RunFormState(project_id='p')
    first = form.key
    assert uuid.UUID(first).version == 4
    assert form.key_for(PAYLOAD) == first
    assert form.key_for(dict(PAYLOAD)) == first  # pressing Run again after an error
    form.reset()
    assert form.key != first and uuid.UUID(form.key).version == 4


def test_a_changed_payload_is_a_new_submit_with_a_new_key() -> None:
    form = RunFormState(project_id='p')
    first = form.key_for(PAYLOAD)
    assert form.key_for({**PAYLOAD, 'branch': 'other'}) != first


class ScriptedClient:
    """Answers POSTs from a script: ApiError instances are raised, dicts are returned as (status, run)."""

    def __init__(self, *answers) -> None:  # noqa: ANN002
        self.answers = list(answers)
        self.calls: list[dict] = []

    async def trigger_run(self, **kwargs) -> Response:  # noqa: ANN003
        return self._answer(kwargs)

    async def retry_run(self, run_id: str, **kwargs) -> Response:  # noqa: ANN003
        return self._answer({'retry_of': run_id, **kwargs})

    def _answer(self, call: dict) -> Response:
        self.calls.append(call)
        answer = self.answers.pop(0)
        if isinstance(answer, ApiError):
            raise answer
        status, data = answer
        return Response(status, data, {'idempotent-replayed': 'true'} if status == 200 else {})


async def no_sleep(_: float) -> None:
    return None


def run(run_id: str) -> dict:
    return {'id': run_id, 'status': 'queued', 'project_id': 'p', 'kind': 'manual', 'branch_name': 'main'}


async def test_submit_retries_a_lost_answer_with_the_same_key_and_confirms_the_replay() -> None:
    store = RunsStore()
    store.load([run('r1')])
    form = RunFormState(project_id='p')
    client = ScriptedClient(ApiError(0, 'network', 'dropped'), (200, run('r9')))
    result = await submit_run(client, form, store, PAYLOAD, sleep=no_sleep)
    assert result.ok and result.response.replayed and result.attempts == 2
    assert [c['key'] for c in client.calls] == [form.key, form.key]
    assert len({c['correlation_id'] for c in client.calls}) == 1
    assert [r['id'] for r in store.rows] == ['r9', 'r1']


async def test_submit_gives_up_after_the_automatic_retries_and_rolls_back() -> None:
    store = RunsStore()
    store.load([run('r1')])
    before = [dict(r) for r in store.rows]
    form = RunFormState(project_id='p')
    client = ScriptedClient(*[ApiError(0, 'network', 'dropped')] * 3, (200, run('r9')))
    result = await submit_run(client, form, store, PAYLOAD, sleep=no_sleep)
    assert not result.ok and result.failure.kind == 'network' and result.attempts == 3
    assert store.rows == before
    again = await submit_run(client, form, store, PAYLOAD, sleep=no_sleep)  # the person presses Run again
    assert again.ok
    assert len({c['key'] for c in client.calls}) == 1


@pytest.mark.parametrize(
    'error',
    [problem(500, 'internal'), problem(429, 'rate_limited'), problem(409, 'concurrency_limit', blocking_runs=['r1'])],
)
async def test_refusals_are_not_retried_and_roll_back(error: ApiError) -> None:
    store = RunsStore()
    store.load([run('r1')])
    form = RunFormState(project_id='p')
    client = ScriptedClient(error)
    result = await submit_run(client, form, store, PAYLOAD, sleep=no_sleep)
    assert not result.ok and len(client.calls) == 1
    assert [r['id'] for r in store.rows] == ['r1']


async def test_a_retry_form_posts_to_the_retry_endpoint() -> None:
    form = RunFormState(project_id='p', retry_of='r1')
    client = ScriptedClient((201, {**run('r2'), 'kind': 'retry', 'retry_of': 'r1'}))
    store = RunsStore()
    result = await submit_run(client, form, store, PAYLOAD, sleep=no_sleep)
    assert result.ok and client.calls[0]['retry_of'] == 'r1' and client.calls[0]['overrides'] == PAYLOAD


@pytest.mark.parametrize(
    ('run', 'message', 'links'),
    [
        ({'id': 'run_b', 'status': 'succeeded'}, None, None),  # not one the banner names
        ({'id': 'run_a', 'status': 'running'}, None, None),  # still active
        ({'id': 'run_a', 'status': 'stopping'}, None, None),
        ({'id': 'run_a', 'status': 'failed'}, 'Busy. run_a has ended (failed): Run may go ahead now.', ('run_c',)),
    ],
)
def test_a_409_banner_stops_calling_an_ended_run_active(run: dict, message: str | None, links: tuple | None) -> None:
    from app.state.run_form import Failure, failure_after_run_update

    failure = Failure('concurrency_limit', 'Busy.', 'cid', 409, links=('run_a', 'run_c'))
    updated = failure_after_run_update(failure, run)
    if message is None:
        assert updated is None
    else:
        assert updated is not None and (updated.message, updated.links) == (message, links)
        assert (updated.kind, updated.status, updated.correlation_id) == ('concurrency_limit', 409, 'cid')


@pytest.mark.parametrize(
    ('text', 'parsed'),
    [
        ('', ({}, None)),
        ('TARGET=production', ({'TARGET': 'production'}, None)),
        ('A=1\n\n  \nB=two words=and more', ({'A': '1', 'B': 'two words=and more'}, None)),
        (' A =x', ({'A': 'x'}, None)),  # the name's spaces go; the value is kept as typed
        ('A=', ({'A': ''}, None)),
        ('oops', ({}, 'line 1: write NAME=value')),
        ('A=1\n=2', ({}, 'line 2: write NAME=value')),
        ('A=1\nA=2', ({}, 'line 2: A is given twice')),
    ],
)
def test_parse_variables(text: str, parsed: tuple) -> None:
    assert parse_variables(text) == parsed


@pytest.mark.parametrize('variables', [{}, {'A': '1'}, {'B': 'two words=and more', 'A': ''}])
def test_variables_text_is_what_parse_variables_reads_back(variables: dict) -> None:
    assert parse_variables(variables_text(variables)) == (variables, None)


@pytest.mark.parametrize(
    ('run', 'query'),
    [
        (
            {'branch_name': 'main', 'depth_level': 'deep', 'target_framework': 'go', 'variables': None},
            'branch=main&depth=deep&framework=go',
        ),
        (
            {'branch_name': 'feat/x y', 'depth_level': 'd', 'target_framework': 'f', 'variables': {'A': 'a&b=c'}},
            'branch=feat%2Fx+y&depth=d&framework=f&var%5BA%5D=a%26b%3Dc',
        ),
    ],
)
def test_run_again_query(run: dict, query: str) -> None:
    assert run_again_query(run) == query
    assert variables_from_query(parse_qsl(query)) == (run['variables'] or {})  # what the project page reads back


@pytest.mark.parametrize(
    ('items', 'variables'),
    [
        ([], {}),
        ([('branch', 'main'), ('var[A]', '1'), ('var[B]', 'x=y')], {'A': '1', 'B': 'x=y'}),
        ([('var[]', '1'), ('var[A', '1'), ('varA]', '1'), ('var', '1')], {}),  # not a variable's pair
        ([('var[A]', '1'), ('var[A]', '2')], {'A': '2'}),
    ],
)
def test_variables_from_query(items: list, variables: dict) -> None:
    assert variables_from_query(items) == variables


PROTECTS_MAIN = {'base_branch': 'main', 'protected_branches': None}
PROTECTS_RELEASES = {'base_branch': 'main', 'protected_branches': ['release/*']}


@pytest.mark.parametrize(
    ('project', 'branch', 'text', 'operator', 'refused'),
    [
        (PROTECTS_MAIN, 'main', 'BASH_ENV=/tmp/x', False, True),  # a builder, the base branch: said before Run
        (PROTECTS_MAIN, 'main', 'BASH_ENV=/tmp/x', True, False),  # an operator may
        (PROTECTS_MAIN, 'main', '\n  \n', False, False),  # no variables of its own
        (PROTECTS_MAIN, 'feature/a', 'A=1', False, False),  # not a protected branch
        (PROTECTS_RELEASES, 'release/1.0', 'A=1', False, True),  # the project's globs decide
        (PROTECTS_RELEASES, 'main', 'A=1', False, False),  # ... and then the base branch is not one
        (PROTECTS_MAIN, None, 'A=1', False, False),  # no branch chosen yet
    ],
)
def test_a_builders_own_variables_on_a_protected_branch_are_refused_before_run(
    project: dict, branch: str | None, text: str, operator: bool, refused: bool
) -> None:
    reason = own_variables_reason(project, branch, text, operator=operator)
    assert (reason is not None) is refused
    if reason:
        assert f'protected branch {branch}' in reason


PICKER = {'main': 'main  (base)', 'fix/flaky-test': 'fix/flaky-test', 'Feature/Login': 'Feature/Login  · busy: run_1'}


@pytest.mark.parametrize(
    ('typed', 'meant'),
    [
        ('fix/flaky-test', 'fix/flaky-test'),  # its name
        ('feature/login', 'Feature/Login'),  # its name in another case
        ('flaky', 'fix/flaky-test'),  # the first the picker shows for it
        ('LOGIN', 'Feature/Login'),
        ('busy', 'Feature/Login'),  # the label's marks are shown, so they match as the picker filters
        ('ma', 'main'),
        ('  flaky ', 'fix/flaky-test'),
        ('nothing', None),
        ('', None),
    ],
)
def test_the_branch_meant_by_what_was_typed(typed: str, meant: str | None) -> None:
    assert typed_branch(typed, PICKER) == meant


BRANCHES = [
    {'name': 'main', 'commit': 'a' * 40, 'committed_at': 1_764_417_600, 'subject': 'Fix the parser'},
    {'name': 'rtl', 'commit': 'b' * 40, 'committed_at': 0, 'subject': 'evil\u202etxt.exe'},
    {'name': 'kept'},  # the chosen branch kept past a search's matches: its head is not known here
]


@pytest.mark.parametrize(
    ('chosen', 'expected'),
    [
        ('main', BranchHead('aaaaaaa', 'Fix the parser', '2025-11-29T12:00:00+00:00')),
        ('rtl', BranchHead('bbbbbbb', 'evil[U+202E]txt.exe', None)),  # inert; no time when git gave none
        ('kept', None),
        ('gone', None),
        (None, None),
    ],
)
def test_the_forms_head_line_is_the_chosen_branchs_commit(chosen: str | None, expected: BranchHead | None) -> None:
    assert branch_head(BRANCHES, chosen) == expected
