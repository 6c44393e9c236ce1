"""The project's repository under its title: where branches come from and, for a remote repository, when
its mirror was last fetched (live), the last fetch error with its code, and a "Refresh branches" control.
Opening the page fetches a remote mirror in the background (the server does so at most once per
RUNBOARD_MIRROR_REFRESH_MIN_SECONDS), so the picker never waits for a slow remote."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nicegui import background_tasks, ui

from app.client import ApiError
from app.state import connection
from app.state.text import shown


def fetched_text(state: dict[str, Any], now: datetime) -> str:
    """Pure: the freshness line of a repository state."""
    if not state.get('remote'):
        return 'local repository, read in place'
    fetched = state.get('fetched_at')
    if not fetched:
        return 'not fetched yet'
    at = datetime.fromisoformat(str(fetched).replace('Z', '+00:00'))
    seconds = max(0, int((now - at).total_seconds()))
    ago = f'{seconds} s' if seconds < 120 else f'{seconds // 60} min' if seconds < 7200 else f'{seconds // 3600} h'
    return f'fetched {ago} ago'


class RepositoryStatus:
    def __init__(self, project: dict[str, Any], on_refreshed: Callable[[], Awaitable[None]]) -> None:
        self.project_id = project['id']
        self.on_refreshed = on_refreshed
        self.state: dict[str, Any] | None = None
        self.fetching = False
        with ui.row().classes('items-center gap-2 flex-wrap text-xs').props('data-testid=repository-status'):
            ui.label(shown(project['repository'])).classes('opacity-70 font-mono break-all')
            self.freshness = ui.label().classes('opacity-70').props('data-testid=repository-fetched aria-live=polite')
            self.refresh_button = (
                ui.button('Refresh branches', icon='sync', on_click=self.refresh)
                .props('flat dense size=sm data-testid=refresh-branches')
                .classes('rb-tap')
            )
        if project.get('repository_notice'):  # a server path in team mode: still runs, but new ones are refused
            ui.label(shown(f'This repository would be refused today: {project["repository_notice"]}.')).classes(
                'text-xs text-warning'
            ).props('data-testid=repository-notice role=note')
        self.error = ui.label().classes('text-xs text-negative').props('data-testid=repository-error role=status')
        self.error.set_visibility(False)
        ui.timer(5.0, self.render)

    async def load(self, *, fetch: bool) -> None:
        try:
            self.state = await connection.client().repository(self.project_id)
        except ApiError:
            return
        self.refresh_button.set_visibility(bool(self.state.get('remote')))
        self.render()
        if fetch and self.state.get('remote'):
            background_tasks.create(self.refresh(), name='repository-refresh')

    async def refresh(self) -> None:
        if self.fetching:
            return
        self.fetching = True
        self.freshness.text = 'fetching…'
        self.refresh_button.disable()
        try:
            self.state = await connection.client().refresh_repository(self.project_id)
            await self.on_refreshed()
        except ApiError as exc:
            if self.state is not None:
                self.state = {**self.state, 'error': exc.detail, 'error_code': exc.body.get('reason') or exc.error}
        finally:
            self.fetching = False
            self.refresh_button.enable()
            self.render()

    def render(self) -> None:
        if self.state is None or self.fetching:
            return
        self.freshness.text = '· ' + fetched_text(self.state, datetime.now(UTC))
        error = self.state.get('error')
        self.error.text = f'Last fetch failed ({self.state.get("error_code")}): {error}' if error else ''
        self.error.set_visibility(bool(error))
