"""The run page's annotations: the API lists the first 50, and a full list says so (table)."""

from __future__ import annotations

import pytest

from app.state.log_rows import annotations_note

FULL = (
    'The first 50 annotations are listed: any later ones are marked in the log only '
    '(search it for ::error, ::warning or ::notice).'
)


@pytest.mark.parametrize(('count', 'note'), [(0, None), (1, None), (49, None), (50, FULL)])
def test_a_full_list_says_more_may_be_in_the_log(count: int, note: str | None) -> None:
    assert annotations_note(count) == note
