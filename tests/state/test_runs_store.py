"""RunsStore: the optimistic lifecycle and live updates, as tables of cases (no I/O)."""

from __future__ import annotations

import copy
from urllib.parse import parse_qsl

import pytest

from app.state.runs_store import SUBMITTING, RunFilters, RunsStore, branch_runs_href, filter_choices


def run(run_id: str, status: str = 'queued', project: str = 'p', kind: str = 'manual', branch: str = 'main') -> dict:
    return {
        'id': run_id,
        'status': status,
        'project_id': project,
        'kind': kind,
        'branch_name': branch,
        'depth_level': 'shallow',
        'target_framework': 'python',
    }


PARAMS = {'project_id': 'p', 'branch': 'feature/x', 'depth_level': 'deep', 'target_framework': 'go'}


def store_with(*runs: dict, **kwargs) -> RunsStore:  # noqa: ANN003
    store = RunsStore(**kwargs)
    store.load(list(runs))
    return store


def test_begin_optimistic_snapshots_and_puts_a_submitting_row_on_top() -> None:
    store = store_with(run('r2'), run('r1'))
    before = copy.deepcopy(store.rows)
    token = store.begin_optimistic(PARAMS)
    assert store.rows[0]['status'] == SUBMITTING and store.rows[0]['optimistic'] == token
    assert store.rows[0]['branch_name'] == 'feature/x'
    assert store.rows[1:] == before
    assert store.prior_state(token) == before


@pytest.mark.parametrize(
    'live, expected_ids, expected_status',
    [
        ([], ['r2', 'r1'], {'r1': 'queued', 'r2': 'queued'}),
        ([run('r1', 'stopped')], ['r2', 'r1'], {'r1': 'stopped', 'r2': 'queued'}),  # re-applied, not lost
        ([run('r3')], ['r3', 'r2', 'r1'], {'r3': 'queued'}),  # someone else's new run stays
        ([run('r1', 'running'), run('r1', 'failed')], ['r2', 'r1'], {'r1': 'failed'}),  # the latest wins
    ],
)
def test_rollback_restores_prior_state_plus_live_updates(
    live: list[dict], expected_ids: list[str], expected_status: dict[str, str]
) -> None:
    store = store_with(run('r2'), run('r1'))
    token = store.begin_optimistic(PARAMS)
    for update in live:
        store.apply_event(update)
    store.rollback(token)
    assert [r['id'] for r in store.rows] == expected_ids
    assert not any(r.get('optimistic') for r in store.rows)
    for run_id, status in expected_status.items():
        assert next(r for r in store.rows if r['id'] == run_id)['status'] == status
    assert not store.in_flight


def test_rollback_without_live_updates_is_exactly_the_prior_list() -> None:
    store = store_with(run('r3', 'running'), run('r2', 'failed'), run('r1', 'succeeded'))
    before = copy.deepcopy(store.rows)
    token = store.begin_optimistic(PARAMS)
    store.rollback(token)
    assert store.rows == before


@pytest.mark.parametrize('event_first', [False, True])
def test_confirm_replaces_the_optimistic_row_with_one_real_row(event_first: bool) -> None:
    """The live event for the new run may arrive before the POST answer: still exactly one row."""
    store = store_with(run('r1'))
    token = store.begin_optimistic(PARAMS)
    created = run('r9', branch='feature/x')
    if event_first:
        store.apply_event(created)
    store.confirm(token, created)
    assert [r['id'] for r in store.rows] == ['r9', 'r1']
    assert not any(r.get('optimistic') for r in store.rows)


def test_confirm_of_a_replay_does_not_add_a_second_row() -> None:
    existing = run('r5', 'running')
    store = store_with(existing, run('r1'))
    token = store.begin_optimistic(PARAMS)
    store.confirm(token, existing)  # 200 Idempotent-Replayed: the run we already list
    assert [r['id'] for r in store.rows] == ['r5', 'r1']


