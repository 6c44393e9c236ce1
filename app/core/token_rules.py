"""Whose tokens an operator may create and revoke, where the server and the People page both read it: the server
refuses by it (403 with `reason`), and the page offers New token and Revoke, or says why not, by the same answer."""

from __future__ import annotations

from typing import Literal

TokenRefusal = Literal['other_team', 'admin']


def token_management_refusal(*, in_other_teams: bool, is_admin: bool, caller_is_admin: bool) -> TokenRefusal | None:
    """Pure: why an operator of a person's team may not create or revoke that person's tokens (None: they may). A
    token carries its person's whole identity (all their teams, their role, the admin flag): one made or revoked for
    someone also in a team the caller is not in acts in (or cuts them off from) a team the caller has no say in,
    and a deployment administrator's tokens are only another administrator's to manage."""
    if in_other_teams:
        return 'other_team'
    if is_admin and not caller_is_admin:
        return 'admin'
    return None
