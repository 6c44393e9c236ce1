"""How the people and tokens page reads, and who it offers configuration to (app/state/people_view.py,
app/state/me.py): New token and Revoke only for the people the server lets the caller manage, by the server's own
rule (app/core/token_rules.py), with the reason otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.state.me import is_operator
from app.state.people_view import Unmanaged, last_used_text, not_managed, revoke_question, teams_text, token_count


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
    ('this_browser', 'ending'),
    [(False, 'scripts and sign-ins using it stop working.'), (True, 'you will be signed out.')],
)
def test_revoking_says_what_stops_working(this_browser: bool, ending: str) -> None:
    question = revoke_question('bob', 'ci', 'tok_1', this_browser=this_browser)
    assert question.startswith('Revoke token "ci" (tok_1) of bob?') and '401' in question
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


@pytest.mark.parametrize(
    ('person', 'me', 'shown'),
    [
        ({'in_other_teams': False, 'is_admin': False}, {'is_admin': False}, None),
        # a token acts in all of its person's teams: one made or revoked for them reaches a team the caller is not in
        ({'in_other_teams': True, 'is_admin': False}, {'is_admin': False}, OTHER_TEAM),
        ({'in_other_teams': True, 'is_admin': False}, {'is_admin': True}, OTHER_TEAM),  # an admin too
        ({'in_other_teams': True, 'is_admin': True}, {'is_admin': True}, OTHER_TEAM),
        # an administrator's tokens are an administrator's to manage
        ({'in_other_teams': False, 'is_admin': True}, {'is_admin': False}, ADMIN),
        ({'in_other_teams': False, 'is_admin': True}, {'is_admin': True}, None),
        ({'in_other_teams': False, 'is_admin': True}, {}, ADMIN),  # the server did not say the caller is one
        # a server that does not say (an older one): offered, and its answer says why if it refuses
        ({}, {'is_admin': False}, None),
    ],
)
def test_new_token_and_revoke_are_offered_by_the_servers_rule(person: dict, me: dict, shown: Unmanaged | None) -> None:
    assert not_managed(person, me) == shown
