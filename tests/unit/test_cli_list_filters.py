"""`runs list --status / --kind` (app/cli/list_filters.py): the values the CLI sends, and the mistyped ones it
refuses before sending anything. Pure table tests."""

from __future__ import annotations

import pytest
import typer

from app.cli.list_filters import kind_to_list, statuses_to_list


@pytest.mark.parametrize(
    ('given', 'sent'),
    [
        (None, []),
        (['failed'], ['failed']),
        (['failed,crashed'], ['failed', 'crashed']),  # comma-separated
        (['failed', 'timed_out'], ['failed', 'timed_out']),  # repeated
        (['failed, crashed,'], ['failed', 'crashed']),  # spaces and a trailing comma forgiven
        (['awaiting_approval'], ['awaiting_approval']),  # not a run's status, but a filter the API takes
        (['cancelled', 'expired,skipped'], ['cancelled', 'expired', 'skipped']),
    ],
)
def test_known_statuses_are_sent_as_given(given: list[str] | None, sent: list[str]) -> None:
    assert statuses_to_list(given) == sent


@pytest.mark.parametrize(
    ('given', 'says'),
    [
        (['faild'], "'faild' is not one of: queued, running, succeeded, failed"),  # a typo is not "no runs"
        (['failed,bogus'], "'bogus' is not one of"),
        (['FAILED'], "'FAILED' is not one of"),  # the API's values are lower case
        (['succeeded', 'sucess', 'x'], "'sucess', 'x' is not one of"),  # every unknown one named
    ],
)
def test_unknown_statuses_are_a_usage_error_naming_the_known_ones(given: list[str], says: str) -> None:
    with pytest.raises(typer.BadParameter, match=says) as refused:
        statuses_to_list(given)
    assert 'awaiting_approval' in str(refused.value) and refused.value.param_hint == '--status'


@pytest.mark.parametrize(
    ('given', 'sent'),
    [
        (None, None),
        ('', None),  # `--kind "$KIND"` with KIND empty: any kind, as before
        ('retry', 'retry'),
        ('pull_request', 'pull_request'),
    ],
)
def test_known_kinds_are_sent_as_given(given: str | None, sent: str | None) -> None:
    assert kind_to_list(given) == sent


@pytest.mark.parametrize('given', ['manaul', 'pr', 'schedule', 'Manual'])
def test_unknown_kinds_are_a_usage_error_naming_the_known_ones(given: str) -> None:
    with pytest.raises(typer.BadParameter, match='is not one of: manual, retry, auto, scheduled, push, pull_request'):
        kind_to_list(given)
