"""How an audit entry reads on the page, and its filters in the URL (tables)."""

from __future__ import annotations

import pytest

from app.models.vocabulary import AUDIT_ACTIONS
from app.services.identity.audit import AUDIT_GROUPS
from app.state.audit_view import GROUPS, VERBS, AuditFilters, action_choices, details_text, sentence, target_link


def entry(action: str, **fields) -> dict:  # noqa: ANN003
    return {'action': action, 'actor_name': 'ann', 'target': None, 'project_id': 'alpha', 'details': {}, **fields}


@pytest.mark.parametrize(
    'item, words, link',
    [
        (entry('run.stopped', target='run_01abc'), 'ann stopped run', ('run_01abc', '/runs/run_01abc')),
        (entry('project.updated', target='alpha'), 'ann changed project', ('alpha', '/projects/alpha')),
        (entry('project.deleted', target='alpha'), 'ann deleted project', ('alpha', None)),  # gone: no link
        (entry('afk.reset'), 'ann reset the AFK pause of', ('alpha', '/projects/alpha')),
        (entry('token.revoked', target='tok_1', project_id=None), 'ann revoked token', ('tok_1', None)),
        (entry('something.new', target='x'), 'ann something.new', ('x', None)),  # a newer server's action
        (entry('run.retried', target='run_2'), 'ann retried as run', ('run_2', '/runs/run_2')),
        (  # the project's rule retried ann's run, as ann: not ann's own act
            entry('run.retried', target='run_3', details={'retry_of': 'run_2', 'automatic': True}),
            "the project's auto-retry rule retried ann's run as run",
            ('run_3', '/runs/run_3'),
        ),
    ],
)
def test_an_entry_reads_as_a_sentence_with_its_target(item: dict, words: str, link: tuple) -> None:
    assert sentence(item) == words
    assert target_link(item) == link


@pytest.mark.parametrize(
    'details, text',
    [
        ({}, ''),
        (
            {'changed': {'max_concurrent_runs': 3, 'credentials': 'changed'}},
            'max_concurrent_runs → 3, credentials → changed',
        ),
        ({'branch': 'main', 'retry_of': 'run_1'}, 'branch: main, retry_of: run_1'),
        (
            {'name': 'CI', 'url': 'https://hooks.slack.com/…', 'changed': {'enabled': False}},
            'enabled → no, name: CI, url: https://hooks.slack.com/…',
        ),
        # lists and nulls as words, never Python's repr
        ({'events': ['run.failed', 'run.succeeded'], 'ttl': None}, 'events: run.failed run.succeeded, ttl: none'),
        ({'changed': {'runs_on': []}}, 'runs_on → none'),
    ],
)
def test_details(details: dict, text: str) -> None:
    assert details_text(entry('run.retried', details=details)) == text


def test_filters_round_trip_through_the_url() -> None:
    filters = AuditFilters(action='run', actor='ann', since='2026-11-01')
    assert filters.query() == {'action': 'run', 'actor': 'ann', 'since': '2026-11-01'}
    assert AuditFilters.from_query(filters.query()) == filters
    assert AuditFilters.from_query({'action': '  '}) == AuditFilters()


def test_every_action_the_log_records_reads_in_words_and_every_group_is_one_of_them() -> None:
    """The one list of actions is app/models/vocabulary.py's; the page's words follow it."""
    assert set(VERBS) == set(AUDIT_ACTIONS)
    assert {group for group in GROUPS if group} == {action.split('.')[0] for action in AUDIT_ACTIONS}


def test_the_action_filter_offers_every_group_and_action_the_api_takes_each_group_before_its_own() -> None:
    choices = action_choices()
    assert list(choices)[0] == '' and choices[''] == 'Any action'
    assert set(choices) - {''} == set(AUDIT_GROUPS) | set(AUDIT_ACTIONS)
    order = list(choices)
    for value in order[1:]:  # a group, a finer group or an action comes after the groups it is in
        parents = [value.rsplit('.', depth)[0] for depth in range(1, value.count('.') + 1)]
        assert all(order.index(parent) < order.index(value) for parent in parents), value


@pytest.mark.parametrize(
    'value, label',
    [
        ('run', 'Runs › any'),
        ('run.pull_request', 'Runs › pull request'),
        ('project.caches_cleared', 'Projects › caches cleared'),
        ('project.variable', 'Projects › variable › any'),
        ('project.secret.removed', 'Projects › secret › removed'),
        ('person.role_changed', 'People › role changed'),
    ],
)
def test_an_action_choice_reads_as_its_group_then_its_words(value: str, label: str) -> None:
    assert action_choices()[value] == label


def test_an_action_of_a_group_the_page_has_no_name_for_is_offered_by_its_own() -> None:
    assert action_choices(('run.stopped', 'robot.waved')) == {
        '': 'Any action',
        'run': 'Runs › any',
        'run.stopped': 'Runs › stopped',
        'robot': 'Robot › any',
        'robot.waved': 'Robot › waved',
    }
