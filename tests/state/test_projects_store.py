"""A project card's last run (app/state/projects_store.py): pure table tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.ids import new_run_id
from app.state.projects_store import last_run

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
