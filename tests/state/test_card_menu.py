"""A project card's ⋯ menu and its banner for each viewer: Auto on/off and Reset are operators' (the API answers a
builder's 403), so only they are offered Reset or told to use it; the page and the server read one rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.core.errors import DomainError
from app.core.permissions import may_control_afk
from app.pages.plain import project_section
from app.services.afk.actions import AfkActions
from app.services.identity.accounts import Principal
from app.state.me import controls_afk
from app.state.projects_store import CardMenu, CardView, card_menu, held_banner, reset_question

TODAY = datetime.now(UTC).date().isoformat()


def card(**project: object) -> CardView:
    return CardView(project={'id': 'p', 'name': 'P', 'auto_enabled': True, **project})


@pytest.mark.parametrize(
    ('view', 'operator', 'menu'),
    [
        (card(), True, CardMenu(auto=True, paused_line=False, reset=False)),
        (card(), False, CardMenu(auto=False, paused_line=False, reset=False)),
        (card(paused=True), True, CardMenu(auto=True, paused_line=True, reset=True)),
        # a builder reads that it is paused, and is offered nothing the server would refuse
        (card(paused=True), False, CardMenu(auto=False, paused_line=True, reset=False)),
        (card(launch_error='launch_failed: no such command'), True, CardMenu(auto=True, paused_line=False, reset=True)),
        (
            card(launch_error='launch_failed: no such command'),
            False,
            CardMenu(auto=False, paused_line=False, reset=False),
        ),
        (
            card(afk_cost_cap_usd_per_day=5, afk_cost_capped_on=TODAY),
            True,
            CardMenu(auto=True, paused_line=False, reset=True),
        ),
        (
            card(afk_cost_cap_usd_per_day=5, afk_cost_capped_on=TODAY),
            False,
            CardMenu(auto=False, paused_line=False, reset=False),
        ),
    ],
)
def test_the_menu_offers_a_builder_only_what_the_api_lets_them_do(
    view: CardView, operator: bool, menu: CardMenu
) -> None:
    assert card_menu(view, operator=operator) == menu


@pytest.mark.parametrize(
    ('view', 'question'),
    [
        (
            card(paused=True, consecutive_failures=3, ready_count=3),
            'Resume the AFK loop for P? It will start on the 3 ready issues; the failure count goes back to 0.',
        ),
        (
            card(paused=True, consecutive_failures=3, ready_count=1),
            'Resume the AFK loop for P? It will start on the 1 ready issue; the failure count goes back to 0.',
        ),
        (
            card(paused=True, consecutive_failures=3, ready_count=0),
            'Resume the AFK loop for P? No issue is ready now: it starts on the next one that is; '
            'the failure count goes back to 0.',
        ),
        (
            card(paused=True, consecutive_failures=3, ready_count=None),
            'Resume the AFK loop for P? It will start on its ready issues (the forge did not say how many); '
            'the failure count goes back to 0.',
        ),
        # auto off: Reset launches nothing by itself, and says so
        (
            card(paused=True, consecutive_failures=3, ready_count=3, auto_enabled=False),
            'Reset the AFK loop for P? Auto is off: it launches nothing by itself until Auto is switched on; '
            'the failure count goes back to 0.',
        ),
        (
            card(afk_cost_cap_usd_per_day=5, afk_cost_capped_on=TODAY, ready_count=2),
            "Resume the AFK loop for P? It will start on the 2 ready issues; today's AFK cost counts against the cap "
            'from now on.',
        ),
        (
            card(launch_error='launch_failed: no such command', ready_count=2, consecutive_failures=1),
            'Resume the AFK loop for P? It will start on the 2 ready issues; the failure count goes back to 0; '
            'its last launch failure is forgotten.',
        ),
        (
            card(name='\u202egnp.exe', paused=True, ready_count=0),
            'Resume the AFK loop for [U+202E]gnp.exe? No issue is ready now: it starts on the next one that is.',
        ),
    ],
)
def test_reset_asks_first_saying_what_the_loop_will_do_and_what_it_clears(view: CardView, question: str) -> None:
    assert reset_question(view, datetime.now(UTC)) == question


@pytest.mark.parametrize(('operator', 'forms'), [(True, ['start', 'auto-off', 'reset']), (False, ['start'])])
def test_the_page_without_javascript_offers_the_same(operator: bool, forms: list[str]) -> None:
    section = project_section(card(paused=True).project, [], 'csrf', operator=operator)
    assert re.findall(r'action="/plain/p/([a-z-]+)"', section) == forms


@pytest.mark.parametrize(
    ('view', 'operator', 'banner'),
    [
        (card(), True, None),
        (card(paused=True), False, None),  # the paused banner has its own title and causes
        (
            card(launch_error='launch_failed: no such command'),
            True,
            "Auto-loop waiting: no such command. Nothing was counted; fix the project's command, then Reset.",
        ),
        (
            card(launch_error='launch_failed: no such command'),
            False,
            'Auto-loop waiting: no such command. '
            "Nothing was counted; once the project's command is fixed, an operator can reset it.",
        ),
        (
            card(afk_cost_cap_usd_per_day=5, afk_cost_capped_on=TODAY, launch_error='launch_failed: x'),
            False,  # the cost cap first: it is the louder
            'Auto paused · cost cap $5.00 reached today, resumes at 00:00 UTC or when an operator resets it',
        ),
    ],
)
def test_the_banner_tells_only_those_who_may_reset_to_reset(view: CardView, operator: bool, banner: str | None) -> None:
    assert held_banner(view, datetime.now(UTC), may_reset=operator) == banner
    assert card_menu(view, operator=operator).reset is (operator and banner is not None)


@pytest.mark.parametrize('role', ['operator', 'builder', None, 'Operator', 'admin'])
def test_the_page_offers_reset_by_the_rule_the_server_refuses_by(role: str | None) -> None:
    allowed = may_control_afk(role)
    assert allowed is (role == 'operator')
    assert controls_afk({'role': role} if role else None) is allowed
    principal = Principal('usr_1', 'ann', role or '', frozenset({'t'}))
    if allowed:
        AfkActions._require_operator(principal)  # noqa: SLF001 - the check Reset and Auto on/off make first
    else:
        with pytest.raises(DomainError) as refused:
            AfkActions._require_operator(principal)  # noqa: SLF001
        assert refused.value.status == 403
