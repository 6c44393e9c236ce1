"""Whose tokens a person may create and revoke (app/core/token_rules.py: the server refuses by it, the tokens page
offers by it), and whose tokens revoking by a name takes (services/identity/tokens.person_by_name), as tables."""

from __future__ import annotations

import pytest

from app.core.errors import Refusal
from app.core.token_rules import TokenRefusal, token_management_refusal
from app.services.identity.tokens import person_by_name


@pytest.mark.parametrize(
    ('caller_is_operator', 'is_self', 'in_other_teams', 'is_admin', 'caller_is_admin', 'refusal'),
    [
        # an operator, for someone else: only in the caller's teams
        (True, False, False, False, False, None),
        (True, False, False, False, True, None),
        # a token acts in all of its person's teams: the caller has no say in the other one
        (True, False, True, False, False, 'other_team'),
        (True, False, True, False, True, 'other_team'),  # a deployment administrator neither
        (True, False, True, True, True, 'other_team'),
        # an administrator's tokens: another administrator's to manage
        (True, False, False, True, False, 'admin'),
        (True, False, False, True, True, None),
        # everyone's own tokens are theirs (a token acts as its person, with their role: no escalation)
        (True, True, False, False, False, None),
        (True, True, False, True, True, None),  # an administrator operator
        (False, True, False, False, False, None),  # a builder
        (False, True, False, True, True, None),  # a builder who is a deployment administrator
        # a builder manages nobody else's, whatever the facts
        (False, False, False, False, False, 'not_yours'),
        (False, False, False, False, True, 'not_yours'),
        (False, False, True, False, False, 'not_yours'),
        (False, False, False, True, True, 'not_yours'),
    ],
)
def test_who_may_create_and_revoke_whose_tokens(
    caller_is_operator: bool,
    is_self: bool,
    in_other_teams: bool,
    is_admin: bool,
    caller_is_admin: bool,
    refusal: TokenRefusal | None,
) -> None:
    answer = token_management_refusal(
        caller_is_operator=caller_is_operator,
        is_self=is_self,
        in_other_teams=in_other_teams,
        is_admin=is_admin,
        caller_is_admin=caller_is_admin,
    )
    assert answer == refusal


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
