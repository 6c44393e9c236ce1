"""Dashboard: project cards and the latest runs."""
from __future__ import annotations

from nicegui import ui

from app.pages.cards import project_cards
from app.pages.runs_list import runs_list
from app.pages.theme import frame


@ui.page('/')
async def dashboard() -> None:
    with frame('Dashboard'):
        await project_cards()
        ui.label('Latest runs').classes('text-lg font-medium')
        await runs_list()
