"""Whom an operator may change the role of and remove from their teams, and the rule every team keeps (at least one
operator), where the server and the People page both read them: the server refuses by them (403 with `reason`,
409 `last_operator`), and the page offers Change role and Remove from team, or says why not, by the same answers.

A role is the person's in every team they are in (`User.role`), so changing it is managed like their tokens
(`token_rules.token_management_refusal`): not for someone also in a team the caller is not in, nor for a deployment
administrator unless the caller is one. Removing touches only the caller's teams, so someone also in another team may
be removed from the caller's (that team keeps them); a deployment administrator only by another one."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

from app.core.errors import Refusal
from app.core.token_rules import TokenRefusal, token_management_refusal

OPERATOR = 'operator'
RemovalRefusal = Literal['not_yours', 'admin']


def role_change_refusal(
    *, caller_is_operator: bool, is_self: bool, in_other_teams: bool, is_admin: bool, caller_is_admin: bool
) -> TokenRefusal | None:
    """Pure: why the caller may not change this person's role (None: they may), by the tokens' rule. A builder
    changes nobody's, their own neither (a builder making themselves an operator would be the escalation the role
    exists to prevent); the rule's "one's own is one's own" does not hold here."""
    if not caller_is_operator:
        return 'not_yours'
    return token_management_refusal(
        caller_is_operator=True,
        is_self=is_self,
        in_other_teams=in_other_teams,
        is_admin=is_admin,
        caller_is_admin=caller_is_admin,
    )


def removal_refusal(*, caller_is_operator: bool, is_admin: bool, caller_is_admin: bool) -> RemovalRefusal | None:
    """Pure: why the caller may not remove this person from the teams the two share (None: they may). Operators
    remove, themselves too; a deployment administrator only another administrator. Being also in a team the caller is
    not in is no reason: only the caller's teams lose them."""
    if not caller_is_operator:
        return 'not_yours'
    if is_admin and not caller_is_admin:
        return 'admin'
    return None


def teams_left_without_operator(
    *,
    person_id: str,
    role: str,
    role_after: str | None,
    teams: Collection[str],
    operators: Mapping[str, Collection[str]],
) -> list[str]:
    """Pure: which of `teams` would have no operator left if the person (now `role`) became `role_after` in them
    (None: left them), given each team's operators now (user ids). Only an operator becoming a builder, or leaving,
    can leave a team without one; a team that has none already is no business of this change."""
    if role != OPERATOR or role_after == OPERATOR:
        return []
    return sorted(team for team in set(teams) if person_id in operators.get(team, ()) and len(operators[team]) == 1)


def last_operator_refusal(name: str, teams: Collection[str], *, leaving: bool, is_self: bool) -> Refusal | None:
    """Pure: the 409 for a change that would leave these teams without an operator (None when no team would be)."""
    if not teams:
        return None
    listed = ', '.join(sorted(teams))
    who = 'you are' if is_self else f'{name} is'
    what = 'leave' if leaving and is_self else 'be removed' if leaving else 'become a builder'
    subject = 'you' if is_self else name
    return Refusal(
        409,
        'last_operator',
        f'{who} the last operator of {listed}: make someone else an operator there first, then {subject} can {what}',
        extra={'teams': sorted(teams)},
    )


def last_admin_refusal(
    name: str, *, is_admin: bool, role: str, role_after: str | None, leaves_every_team: bool, other_admin_operators: int
) -> Refusal | None:
    """Pure: the 409 for a change that would leave the deployment without an administrator who is also an operator
    (None when it would not). Only such an administrator changes an administrator's role or removes them; with none
    left, nobody could through the API (an administrator who is a builder manages nobody). So the last one is not
    made a builder (`role_after`), nor removed from their last team (`leaves_every_team`: their tokens go)."""
    if not is_admin or role != OPERATOR or other_admin_operators > 0:
        return None
    if role_after is not None and role_after == OPERATOR:
        return None
    if role_after is None and not leaves_every_team:
        return None
    what = 'become a builder' if role_after is not None else 'leave every team'
    return Refusal(
        409,
        'last_admin',
        f'{name} is the last deployment administrator who is an operator: make another administrator an operator '
        f'first (or `runboard users add NAME --team TEAM --role operator --admin`), then {name} can {what}',
    )