def test_two_submits_in_flight_roll_back_independently() -> None:
    store = store_with(run('r1'))
    first = store.begin_optimistic(PARAMS)
    second = store.begin_optimistic({**PARAMS, 'branch': 'other'})
    store.rollback(first)
    assert [r.get('optimistic') for r in store.rows] == [second, None]
    store.confirm(second, run('r2'))
    assert [r['id'] for r in store.rows] == ['r2', 'r1']


@pytest.mark.parametrize(
    'filters, update, listed',
    [
        (RunFilters(status='queued'), run('r1', 'running'), False),  # left the filter: dropped
        (RunFilters(status='queued'), run('r7'), True),
        (RunFilters(project='p'), run('r7', project='q'), False),
        (RunFilters(kind='retry'), run('r7', kind='retry'), True),
        (RunFilters(kind='retry'), run('r7', kind='manual'), False),
        (RunFilters(branch='feature/x'), run('r7', branch='feature/x'), True),
        (RunFilters(branch='feature/x'), run('r7', branch='feature/xy'), False),  # exact, not a prefix
        (RunFilters(user='alice'), {**run('r7'), 'user_name': 'alice', 'user_id': 'usr_1'}, True),
        (RunFilters(user='usr_1'), {**run('r7'), 'user_name': 'alice', 'user_id': 'usr_1'}, True),
        (RunFilters(user='bob'), {**run('r7'), 'user_name': 'alice', 'user_id': 'usr_1'}, False),
    ],
)
def test_live_updates_respect_the_filters(filters: RunFilters, update: dict, listed: bool) -> None:
    store = store_with(run('r1'), filters=filters)
    store.apply_event(update)
    assert any(r['id'] == update['id'] for r in store.rows) is listed


def test_the_list_keeps_its_limit_newest_first() -> None:
    store = store_with(*[run(f'r{i}') for i in (5, 4, 3)], limit=3)
    store.apply_event(run('r6'))
    assert [r['id'] for r in store.rows] == ['r6', 'r5', 'r4']


def test_load_keeps_rows_in_flight_on_top() -> None:
    store = store_with(run('r1'))
    token = store.begin_optimistic(PARAMS)
    store.load([run('r2'), run('r1')])
    assert store.rows[0]['optimistic'] == token and [r['id'] for r in store.rows[1:]] == ['r2', 'r1']


@pytest.mark.parametrize(
    'filters, query',
    [
        (RunFilters(), {}),
        (RunFilters(project='p', status='failed'), {'project': 'p', 'status': 'failed'}),
        (RunFilters(kind='auto'), {'kind': 'auto'}),
    ],
)
def test_filters_encode_to_the_url_query(filters: RunFilters, query: dict) -> None:
    assert filters.query() == query


def test_older_pages_go_below_and_the_list_keeps_them() -> None:
    store = store_with(run('r5'), run('r4'), limit=2)
    store.has_more = True
    assert store.older_cursor == 'r4'
    store.append_older([run('r4'), run('r3'), run('r2')], has_more=False)  # r4 again: shown once
    assert [r['id'] for r in store.rows] == ['r5', 'r4', 'r3', 'r2']
    assert store.older_cursor is None  # nothing older
    store.apply_event(run('r6'))  # once older pages are loaded, a new run on top pushes none out
    assert [r['id'] for r in store.rows] == ['r6', 'r5', 'r4', 'r3', 'r2']


def test_the_older_cursor_is_the_oldest_row_shown_so_rows_pushed_out_are_read_again() -> None:
    store = store_with(run('r3'), run('r2'), limit=2)
    store.has_more = True
    store.apply_event(run('r4'))  # r2 falls off the bottom
    assert [r['id'] for r in store.rows] == ['r4', 'r3']
    assert store.older_cursor == 'r3'  # the next page starts after r3: r2 comes back
    token = store.begin_optimistic(PARAMS)
    assert store.older_cursor == 'r3' and store.rows[0]['optimistic'] == token


