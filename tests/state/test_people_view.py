"""How the people and tokens page reads, and who it offers configuration to (app/state/people_view.py,
app/state/me.py): New token and Revoke only for the people the server lets the caller manage, by the server's own
rule (app/core/token_rules.py), with the reason otherwise; Change role and Remove from team by the server's rules of
people (app/core/people_rules.py), and what a removal's confirmation says it will do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.state.me import is_operator
from app.state.people_view import (
    PersonActions,
    Unmanaged,
    last_used_text,
    not_managed,
    operators_by_team,
    own_person,
    person_actions,
    removal_lines,
    revoke_question,
    role_change_text,
    role_changed_text,
    row_reasons,
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


NAMES = {'local': 'Local', 'red': 'Red'}
ADMIN_ME = {'user_id': 'usr_me', 'role': 'operator', 'is_admin': True}
PEOPLE = [
    {'id': 'usr_me', 'role': 'operator', 'teams': ['local', 'red'], 'in_other_teams': False, 'is_admin': False},
    {'id': 'usr_ann', 'role': 'operator', 'teams': ['local'], 'in_other_teams': False, 'is_admin': False},
    {'id': 'usr_bo', 'role': 'builder', 'teams': ['red'], 'in_other_teams': False, 'is_admin': False},
    {'id': 'usr_sam', 'role': 'builder', 'teams': ['local'], 'in_other_teams': True, 'is_admin': False},
    {'id': 'usr_ada', 'role': 'operator', 'teams': ['local'], 'in_other_teams': False, 'is_admin': True},
]
LAST_OF_RED = Unmanaged('last operator', 'You are the last operator of Red: make someone else an operator there first.')
ROLE_OTHER_TEAM = Unmanaged(
    'belongs to another team too',
    'Also in a team you are not in: a role holds in every team of theirs, so only someone in all of their teams can '
    'change it.',
)
ROLE_ADMIN = Unmanaged(
    'only an admin manages an admin',
    'A deployment administrator: only a deployment administrator can change their role or remove them.',
)
ROLE_NOT_YOURS = Unmanaged('not yours', 'Only operators change roles.')


@pytest.mark.parametrize(
    ('who', 'me', 'role', 'remove'),
    [
        ('usr_ann', OPERATOR, None, None),  # Local keeps its other operators (me, ada)
        ('usr_bo', OPERATOR, None, None),  # a builder: promoted or removed alike
        ('usr_me', OPERATOR, LAST_OF_RED, LAST_OF_RED),  # Red's only operator: neither demoted nor removed
        ('usr_sam', OPERATOR, ROLE_OTHER_TEAM, None),  # in another team too: removed from mine only, role untouched
        ('usr_ada', OPERATOR, ROLE_ADMIN, ROLE_ADMIN),  # an administrator: another administrator's to change
        ('usr_ada', ADMIN_ME, None, None),
        ('usr_bo', BUILDER, ROLE_NOT_YOURS, ROLE_NOT_YOURS),
        ('usr_me', BUILDER, ROLE_NOT_YOURS, ROLE_NOT_YOURS),  # a builder's own role neither
    ],
)
def test_change_role_and_remove_are_offered_by_the_servers_rules(
    who: str, me: dict, role: Unmanaged | None, remove: Unmanaged | None
) -> None:
    person = next(p for p in PEOPLE if p['id'] == who)
    people = PEOPLE if me is not BUILDER else [{**p, 'role': 'builder'} if p['id'] == 'usr_me' else p for p in PEOPLE]
    assert person_actions(person, me, people, NAMES) == PersonActions(role, remove)


LAST_ADMIN_WHY = (
    'deployment administrator who is an operator: make another administrator an operator first (or '
    '`runboard users add NAME --team TEAM --role operator --admin`).'
)


@pytest.mark.parametrize(
    ('mine', 'in_other_teams', 'remove_offered'),
    [
        (True, False, False),  # leaving their only team would leave nobody who manages administrators
        (False, False, False),
        (False, True, True),  # removed from my teams only: another team of theirs keeps them an administrator
    ],
)
def test_the_last_administrator_who_is_an_operator_is_not_offered_what_the_server_refuses(
    mine: bool, in_other_teams: bool, remove_offered: bool
) -> None:
    ada = {'id': 'usr_ada', 'role': 'operator', 'teams': ['local'], 'in_other_teams': in_other_teams}
    ada |= {'is_admin': True, 'last_admin': True}
    people = [ada, {'id': 'usr_ann', 'role': 'operator', 'teams': ['local']}]  # Local keeps an operator either way
    me = {'user_id': 'usr_ada' if mine else 'usr_ann', 'role': 'operator', 'is_admin': True}
    said = 'You are the last ' if mine else 'The last '
    last = Unmanaged('last administrator', said + LAST_ADMIN_WHY)
    actions = person_actions(ada, me, people, NAMES)
    if in_other_teams:  # their role holds in a team I am not in: that reason comes first, as the server's does
        assert actions.change_role == ROLE_OTHER_TEAM
    else:
        assert actions.change_role == last
    assert actions.remove == (None if remove_offered else last)
    other_admin = person_actions({**ada, 'last_admin': False}, me, people, NAMES)
    assert (other_admin.change_role is None, other_admin.remove) == (not in_other_teams, None)


def test_the_last_operator_of_someone_elses_team_is_named_so() -> None:
    people = [
        {'id': 'usr_ann', 'role': 'operator', 'teams': ['red']},
        {'id': 'usr_bo', 'role': 'builder', 'teams': ['red']},
    ]
    last = Unmanaged('last operator', 'The last operator of Red: make someone else an operator there first.')
    assert person_actions(people[0], OPERATOR, people, NAMES) == PersonActions(last, last)
    assert operators_by_team(people) == {'red': {'usr_ann'}}


PLAN = {
    'user_id': 'usr_cy',
    'name': 'Cy',
    'teams': ['local'],
    'in_other_teams': False,
    'tokens_revoked': 2,
    'schedules_paused': [{'id': 'sch_1', 'name': 'nightly', 'project_id': 'web'}],
    'push_rules_as_them': [{'id': 'web', 'name': 'Web app'}],
    'done': False,
}


@pytest.mark.parametrize(
    ('plan', 'mine', 'lines'),
    [
        (
            PLAN,
            False,
            [
                'Cy leaves Local.',
                'They are then in no team: their 2 tokens are revoked, refused from the next request on every server.',
                '1 schedule they own is paused: nightly (web).',
                'The push rules of Web app start runs as Cy: they stay as they are; save those push rules again to own '
                'them.',
            ],
        ),
        (
            {**PLAN, 'in_other_teams': True, 'tokens_revoked': 0, 'schedules_paused': [], 'push_rules_as_them': []},
            False,
            [
                'Cy leaves Local.',
                'They stay in a team you are not in: their tokens keep working there.',
                'No schedule of theirs to pause.',
            ],
        ),
        (
            {**PLAN, 'tokens_revoked': 1, 'schedules_paused': PLAN['schedules_paused'] * 2, 'push_rules_as_them': []},
            True,
            [
                'You leave Local: their projects are out of your reach from now on.',
                'You are then in no team: your 1 token is revoked, refused from the next request on every server, and '
                'this browser is signed out.',
                '2 schedules you own are paused: nightly (web), nightly (web).',
            ],
        ),
        (
            {**PLAN, 'name': 'C\u202ey', 'tokens_revoked': 0, 'schedules_paused': [], 'push_rules_as_them': []},
            False,
            [
                'C[U+202E]y leaves Local.',
                'They are then in no team (and have no tokens to revoke).',
                'No schedule of theirs to pause.',
            ],
        ),
    ],
)
def test_the_removal_confirmation_says_what_will_happen(plan: dict, mine: bool, lines: list[str]) -> None:
    assert removal_lines(plan, NAMES, mine=mine) == lines


@pytest.mark.parametrize(
    ('role', 'mine', 'text'),
    [
        (
            'builder',
            False,
            'Cy can trigger, retry and stop runs, and no longer configure projects, schedules, the auto-loop or '
            'people, in every team of theirs, from the next request on every server.',
        ),
        (
            'operator',
            True,
            'You can also configure projects, schedules, the auto-loop and people, in every team of yours, from the '
            'next request on every server.',
        ),
    ],
)
def test_a_role_change_says_what_the_role_does_and_when(role: str, mine: bool, text: str) -> None:
    assert role_change_text('Cy', role, mine=mine) == text
    assert role_changed_text({'name': 'Cy', 'role': role}, mine=mine) == (
        f'{"You are" if mine else "Cy is"} now {"an operator" if role == "operator" else "a builder"}.'
    )


def test_a_row_says_each_reason_once_under_its_caption() -> None:
    """An administrator's row to an operator who is none: the tokens' and the role's 'only an admin manages an admin'
    are one caption with both reasons; the last operator's is a caption of its own; nothing when all is offered."""
    both = row_reasons(ADMIN, PersonActions(ROLE_ADMIN, ROLE_ADMIN))
    assert both == [(Unmanaged(ADMIN.caption, f'{ADMIN.why} {ROLE_ADMIN.why}'), True)]
    assert row_reasons(None, PersonActions(LAST_OF_RED, LAST_OF_RED)) == [(LAST_OF_RED, False)]
    assert row_reasons(OTHER_TEAM, PersonActions(ROLE_OTHER_TEAM, None)) == [
        (Unmanaged(OTHER_TEAM.caption, f'{OTHER_TEAM.why} {ROLE_OTHER_TEAM.why}'), True)
    ]
    assert row_reasons(None, PersonActions(None, None)) == [] and row_reasons(None, None) == []
    assert row_reasons(NOT_YOURS, None) == [(NOT_YOURS, True)]  # "Your tokens": no people actions at all
