"""Pure: how the people and tokens page reads (who a person is, what revoking a token does, what changing a role or
removing a person from the team does, and who is offered which). An operator's page lists the people in their teams;
anyone else's is "Your tokens", their own row only (`own_person`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.core.people_rules import removal_refusal, role_change_refusal, teams_left_without_operator
from app.core.token_rules import TokenRefusal, token_management_refusal
from app.state.text import shown

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


ROLE_UNMANAGED: dict[TokenRefusal, Unmanaged] = {
    'not_yours': Unmanaged('not yours', 'Only operators change roles.'),
    'other_team': Unmanaged(
        'belongs to another team too',
        'Also in a team you are not in: a role holds in every team of theirs, so only someone in all of their teams '
        'can change it.',
    ),
    'admin': Unmanaged(
        'only an admin manages an admin',
        'A deployment administrator: only a deployment administrator can change their role or remove them.',
    ),
}


@dataclass(frozen=True)
class PersonActions:
    """What the page offers for a person beside their tokens: None where Change role or Remove from team is offered,
    else why not (the server's rules: app/core/people_rules.py)."""

    change_role: Unmanaged | None
    remove: Unmanaged | None


def operators_by_team(people: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Pure: team id -> its operators' ids, from the caller's list (everyone in the caller's teams is in it)."""
    found: dict[str, set[str]] = {}
    for person in people:
        if person.get('role') == 'operator':
            for team in person.get('teams') or []:
                found.setdefault(team, set()).add(str(person.get('id')))
    return found


def _last_operator(
    person: Mapping[str, Any], people: Sequence[Mapping[str, Any]], names: Mapping[str, str], *, mine: bool
) -> Unmanaged | None:
    stuck = teams_left_without_operator(
        person_id=str(person.get('id')),
        role=str(person.get('role')),
        role_after=None,
        teams=person.get('teams') or [],
        operators=operators_by_team(people),
    )
    if not stuck:
        return None
    said = 'You are the last operator' if mine else 'The last operator'
    return Unmanaged(
        'last operator',
        f'{said} of {teams_text(stuck, names)}: make someone else an operator there first.',
    )


def person_actions(
    person: Mapping[str, Any],
    me: Mapping[str, Any] | None,
    people: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
) -> PersonActions:
    """Pure: whether Change role and Remove from team are offered for `person`, by the server's rules on what its
    list says: the role as for their tokens (not for someone also in a team the caller is not in, nor a deployment
    administrator unless the caller is one); removing also for someone in another team (only the caller's teams lose
    them); neither for a team's last operator, nor for the deployment's last administrator who is an operator unless
    removed from the caller's teams only (the server would answer 409)."""
    me = me or {}
    mine = bool(me.get('user_id')) and person.get('id') == me.get('user_id')
    caller_is_operator = me.get('role') == 'operator'
    role = role_change_refusal(
        caller_is_operator=caller_is_operator,
        is_self=mine,
        in_other_teams=bool(person.get('in_other_teams')),
        is_admin=bool(person.get('is_admin')),
        caller_is_admin=bool(me.get('is_admin')),
    )
    removal = removal_refusal(
        caller_is_operator=caller_is_operator,
        is_admin=bool(person.get('is_admin')),
        caller_is_admin=bool(me.get('is_admin')),
    )
    last = _last_operator(person, people, names, mine=mine)
    last_admin = _last_admin(person, mine=mine)
    return PersonActions(
        ROLE_UNMANAGED[role] if role is not None else last or last_admin,
        # removed from the caller's teams only: the last administrator may be while another team of theirs keeps them
        ROLE_UNMANAGED[removal]
        if removal is not None
        else last or (None if person.get('in_other_teams') else last_admin),
    )


def _last_admin(person: Mapping[str, Any], *, mine: bool) -> Unmanaged | None:
    if not person.get('last_admin'):
        return None
    said = 'You are the last' if mine else 'The last'
    return Unmanaged(
        'last administrator',
        f'{said} deployment administrator who is an operator: make another administrator an operator first (or '
        '`runboard users add NAME --team TEAM --role operator --admin`).',
    )


def row_reasons(tokens: Unmanaged | None, actions: PersonActions | None) -> list[tuple[Unmanaged, bool]]:
    """Pure: the captions a person's row shows for what it does not offer, each caption once with all its reasons
    (the tokens' and the role's 'only an admin manages an admin' are one caption), and whether it is the tokens' one
    (the page marks that one `not-managed`, the others `person-not-changed`). The tokens' first."""
    whys: dict[str, list[str]] = {}
    for reason in (tokens, *((actions.change_role, actions.remove) if actions else ())):
        if reason is not None and reason.why not in whys.setdefault(reason.caption, []):
            whys[reason.caption].append(reason.why)
    return [
        (Unmanaged(caption, ' '.join(said)), tokens is not None and caption == tokens.caption)
        for caption, said in whys.items()
    ]


ROLE_EFFECT = {
    'operator': 'can also configure projects, schedules, the auto-loop and people',
    'builder': 'can trigger, retry and stop runs, and no longer configure projects, schedules, the auto-loop or people',
}


def role_change_text(name: str, role: str, *, mine: bool) -> str:
    """What the Change role dialog says a role does, and when it holds."""
    who = 'You' if mine else shown(name)
    return (
        f'{who} {ROLE_EFFECT[role]}, in every team of {"yours" if mine else "theirs"}, from the next request on every '
        'server.'
    )


def role_changed_text(person: Mapping[str, Any], *, mine: bool) -> str:
    who = 'You are' if mine else f'{shown(person["name"])} is'
    article = 'an' if person['role'] == 'operator' else 'a'
    return f'{who} now {article} {person["role"]}.'


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f'{count} {one if count == 1 else (many or one + "s")}'


def removal_lines(plan: Mapping[str, Any], names: Mapping[str, str], *, mine: bool) -> list[str]:
    """Pure: what the Remove from team confirmation says removing will do, a line each, from the server's preview
    (GET /api/users/{id}/removal): the teams left, the tokens (revoked when no team is left), the schedules paused,
    the projects whose push rules run as the person."""
    name = shown(plan['name'])
    teams = teams_text(plan['teams'], names)
    tokens = int(plan['tokens_revoked'])
    lines = [
        f'You leave {teams}: their projects are out of your reach from now on.' if mine else f'{name} leaves {teams}.'
    ]
    if plan['in_other_teams']:
        lines.append('They stay in a team you are not in: their tokens keep working there.')
    elif tokens:
        whose = 'your' if mine else 'their'
        lines.append(
            f'{"You are" if mine else "They are"} then in no team: {whose} {_plural(tokens, "token")} '
            f'{"is" if tokens == 1 else "are"} revoked, refused from the next request on every server'
            + (', and this browser is signed out.' if mine else '.')
        )
    else:
        lines.append(f'{"You are" if mine else "They are"} then in no team (and have no tokens to revoke).')
    paused = plan.get('schedules_paused') or []
    if paused:
        listed = ', '.join(f'{shown(s["name"])} ({s["project_id"]})' for s in paused)
        owned = f'{_plural(len(paused), "schedule")} {"you" if mine else "they"} own'
        lines.append(f'{owned} {"is" if len(paused) == 1 else "are"} paused: {listed}.')
    else:
        lines.append(f'No schedule of {"yours" if mine else "theirs"} to pause.')
    pushing = plan.get('push_rules_as_them') or []
    if pushing:
        listed = ', '.join(shown(p['name']) for p in pushing)
        lines.append(
            f'The push rules of {listed} start runs as {"you" if mine else name}: they stay as they are; save those '
            'push rules again to own them.'
        )
    return lines


def removed_text(done: Mapping[str, Any], names: Mapping[str, str]) -> str:
    return f'Removed {shown(done["name"])} from {teams_text(done["teams"], names)}.'
