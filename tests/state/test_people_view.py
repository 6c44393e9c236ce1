"""How the people and tokens page reads, and who it offers configuration to (app/state/people_view.py,
app/state/me.py): New token and Revoke only for the people the server lets the caller manage, by the server's own
rule (app/core/token_rules.py), with the reason otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.state.me import is_operator
from app.state.people_view import (
    Unmanaged,
    last_used_text,
    not_managed,
    own_person,
    revoke_question,
    teams_text,
    token_count,
)


@pytest.mark.parametrize(
    ('me', 'operator'),
    [
        ({'role': 'operator'}, True),
        ({'role': 'builder'}, False),
        ({}, False),
        (None, False),  # the server did not say (offline, signed out): offer nothing that would be refused
    ],
)
def test_only_operators_are_offered_configuration(me: dict | None, operator: bool) -> None:
    assert is_operator(me) is operator


@pytest.mark.parametrize(('teams', 'text'), [(['red', 'blue'], 'Red, Blue'), (['gone'], 'gone'), ([], '')])
def test_teams_read_by_name(teams: list[str], text: str) -> None:
    assert teams_text(teams, {'red': 'Red', 'blue': 'Blue'}) == text


@pytest.mark.parametrize(('count', 'text'), [(0, 'no tokens'), (1, '1 token'), (3, '3 tokens')])
def test_token_count(count: int, text: str) -> None:
    assert token_count({'tokens': [{}] * count}) == text


@pytest.mark.parametrize(
    ('mine', 'this_browser', 'start', 'ending'),
    [
        (False, False, 'Revoke token "ci" (tok_1) of bob?', 'scripts and sign-ins using it stop working.'),
        (True, False, 'Revoke your token "ci" (tok_1)?', 'scripts and sign-ins using it stop working.'),
        # the token this browser signed in with: said before, since the page ends with it
        (True, True, 'Revoke your token "ci" (tok_1)?', 'this signs you out of this browser.'),
    ],
)
def test_revoking_says_what_stops_working(mine: bool, this_browser: bool, start: str, ending: str) -> None:
    question = revoke_question('bob', 'ci', 'tok_1', this_browser=this_browser, mine=mine)
    assert question.startswith(start) and '401' in question
    assert question.endswith(ending)


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('ago', 'text'),
    [
        (None, 'never used'),
        (timedelta(seconds=5), 'used just now'),
        (timedelta(seconds=119), 'used just now'),  # kept to the minute: no "40 s ago" that may be a minute off
        (timedelta(minutes=2), 'last used 2 min ago'),
        (timedelta(minutes=59), 'last used 59 min ago'),
        (timedelta(hours=3, minutes=10), 'last used 3 h ago'),
        (timedelta(days=40), 'last used 40 d ago'),
    ],
)
def test_a_tokens_last_use_reads_to_the_minute(ago: timedelta | None, text: str) -> None:
    assert last_used_text(None if ago is None else NOW - ago, NOW) == text


OTHER_TEAM = Unmanaged(
    'belongs to another team too',
    'Also in a team you are not in: only someone in all of their teams can create or revoke their tokens.',
)
ADMIN = Unmanaged(
    'only an admin manages an admin',
    'A deployment administrator: only a deployment administrator can create or revoke their tokens.',
)
NOT_YOURS = Unmanaged('not yours', "Only operators manage other people's tokens; everyone manages their own.")
OPERATOR = {'user_id': 'usr_me', 'role': 'operator', 'is_admin': False}
BUILDER = {'user_id': 'usr_me', 'role': 'builder', 'is_admin': False}


@pytest.mark.parametrize(
    ('person', 'me', 'shown'),
    [
        ({'id': 'usr_b', 'in_other_teams': False, 'is_admin': False}, OPERATOR, None),
        # a token acts in all of its person's teams: one made or revoked for them reaches a team the caller is not in
        ({'id': 'usr_b', 'in_other_teams': True, 'is_admin': False}, OPERATOR, OTHER_TEAM),
        ({'id': 'usr_b', 'in_other_teams': True, 'is_admin': False}, {**OPERATOR, 'is_admin': True}, OTHER_TEAM),
        ({'id': 'usr_b', 'in_other_teams': True, 'is_admin': True}, {**OPERATOR, 'is_admin': True}, OTHER_TEAM),
        # an administrator's tokens are an administrator's to manage
        ({'id': 'usr_b', 'in_other_teams': False, 'is_admin': True}, OPERATOR, ADMIN),
        ({'id': 'usr_b', 'in_other_teams': False, 'is_admin': True}, {**OPERATOR, 'is_admin': True}, None),
        ({'id': 'usr_b', 'in_other_teams': False, 'is_admin': True}, {'role': 'operator'}, ADMIN),  # not said: no
        # a server that does not say (an older one): offered, and its answer says why if it refuses
        ({'id': 'usr_b'}, OPERATOR, None),
        # everyone manages their own; a builder nobody else's
        ({'id': 'usr_me', 'in_other_teams': False, 'is_admin': False}, BUILDER, None),
        ({'id': 'usr_me', 'in_other_teams': False, 'is_admin': True}, {**BUILDER, 'is_admin': True}, None),
        ({'id': 'usr_me', 'in_other_teams': False, 'is_admin': False}, OPERATOR, None),
        ({'id': 'usr_b', 'in_other_teams': False, 'is_admin': False}, BUILDER, NOT_YOURS),
        ({'id': 'usr_b', 'in_other_teams': False, 'is_admin': False}, None, NOT_YOURS),  # unknown caller: nothing
    ],
)
def test_new_token_and_revoke_are_offered_by_the_servers_rule(
    person: dict, me: dict | None, shown: Unmanaged | None
) -> None:
    assert not_managed(person, me) == shown


def test_a_persons_own_row_is_read_from_who_they_are_and_their_tokens() -> None:
    """What a builder's tokens page shows: their own row, from GET /api/me and GET /api/tokens (theirs only)."""
    me = {'user_id': 'usr_bo', 'name': 'Bo', 'role': 'builder', 'team_ids': ['red'], 'token_id': 'tok_2'}
    tokens = [
        {
            'id': 'tok_1',
            'user_id': 'usr_bo',
            'user_name': 'Bo',
            'role': 'builder',
            'name': 'laptop',
            'created_at': '2026-01-01T10:00:00Z',
            'last_used_at': None,
        },
        {
            'id': 'tok_x',  # someone else's would never be listed to a builder; never shown as theirs
            'user_id': 'usr_other',
            'user_name': 'Al',
            'role': 'builder',
            'name': 'ci',
            'created_at': '2026-01-01T11:00:00Z',
            'last_used_at': None,
        },
        {
            'id': 'tok_2',
            'user_id': 'usr_bo',
            'user_name': 'Bo',
            'role': 'builder',
            'name': 'ci',
            'created_at': '2026-01-02T10:00:00Z',
            'last_used_at': '2026-01-03T10:00:00Z',
        },
    ]
    assert own_person(me, tokens) == {
        'id': 'usr_bo',
        'name': 'Bo',
        'role': 'builder',
        'teams': ['red'],
        'tokens': [
            {'id': 'tok_1', 'name': 'laptop', 'created_at': '2026-01-01T10:00:00Z', 'last_used_at': None},
            {'id': 'tok_2', 'name': 'ci', 'created_at': '2026-01-02T10:00:00Z', 'last_used_at': '2026-01-03T10:00:00Z'},
        ],
        'in_other_teams': False,
        'is_admin': False,
    }
