"""Which columns of the CLI's runs table fit a terminal (app/cli/table_fit.py)."""

from __future__ import annotations

import pytest

from app.cli.table_fit import column_widths, fitting_columns

# widths as a run of the demo project has them: 30 + 9 + 7 + 6 + 15 + 6 + 5 + 8 + 4, and 2 between columns
WIDTHS = {
    'RUN': 30,
    'STATUS': 9,
    'PROJECT': 7,
    'BRANCH': 6,
    'DEPTH/FRAMEWORK': 15,
    'KIND': 6,
    'USER': 5,
    'CREATED': 8,
    'TOOK': 4,
}
DROP = ('USER', 'KIND', 'DEPTH/FRAMEWORK', 'PROJECT', 'CREATED')
EVERY = list(WIDTHS)


@pytest.mark.parametrize(
    ('available', 'shown'),
    [
        (106, EVERY),  # 90 + 16
        (200, EVERY),
        (105, [c for c in EVERY if c != 'USER']),
        (99, [c for c in EVERY if c != 'USER']),  # 85 + 14 = 99
        (96, [c for c in EVERY if c not in ('USER', 'KIND')]),  # 79 + 12 = 91
        (80, ['RUN', 'STATUS', 'PROJECT', 'BRANCH', 'CREATED', 'TOOK']),  # 64 + 10 = 74
        (72, ['RUN', 'STATUS', 'BRANCH', 'CREATED', 'TOOK']),  # 57 + 8 = 65
        (60, ['RUN', 'STATUS', 'BRANCH', 'TOOK']),  # 49 + 6 = 55
        (40, ['RUN', 'STATUS', 'BRANCH', 'TOOK']),  # too wide even so: the kept columns stay, the line wraps
    ],
)
def test_columns_are_dropped_in_order_until_the_rest_fit_whole(available: int, shown: list[str]) -> None:
    assert fitting_columns(WIDTHS, available, DROP) == shown


def test_a_column_not_in_the_list_is_never_dropped_and_the_order_is_kept() -> None:
    assert fitting_columns({'A': 10, 'B': 10, 'C': 10}, 5, ('A',)) == ['B', 'C']
    assert fitting_columns({'A': 10, 'B': 10, 'C': 10}, 34, ('B',)) == ['A', 'B', 'C']
    assert fitting_columns({'A': 10, 'B': 10, 'C': 10}, 33, ('B',)) == ['A', 'C']


def test_widths_are_the_widest_cell_or_the_header() -> None:
    widths = column_widths(('RUN', 'KIND'), [('run_1', 'manual'), ('run_22', 'retry')])
    assert widths == {'RUN': 6, 'KIND': 6}
    assert column_widths(('RUN',), []) == {'RUN': 3}
