"""`runboard afk on PROJECT` or `--project PROJECT`: which project a command about one project names
(app/cli/context.py)."""

from __future__ import annotations

import pytest
import typer

from app.cli.context import chosen_project


@pytest.mark.parametrize(
    ('argument', 'option', 'chosen'),
    [
        ('demo', None, 'demo'),
        (None, 'demo', 'demo'),
        ('demo', 'demo', 'demo'),  # said twice, the same: no harm
    ],
)
def test_the_project_comes_from_the_argument_or_the_option(
    argument: str | None, option: str | None, chosen: str
) -> None:
    assert chosen_project(argument, option) == chosen


@pytest.mark.parametrize(
    ('argument', 'option', 'says'),
    [
        (None, None, 'name the project'),
        ('demo', 'other', "two projects given: 'demo' and 'other'"),
    ],
)
def test_no_project_or_two_different_ones_is_a_usage_error(argument: str | None, option: str | None, says: str) -> None:
    with pytest.raises(typer.BadParameter, match=says):
        chosen_project(argument, option)
