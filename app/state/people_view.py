"""Pure: how the people and tokens page reads (who a person is, what revoking a token does)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

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


def revoke_question(person: str, token_name: str, token_id: str, *, this_browser: bool) -> str:
    """The confirmation before revoking: what stops working, and when."""
    question = (
        f'Revoke token "{token_name}" ({token_id}) of {person}? Every request made with it is refused (401) '
        'from now on, on every server; scripts and sign-ins using it stop working.'
    )
    if this_browser:
        question += ' It is the token this page uses: you will be signed out.'
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
