"""Controls for operators only: the header's Audit and Settings links (app/pages/theme.py `frame`) and the
dashboard's New project. Each is drawn hidden and shown once GET /me (asked in the background, so no page waits
for it) says the person is an operator. Builders never see them; the pages behind them say they are for
operators, and the API refuses builders whatever a page shows."""

from __future__ import annotations

from typing import TypeVar

from nicegui import background_tasks, ui

from app.state.me import is_operator, who_am_i

E = TypeVar('E', bound=ui.element)


def operator_only(element: E) -> E:
    element.set_visibility(False)

    async def reveal() -> None:
        operator = is_operator(await who_am_i())
        if not element.is_deleted:
            element.set_visibility(operator)
            element.props('data-checked')  # the role is known (tests wait for it)

    background_tasks.create(reveal(), name='operator-only')
    return element


def operator_links() -> None:
    """The header's links to the pages that are whole for operators only (a builder is refused their data)."""
    operator_only(ui.link('Audit', '/audit').classes('text-white text-sm rb-tap-link').props('data-testid=nav-audit'))
    operator_only(
        ui.link('Settings', '/settings').classes('text-white text-sm rb-tap-link').props('data-testid=nav-settings')
    )
