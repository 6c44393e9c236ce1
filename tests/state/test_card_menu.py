"""A project card's ⋯ menu for each viewer: Auto on/off and Reset are operators' (the API answers a builder's 403)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.pages.plain import project_section
from app.state.projects_store import CardMenu, CardView, card_menu

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


@pytest.mark.parametrize(('operator', 'forms'), [(True, ['start', 'auto-off', 'reset']), (False, ['start'])])
def test_the_page_without_javascript_offers_the_same(operator: bool, forms: list[str]) -> None:
    section = project_section(card(paused=True).project, [], 'csrf', operator=operator)
    assert re.findall(r'action="/plain/p/([a-z-]+)"', section) == forms
