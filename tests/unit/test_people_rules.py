"""The rules of managing people, as tables: which teams `runboard users add` makes (services/identity/
people.teams_to_make: a team nobody made is refused unless --new-team, except the first team of an empty database);
whose role an operator may change and whom they may remove from their teams, and which teams a demotion or a
removal would leave without an operator (app/core/people_rules.py, read by the server and the People page)."""

from __future__ import annotations

import pytest

from app.core.errors import Refusal
from app.core.people_rules import (
    last_admin_refusal,
    last_operator_refusal,
    removal_refusal,
    role_change_refusal,
    teams_left_without_operator,
)
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


@pytest.mark.parametrize(
    ('caller_is_operator', 'is_self', 'in_other_teams', 'is_admin', 'caller_is_admin', 'refusal'),
    [
        (True, False, False, False, False, None),  # an operator, someone of their teams only
        (True, True, False, False, False, None),  # an operator demoting themselves (the last-operator rule still holds)
        (True, True, False, True, False, None),  # ... an administrator too: their own role
        (False, True, False, False, False, 'not_yours'),  # a builder may not make themselves an operator
        (False, False, False, False, False, 'not_yours'),
        (True, False, True, False, False, 'other_team'),  # a role holds in their other team too
        (True, False, True, False, True, 'other_team'),  # ... whoever asks
        (True, False, False, True, False, 'admin'),  # an administrator's role: another administrator's to change
        (True, False, False, True, True, None),
    ],
)
def test_whose_role_an_operator_may_change(
    caller_is_operator: bool, is_self: bool, in_other_teams: bool, is_admin: bool, caller_is_admin: bool, refusal: str
) -> None:
    assert (
        role_change_refusal(
            caller_is_operator=caller_is_operator,
            is_self=is_self,
            in_other_teams=in_other_teams,
            is_admin=is_admin,
            caller_is_admin=caller_is_admin,
        )
        == refusal
    )


@pytest.mark.parametrize(
    ('caller_is_operator', 'is_admin', 'caller_is_admin', 'refusal'),
    [
        (True, False, False, None),  # also someone in a team the caller is not in: only the caller's teams lose them
        (False, False, False, 'not_yours'),  # builders remove nobody, themselves neither
        (True, True, False, 'admin'),  # a deployment administrator: only another one
        (True, True, True, None),
        (False, True, True, 'not_yours'),
    ],
)
def test_whom_an_operator_may_remove_from_their_teams(
    caller_is_operator: bool, is_admin: bool, caller_is_admin: bool, refusal: str | None
) -> None:
    answer = removal_refusal(caller_is_operator=caller_is_operator, is_admin=is_admin, caller_is_admin=caller_is_admin)
    assert answer == refusal


OPERATORS = {'red': {'ann'}, 'blue': {'ann', 'ben'}, 'green': set(), 'grey': {'cy'}}


@pytest.mark.parametrize(
    ('person', 'role', 'role_after', 'teams', 'stuck'),
    [
        ('ann', 'operator', 'builder', ['red', 'blue'], ['red']),  # red's only operator; blue keeps ben
        ('ann', 'operator', None, ['red', 'blue'], ['red']),  # leaving: the same count
        ('ann', 'operator', None, ['blue'], []),  # removed from blue alone: red is not touched
        ('ben', 'operator', 'builder', ['blue'], []),  # ann stays blue's operator
        ('ann', 'operator', 'operator', ['red'], []),  # no change
        ('bo', 'builder', None, ['red', 'green'], []),  # a builder leaving takes no operator away
        ('bo', 'builder', 'operator', ['green'], []),  # a promotion neither
        ('cy', 'operator', 'builder', ['grey', 'green'], ['grey']),  # green had none already: not this change's doing
        ('cy', 'operator', None, [], []),
    ],
)
def test_which_teams_a_demotion_or_a_removal_leaves_without_an_operator(
    person: str, role: str, role_after: str | None, teams: list[str], stuck: list[str]
) -> None:
    found = teams_left_without_operator(
        person_id=person, role=role, role_after=role_after, teams=teams, operators=OPERATORS
    )
    assert found == stuck


@pytest.mark.parametrize(
    ('leaving', 'is_self', 'said'),
    [
        (
            False,
            False,
            'ann is the last operator of blue, red: make someone else an operator there first, then ann '
            'can become a builder',
        ),
        (
            False,
            True,
            'you are the last operator of blue, red: make someone else an operator there first, then you '
            'can become a builder',
        ),
        (
            True,
            False,
            'ann is the last operator of blue, red: make someone else an operator there first, then ann can be removed',
        ),
        (
            True,
            True,
            'you are the last operator of blue, red: make someone else an operator there first, then you can leave',
        ),
    ],
)
def test_the_last_operator_refusal_says_which_teams_and_what_to_do(leaving: bool, is_self: bool, said: str) -> None:
    refusal = last_operator_refusal('ann', ['red', 'blue'], leaving=leaving, is_self=is_self)
    assert refusal is not None
    assert (refusal.status, refusal.error, refusal.detail, refusal.extra) == (
        409,
        'last_operator',
        said,
        {'teams': ['blue', 'red']},
    )
    assert last_operator_refusal('ann', [], leaving=leaving, is_self=is_self) is None


@pytest.mark.parametrize(
    ('is_admin', 'role', 'role_after', 'leaves_every_team', 'others', 'refused'),
    [
        (True, 'operator', 'builder', False, 0, True),  # the last administrator who is an operator: not demoted
        (True, 'operator', 'builder', False, 1, False),  # another one is left
        (True, 'operator', 'operator', False, 0, False),  # the same role: nothing changes
        (True, 'operator', None, True, 0, True),  # removed from their last team: their tokens would go
        (True, 'operator', None, False, 0, False),  # still in a team of theirs: still an administrator who acts
        (True, 'builder', None, True, 0, False),  # an administrator who is a builder manages nobody anyway
        (False, 'operator', 'builder', False, 0, False),  # not an administrator: the team rule decides
    ],
)
def test_the_deployment_keeps_an_administrator_who_is_an_operator(
    is_admin: bool, role: str, role_after: str | None, leaves_every_team: bool, others: int, refused: bool
) -> None:
    found = last_admin_refusal(
        'ada',
        is_admin=is_admin,
        role=role,
        role_after=role_after,
        leaves_every_team=leaves_every_team,
        other_admin_operators=others,
    )
    assert (found is not None) == refused
    if found is not None:
        assert (found.status, found.error) == (409, 'last_admin')
        assert 'runboard users add NAME --team TEAM --role operator --admin' in found.detail
