"""The project Settings page's "Run caches" panel (docs/pipelines.md, "Caches"): the base branch's cache and the
other branches', with their sizes on this server, when they were last cleared, and Clear, which any member of
the team may press (a broken cache breaks their builds): every machine's next run starts with empty ones."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import error_notice, notify_error
from app.state import connection
from app.state.caches_view import cache_rows, cleared_text, size_heading


class CachesPanel:
    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        with ui.column().classes('w-full gap-2 mt-4').props('data-testid=caches-panel'):
            ui.label('Run caches').classes('text-lg font-medium').props('role=heading aria-level=2')
            ui.label(
                "A directory kept between runs, given to each run as $RUNBOARD_CACHE_DIR, for your tools' own caches "
                "(pip, npm, Go modules). The base branch's runs have one; every other branch's runs share another, "
                "so nothing a branch leaves there reaches the base branch's runs."
            ).classes('text-xs opacity-80')
            self.body = ui.column().classes('w-full gap-2').props('aria-live=polite data-testid=caches-body')

    async def load(self) -> None:
        try:
            answer = await connection.client().request('GET', f'/projects/{self.project_id}/caches')
        except ApiError as exc:
            error_notice(self.body, exc, 'read the run caches')
            return
        self.draw(answer.data)

    def draw(self, caches: dict[str, Any], note: str = '') -> None:
        self.body.clear()
        with self.body:
            if note:
                ui.label(note).classes('text-sm text-positive').props('data-testid=caches-said')
            with ui.element('table').classes('text-sm'):
                with ui.element('thead'), ui.element('tr'):
                    for name in ('Cache', 'Used by', size_heading(caches)):
                        with ui.element('th').props('scope=col').classes('text-left pr-4'):
                            ui.label(name)
                with ui.element('tbody'):
                    for scope, users, size in cache_rows(caches):
                        with attrs(ui.element('tr'), {'data-cache': scope}):
                            for value in (scope, users, size):
                                with ui.element('td').classes('pr-4'):
                                    ui.label(value)
            ui.label(cleared_text(caches)).classes('text-xs opacity-80').props('data-testid=caches-cleared')
            ui.button('Clear caches', icon='delete_sweep', on_click=self.clear).props(
                'outline data-testid=caches-clear'
            ).classes('rb-tap self-start').tooltip("Every machine's next run starts with empty caches")

    async def clear(self) -> None:
        try:
            cleared = await connection.client().request('POST', f'/projects/{self.project_id}/caches/clear')
        except ApiError as exc:
            notify_error(exc, 'clear the run caches')  # the caches as they were stay in view
            return
        self.draw(cleared.data, 'Cleared: the next runs start with empty caches (runs under way keep theirs).')


async def caches_panel(project_id: str) -> None:
    await CachesPanel(project_id).load()
