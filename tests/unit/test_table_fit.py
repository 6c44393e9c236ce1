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
        (71, ['RUN', 'STATUS', 'BRANCH', 'CREATED', 'TOOK']),  # 57 + 8 = 65
        # USER, the first to go, fits again once the wider ones are gone: 65 + 5 + 2 = 72
        (72, ['RUN', 'STATUS', 'BRANCH', 'USER', 'CREATED', 'TOOK']),
        (60, ['RUN', 'STATUS', 'BRANCH', 'TOOK']),  # 49 + 6 = 55
        (40, ['RUN', 'STATUS', 'BRANCH', 'TOOK']),  # too wide even so: the kept columns stay, the line wraps
    ],
)
def test_columns_are_dropped_in_order_until_the_rest_fit_whole(available: int, shown: list[str]) -> None:
    assert list(fitting_columns(WIDTHS, available, DROP)) == shown


def test_a_column_not_in_the_list_is_never_dropped_and_the_order_is_kept() -> None:
    assert list(fitting_columns({'A': 10, 'B': 10, 'C': 10}, 5, ('A',))) == ['B', 'C']
    assert list(fitting_columns({'A': 10, 'B': 10, 'C': 10}, 34, ('B',))) == ['A', 'B', 'C']
    assert list(fitting_columns({'A': 10, 'B': 10, 'C': 10}, 33, ('B',))) == ['A', 'C']


# the demo's runs with a COMMIT cell of 21 (`8a856ee Demo pipeline`) that may be cut to 20, dropped after USER and KIND
COMMITTED = {**WIDTHS, 'COMMIT': 21}
COMMIT_DROP = ('USER', 'KIND', 'COMMIT', 'DEPTH/FRAMEWORK', 'PROJECT', 'CREATED')


@pytest.mark.parametrize(
    ('available', 'fitted'),
    [
        # 111 + 18 between ten columns: all whole
        (129, COMMITTED),
        # USER and KIND go first; COMMIT keeps its whole cell (30+9+7+6+15+8+4+21 = 100, + 14)
        (114, {name: width for name, width in COMMITTED.items() if name not in ('USER', 'KIND')}),
        # then COMMIT is cut, by the one character it may lose
        (
            113,
            {
                name: (20 if name == 'COMMIT' else width)
                for name, width in COMMITTED.items()
                if name not in ('USER', 'KIND')
            },
        ),
        # COMMIT cannot be cut further, so it goes; KIND fits again (91 + 6 + 2), then USER does not
        (100, {name: width for name, width in WIDTHS.items() if name != 'USER'}),
        # narrower still: DEPTH/FRAMEWORK goes after COMMIT, and nothing dropped fits back
        (80, {name: WIDTHS[name] for name in ('RUN', 'STATUS', 'PROJECT', 'BRANCH', 'CREATED', 'TOOK')}),
    ],
)
def test_a_column_that_may_be_cut_is_cut_before_it_is_dropped(available: int, fitted: dict[str, int]) -> None:
    assert fitting_columns(COMMITTED, available, COMMIT_DROP, {'COMMIT': 20}) == fitted


def test_a_column_that_may_be_cut_takes_the_room_left_up_to_its_widest_cell() -> None:
    widths = {'RUN': 10, 'COMMIT': 40}
    assert fitting_columns(widths, 40, ('COMMIT',), {'COMMIT': 20}) == {'RUN': 10, 'COMMIT': 28}
    assert fitting_columns(widths, 80, ('COMMIT',), {'COMMIT': 20}) == {'RUN': 10, 'COMMIT': 40}
    assert fitting_columns(widths, 31, ('COMMIT',), {'COMMIT': 20}) == {'RUN': 10}


def test_widths_are_the_widest_cell_or_the_header() -> None:
    widths = column_widths(('RUN', 'KIND'), [('run_1', 'manual'), ('run_22', 'retry')])
    assert widths == {'RUN': 6, 'KIND': 6}
    assert column_widths(('RUN',), []) == {'RUN': 3}
