"""Whose tokens a person may create and revoke, where the server and the tokens page both read it: the server
refuses by it (403 with `reason`), and the page offers New token and Revoke, or says why not, by the same answer.
Everyone manages their own tokens (personal access tokens); operators also those of the people in their teams."""

from __future__ import annotations

from typing import Literal

TokenRefusal = Literal['not_yours', 'other_team', 'admin']


def token_management_refusal(
    *, caller_is_operator: bool, is_self: bool, in_other_teams: bool, is_admin: bool, caller_is_admin: bool
) -> TokenRefusal | None:
    """Pure: why the caller may not create or revoke a person's tokens (None: they may). A token carries its person's
    whole identity (all their teams, their role, the admin flag), so one's own tokens are always one's own to manage:
    they can act as nobody else. A builder manages nobody else's. An operator may not manage someone also in a team
    the caller is not in (a token made or revoked for them acts in, or cuts them off from, a team the caller has no
    say in), and a deployment administrator's tokens are only another administrator's to manage."""
    if is_self:
        return None
    if not caller_is_operator:
        return 'not_yours'
    if in_other_teams:
        return 'other_team'
    if is_admin and not caller_is_admin:
        return 'admin'
    return None