def test_older_rows_that_do_not_match_the_filters_are_left_out() -> None:
    store = store_with(run('r5', status='failed'), filters=RunFilters(status='failed'))
    store.append_older([run('r4', status='failed'), run('r3', status='succeeded')], has_more=True)
    assert [r['id'] for r in store.rows] == ['r5', 'r4']
    assert store.has_more


def test_filters_go_into_the_url_and_the_api_by_their_names() -> None:
    filters = RunFilters(project='p', status='failed', branch='feature/x', user='alice')
    assert filters.query() == {'project': 'p', 'status': 'failed', 'on': 'feature/x', 'by': 'alice'}
    assert filters.api_params() == {
        'project': 'p',
        'status': 'failed',
        'kind': None,
        'branch': 'feature/x',
        'user': 'alice',
        'since': None,
        'until': None,
        'q': None,
    }


@pytest.mark.parametrize(
    'filters, update, listed',
    [
        (RunFilters(q='LOGIN'), run('r7', branch='feature/login'), True),  # substring, any case
        (RunFilters(q='r7'), run('r7'), True),  # the run id
        (RunFilters(q='flaky'), {**run('r7'), 'issue_title': 'Fix flaky test'}, True),  # the issue title
        (RunFilters(q='login'), run('r7', branch='main'), False),
        (RunFilters(since='2026-11-20'), {**run('r7'), 'created_at': '2026-11-20T00:00:01'}, True),
        (RunFilters(since='2026-11-20'), {**run('r7'), 'created_at': '2026-11-19T23:59:59'}, False),
        (RunFilters(until='2026-11-20'), {**run('r7'), 'created_at': '2026-11-20T23:59:59'}, True),  # the whole day
        (RunFilters(until='2026-11-20'), {**run('r7'), 'created_at': '2026-11-21T00:00:00'}, False),
    ],
)
def test_live_updates_respect_search_and_the_date_range(filters: RunFilters, update: dict, listed: bool) -> None:
    test_live_updates_respect_the_filters(filters, update, listed)


@pytest.mark.parametrize(
    'filters',
    [
        RunFilters(),
        RunFilters(project='p', status='failed', kind='auto'),
        RunFilters(branch='feature/x', user='alice', since='2026-11-01', until='2026-11-22', q='login'),
    ],
)
def test_the_url_query_reads_back_to_the_same_filters(filters: RunFilters) -> None:
    assert RunFilters.from_query(filters.query()) == filters


def test_a_project_page_pins_its_project_whatever_the_query_says() -> None:
    assert RunFilters.from_query({'project': 'other', 'q': ' x '}, project='p') == RunFilters(project='p', q='x')


def test_a_new_retry_links_the_row_of_the_run_it_retries() -> None:
    store = store_with(run('r1', 'failed'))
    store.apply_event({**run('r2', kind='retry'), 'retry_of': 'r1'})
    store.apply_event({**run('r2', 'running', kind='retry'), 'retry_of': 'r1'})  # the same retry again: once
    assert store.rows[1]['retried_by'] == ['r2']


def afk_run(run_id: str, status: str = 'queued', issue: int = 1, project: str = 'p') -> dict:
    return {**run(run_id, status, project=project, kind='auto'), 'issue_number': issue}


def test_a_new_afk_run_on_an_issue_shows_on_the_older_afk_runs_rows_on_it() -> None:
    """The loop takes a crashed run's issue up again: the crashed row says so (and offers no Retry the server
    would refuse) without a read of it, as the server would answer it (issue_taken_up_by)."""
    store = store_with(
        afk_run('a3', 'failed', issue=2), afk_run('a2', 'crashed'), afk_run('a1', 'crashed', project='q'), run('m1')
    )
    store.apply_event(afk_run('a4'))
    taken_up = {row['id']: row.get('issue_taken_up_by') for row in store.rows}
    assert taken_up == {'a4': None, 'a3': None, 'a2': 'a4', 'a1': None, 'm1': None}
    store.apply_event(afk_run('a4', 'running'))  # its next change: a4 still the newest
    store.apply_event(afk_run('a0'))  # an older run's change never undoes a newer link
    assert {row['id']: row.get('issue_taken_up_by') for row in store.rows}['a2'] == 'a4'


