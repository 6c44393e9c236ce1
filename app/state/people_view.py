"""Pure: how the people and tokens page reads (who a person is, what revoking a token does). An operator's page lists
the people in their teams; anyone else's is "Your tokens", their own row only (`own_person`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.core.token_rules import TokenRefusal, token_management_refusal

ROLES = {'builder': 'Builder (triggers, retries, stops runs)', 'operator': 'Operator (also configures)'}
PERSON_FIELDS = ('name', 'role', 'team_id', 'token_name')
TOKEN_FIELDS = ('name',)
SHOWN_ONCE = (
    'Copy this token now: it is shown only this once. Runboard keeps only a hash of it and cannot show it again. '
    'Anyone holding it acts as {person}; keep it in a password manager or a CI secret.'
)


def teams_text(teams: list[str], names: Mapping[str, str]) -> str:
    """A person's teams by name ('Red, Blue'); a team missing from `names` by its id."""
    return ', '.join(names.get(team, team) for team in teams)


def token_count(person: Mapping[str, Any]) -> str:
    count = len(person.get('tokens') or [])
    return 'no tokens' if count == 0 else '1 token' if count == 1 else f'{count} tokens'


@dataclass(frozen=True)
class Unmanaged:
    """Why the page offers no New token or Revoke for a person: a caption beside them, the reason in full."""

    caption: str
    why: str


UNMANAGED: dict[TokenRefusal, Unmanaged] = {
    'not_yours': Unmanaged('not yours', "Only operators manage other people's tokens; everyone manages their own."),
    'other_team': Unmanaged(
        'belongs to another team too',
        'Also in a team you are not in: only someone in all of their teams can create or revoke their tokens.',
    ),
    'admin': Unmanaged(
        'only an admin manages an admin',
        'A deployment administrator: only a deployment administrator can create or revoke their tokens.',
    ),
}


def not_managed(person: Mapping[str, Any], me: Mapping[str, Any] | None) -> Unmanaged | None:
    """Pure: None when the caller may create and revoke this person's tokens, else why not, by the server's own
    rule on the facts its list answers (a server that does not say them: offered; its 403 then says why)."""
    me = me or {}
    refusal = token_management_refusal(
        caller_is_operator=me.get('role') == 'operator',
        is_self=bool(me.get('user_id')) and person.get('id') == me.get('user_id'),
        in_other_teams=bool(person.get('in_other_teams')),
        is_admin=bool(person.get('is_admin')),
        caller_is_admin=bool(me.get('is_admin')),
    )
    return None if refusal is None else UNMANAGED[refusal]


def own_person(me: Mapping[str, Any], tokens: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pure: the caller's own row, as GET /api/users would answer it, from GET /api/me and their GET /api/tokens
    (what a builder's page shows: they may not list people)."""
    return {
        'id': me['user_id'],
        'name': me['name'],
        'role': me['role'],
        'teams': list(me.get('team_ids') or []),
        'tokens': [
            {key: token.get(key) for key in ('id', 'name', 'created_at', 'last_used_at')}
            for token in tokens
            if token.get('user_id') == me['user_id']
        ],
        'in_other_teams': False,  # all of one's teams are one's own
        'is_admin': bool(me.get('is_admin')),
    }


def revoke_question(person: str, token_name: str, token_id: str, *, this_browser: bool, mine: bool = False) -> str:
    """The confirmation before revoking: what stops working, and when."""
    whose = f'your token "{token_name}" ({token_id})' if mine else f'token "{token_name}" ({token_id}) of {person}'
    question = (
        f'Revoke {whose}? Every request made with it is refused (401) from now on, on every server; scripts and '
        'sign-ins using it stop working.'
    )
    if this_browser:
        question += ' It is the token this browser signed in with: this signs you out of this browser.'
    return question


def revoked_text(person: str, token_name: str) -> str:
    return f'Revoked token "{token_name}" of {person}; it no longer works.'


def last_used_text(last_used: datetime | None, now: datetime) -> str:
    """When a token was last used, as precisely as it is kept (to the minute): what tells an idle token from
    one a script still needs, before revoking it."""
    if last_used is None:
        return 'never used'
    minutes = int((now - last_used).total_seconds() // 60)
    if minutes < 2:
        return 'used just now'
    for size, unit in ((1440, 'd'), (60, 'h')):
        if minutes >= size:
            return f'last used {minutes // size} {unit} ago'
    return f'last used {minutes} min ago'
