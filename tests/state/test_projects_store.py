"""A project card's last run (app/state/projects_store.py): pure table tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.ids import new_run_id
from app.state.projects_store import (
    CardView,
    ProjectsStore,
    last_run,
    pause_causes,
    shows_auto_chip,
    who_resets_text,
)

RAN = {'id': new_run_id(), 'status': 'succeeded'}
NOW = datetime.now(UTC)
# a delayed run cancelled before it was due: its id is its due time, an hour from now
CANCELLED = {'id': new_run_id(at=NOW + timedelta(hours=1)), 'status': 'stopped'}
LATER = {'id': new_run_id(at=NOW + timedelta(hours=2)), 'status': 'stopped'}


@pytest.mark.parametrize(
    ('newest', 'shown'),
    [
        ([CANCELLED, RAN], RAN),  # the run that ran after it was cancelled, not the cancelled one
        ([LATER, CANCELLED, RAN], RAN),
        ([RAN], RAN),
        ([CANCELLED], CANCELLED),  # nothing else in reach: what there is
        ([], None),
    ],
)
def test_a_cards_last_run_is_the_newest_that_was_due(newest: list[dict], shown: dict | None) -> None:
    assert last_run(newest, NOW) == shown


TODAY = datetime.now(UTC).date().isoformat()


def card(**project: object) -> CardView:
    return CardView(project={'id': 'p', 'auto_enabled': True, **project})


@pytest.mark.parametrize(
    ('view', 'chip', 'builder_line'),
    [
        (card(), True, None),
        (card(auto_enabled=False), True, None),  # "Auto off", grey
        (card(paused=True), False, 'It resumes when an operator resets it.'),  # the failures' pause
        # the daily cost cap holds it: "Auto paused" says so, the green chip does not contradict it
        (card(afk_cost_cap_usd_per_day=3.5, afk_cost_capped_on=TODAY), False, None),
        (card(paused=True, auto_enabled=False), True, 'It resumes when an operator resets it.'),
    ],
)
def test_a_held_loop_shows_no_green_chip_and_tells_a_builder_who_resets_it(
    view: CardView, chip: bool, builder_line: str | None
) -> None:
    assert shows_auto_chip(view) is chip
    assert who_resets_text(view, operator=False) == builder_line
    assert who_resets_text(view, operator=True) is None  # an operator's card has Reset


def _failed(number: int, **run: object) -> dict:
    return {'status': 'failed', 'issue_number': number, 'issue_title': f'issue {number}', 'exit_code': 1, **run}


@pytest.mark.parametrize(
    ('newest_failed', 'shown'),
    [
        ([_failed(6), _failed(5), _failed(4)], ['#6', '#5', '#4']),
        # a launch failure between them counted nothing: the card lists the three that paused the loop
        (
            [_failed(7), _failed(6, error='launch_failed: could not start checkout: git fetch failed'), _failed(5)]
            + [_failed(4), _failed(3)],
            ['#7', '#5', '#4'],
        ),
        ([_failed(2, error='launch_failed: could not start agent')], []),
        ([_failed(3, error='engine error: the worker lost its database'), _failed(2)], ['#2']),  # neutral as well
        (
            [{'status': 'timed_out', 'issue_number': 9, 'issue_title': 't', 'error': 'the run reached its run budget'}],
            ['#9'],
        ),
        ([], []),
    ],
)
def test_a_paused_card_lists_the_failures_that_paused_it(newest_failed: list[dict], shown: list[str]) -> None:
    assert [cause.split(' ')[0] for cause in pause_causes(newest_failed)] == shown


class OneProjectClient:
    """The calls a project page's store makes; any call for every project fails the test."""

    def __init__(self) -> None:
        self.run_queries: list[dict] = []

    async def list_projects(self) -> list[dict]:
        raise AssertionError('the project page reads its own project, not every project the person sees')

    async def get_project(self, project_id: str) -> dict:
        return {'id': project_id, 'auto_enabled': True, 'paused': True, 'consecutive_failures': 3, 'active_runs': 1}

    async def list_runs(self, **query: object) -> dict:
        self.run_queries.append(query)
        if query.get('status') == 'running':
            run = {
                'id': 'run_1',
                'project_id': query['project'],
                'status': 'running',
                'kind': 'auto',
                'issue_number': 7,
            }
            return {'items': [run, {**run, 'id': 'run_2', 'kind': 'manual', 'issue_number': None}]}
        if query.get('kind') == 'auto':
            return {'items': [_failed(6), _failed(5), _failed(4)]}
        return {'items': []}


async def test_a_project_pages_store_reads_that_project_with_its_running_runs_and_pause_causes() -> None:
    client = OneProjectClient()
    store = ProjectsStore(client, project_id='flaky')  # type: ignore[arg-type]  # the calls it makes, no server
    await store.load()
    view = store.card('flaky')
    assert view is not None and [c.id for c in store.cards] == ['flaky']
    assert view.status == 'paused' and view.running == 2 and view.running_issues == [7]  # the AFK run's issue
    assert [cause.split(' ')[0] for cause in view.failure_causes] == ['#6', '#5', '#4']
    assert all(query.get('project') == 'flaky' for query in client.run_queries)  # no other project's runs