def test_an_update_of_a_run_on_an_older_page_not_loaded_yet_waits_for_that_page() -> None:
    store = store_with(run('r5'), run('r4'), limit=2)
    store.has_more = True
    store.apply_event(run('r2', 'succeeded'))  # r2 is below the page shown: not inserted out of place
    assert [r['id'] for r in store.rows] == ['r5', 'r4']
    store.append_older([run('r3'), run('r2', 'succeeded')], has_more=False)
    store.apply_event(run('r1', 'failed'))  # nothing older left to load: an update lists it
    assert [r['id'] for r in store.rows] == ['r5', 'r4', 'r3', 'r2', 'r1']


@pytest.mark.parametrize(
    ('run', 'shown'),
    [
        ({'status': 'delayed', 'approval': 'waiting'}, True),
        ({'status': 'delayed', 'approval': 'approved'}, False),  # approved: due, no longer the operator's to act on
        ({'status': 'delayed', 'approval': None}, False),  # delayed to a time of its own
        ({'status': 'queued', 'approval': 'waiting'}, False),  # a stale copy once the run moved on
    ],
)
def test_the_awaiting_approval_filter_keeps_only_the_runs_an_operator_must_approve(run: dict, shown: bool) -> None:
    created = {'id': 'run_1', 'created_at': '2026-11-27T12:00:00Z', 'branch_name': 'main', 'project_id': 'p'}
    assert RunFilters(status='awaiting_approval').matches({**created, **run}) is shown


@pytest.mark.parametrize(
    ('value', 'added'),
    [
        (None, None),
        ('', None),
        ('failed', None),  # one of them
        ('gone', 'gone (unknown)'),  # a deleted project in a bookmark, a mistyped status: kept, said unknown
    ],
)
def test_a_filters_choices_keep_a_value_from_the_address(value: str | None, added: str | None) -> None:
    options = {'': 'Any status', 'failed': 'failed'}
    assert filter_choices(options, value) == ({**options, value: added} if added and value else options)


@pytest.mark.parametrize(
    ('project_id', 'branch', 'href'),
    [
        ('demo', 'main', '/projects/demo?on=main'),
        ('demo', 'feature/login', '/projects/demo?on=feature%2Flogin'),
        # a branch name is the run's, not the page's: & # ? and spaces stay inside the one parameter
        ('demo', 'a&b=c#d?e f', '/projects/demo?on=a%26b%3Dc%23d%3Fe+f'),
    ],
)
def test_a_runs_branch_links_to_the_branchs_runs(project_id: str, branch: str, href: str) -> None:
    assert branch_runs_href(project_id, branch) == href
    assert RunFilters.from_query(dict(parse_qsl(href.split('?', 1)[1]))).branch == branch


@pytest.mark.parametrize(
    ('read_for', 'applied'),
    [
        (None, True),  # no filters named: the page is for the list as it is
        (RunFilters(status='failed'), True),  # read for the filters the list has now
        (RunFilters(), False),  # read before the status filter was chosen: its answer is the old list's
        (RunFilters(status='failed', q='login'), False),  # read for filters chosen and changed again since
    ],
)
def test_a_page_read_for_other_filters_than_the_lists_is_left_out(read_for: RunFilters | None, applied: bool) -> None:
    # the stream's read-again started with the old filters answers after the read for the new ones: applied, it would
    # show the old list, or empty it (its rows no longer match) under an error the new filters' read showed
    store = store_with(run('r2', status='failed'), filters=RunFilters(status='failed'))
    page = [run('r3', status='failed'), run('r1', status='succeeded')]
    assert store.load(page, read_for=read_for) is applied
    assert [r['id'] for r in store.rows] == (['r3'] if applied else ['r2'])
    assert store.append_older([run('r0', status='failed')], has_more=False, read_for=read_for) is applied
    assert [r['id'] for r in store.rows] == (['r3', 'r0'] if applied else ['r2'])
