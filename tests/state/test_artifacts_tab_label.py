"""The run page's Artifacts tab counts the files the run kept, and the refused ones apart (table)."""

from __future__ import annotations

import pytest

from app.state.artifacts_view import artifacts_tab_label


def files(kept: int, refused: int) -> list[dict]:
    return [{'path': f'k{i}', 'stored': True} for i in range(kept)] + [
        {'path': f'r{i}', 'stored': False, 'refused': 'over the limit'} for i in range(refused)
    ]


@pytest.mark.parametrize(
    ('kept', 'refused', 'label'),
    [
        (0, 0, 'Artifacts'),
        (3, 0, 'Artifacts (3)'),
        (2, 1, 'Artifacts (2 kept · 1 refused)'),  # not "Artifacts (3)": one of them was not kept
        (0, 2, 'Artifacts (0 kept · 2 refused)'),
    ],
)
def test_the_tab_counts_what_was_kept(kept: int, refused: int, label: str) -> None:
    assert artifacts_tab_label(files(kept, refused)) == label
