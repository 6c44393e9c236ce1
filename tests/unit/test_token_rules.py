"""Whose tokens an operator may create and revoke (app/core/token_rules.py: the server refuses by it, the People page
offers by it), and whose tokens revoking by a name takes (services/identity/tokens.person_by_name), as tables."""

from __future__ import annotations

import pytest

from app.core.errors import Refusal
from app.core.token_rules import TokenRefusal, token_management_refusal
from app.services.identity.tokens import person_by_name


@pytest.mark.parametrize(
    ('in_other_teams', 'is_admin', 'caller_is_admin', 'refusal'),
    [
        (False, False, False, None),  # only in the caller's teams
        (False, False, True, None),
        # a token acts in all of its person's teams: the caller has no say in the other one
        (True, False, False, 'other_team'),
        (True, False, True, 'other_team'),  # a deployment administrator neither
        (True, True, True, 'other_team'),
        # an administrator's tokens: another administrator's to manage
        (False, True, False, 'admin'),
        (False, True, True, None),
    ],
)
def test_whose_tokens_an_operator_manages(
    in_other_teams: bool, is_admin: bool, caller_is_admin: bool, refusal: TokenRefusal | None
) -> None:
    assert (
        token_management_refusal(in_other_teams=in_other_teams, is_admin=is_admin, caller_is_admin=caller_is_admin)
        == refusal
    )


@pytest.mark.parametrize(
    ('people', 'chosen', 'status', 'error', 'words'),
    [
        # the one person of the name the caller manages; others of the name are left alone
        ([('usr_a', None)], 'usr_a', None, None, None),
        ([('usr_a', None), ('usr_b', 'other_team')], 'usr_a', None, None, None),
        ([('usr_b', 'admin'), ('usr_a', None), ('usr_c', 'other_team')], 'usr_a', None, None, None),
        # nobody of that name in the caller's teams
        ([], None, 404, 'not_found', "no one named 'sam'"),
        # nobody of the name the caller manages: the reason
        ([('usr_b', 'other_team')], None, 403, 'forbidden', 'sam is also in a team you are not in'),
        ([('usr_b', 'admin')], None, 403, 'forbidden', 'sam is a deployment administrator'),
        ([('usr_b', 'other_team'), ('usr_c', 'admin')], None, 403, 'forbidden', 'none of the 2 people named sam'),
        # several the caller manages: a name cannot say which
        ([('usr_a', None), ('usr_b', None)], None, 409, 'ambiguous_name', '2 people named sam'),
        ([('usr_a', None), ('usr_b', None), ('usr_c', 'admin')], None, 409, 'ambiguous_name', 'runboard tokens revoke'),
    ],
)
def test_whose_tokens_revoking_by_a_name_takes(
    people: list[tuple[str, TokenRefusal | None]],
    chosen: str | None,
    status: int | None,
    error: str | None,
    words: str | None,
) -> None:
    answer = person_by_name('sam', people)
    if chosen is not None:
        assert answer == chosen
        return
    assert isinstance(answer, Refusal)
    assert (answer.status, answer.error) == (status, error)
    assert words is not None and words in answer.detail
    if status == 403:
        assert answer.extra['reason'] == next(refusal for _, refusal in people if refusal)
    if status == 409:
        assert answer.field == 'user' and answer.extra['user_ids'] == [user for user, refusal in people if not refusal]
