"""Which teams `runboard users add` makes (services/identity/people.teams_to_make), as a table: a team nobody made
is refused unless --new-team, except the first team of an empty database."""

from __future__ import annotations

import pytest

from app.core.errors import Refusal
from app.services.identity.people import teams_to_make


@pytest.mark.parametrize(
    ('named', 'existing', 'new_team', 'made'),
    [
        (['core'], ['core', 'local'], False, []),  # all there: nothing to make
        (['core'], ['core'], True, []),
        (['core'], [], False, ['core']),  # a fresh database: its first team (the first admin's)
        (['core', 'red', 'core'], [], False, ['core', 'red']),  # each once, in the order named
        (['core', 'red'], ['core'], True, ['red']),  # --new-team: only the missing one
        (['cor'], ['core', 'local'], False, None),  # a typo: refused, not a team of its own
        (['core', 'red'], ['core'], False, None),  # one unknown of several: nothing made
    ],
)
def test_a_team_nobody_made_is_refused_unless_new_team_or_the_first(
    named: list[str], existing: list[str], new_team: bool, made: list[str] | None
) -> None:
    answer = teams_to_make(named, existing, new_team=new_team)
    if made is not None:
        assert answer == made
    else:
        assert isinstance(answer, Refusal) and (answer.status, answer.error, answer.field) == (
            422,
            'unknown_team',
            'team',
        )


def test_the_refusal_names_the_unknown_team_and_the_teams_there_are() -> None:
    refused = teams_to_make(['cor'], ['local', 'core'], new_team=False)
    assert isinstance(refused, Refusal)
    assert refused.detail == "no team 'cor' (the teams: core, local)"
    many = teams_to_make(['x'], [f't{n:02}' for n in range(12)], new_team=False)
    assert isinstance(many, Refusal) and many.detail.endswith('t09 and 2 more)')
