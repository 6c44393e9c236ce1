"""The live runs list (dashboard and project page)."""
from __future__ import annotations

from nicegui import ui

from app.client import ApiError
from app.pages.theme import duration, relative, status_badge
from app.state import connection, live


async def runs_list(*, project: str | None = None) -> None:
    box = ui.column().classes('w-full gap-1')

    async def render() -> None:
        try:
            runs = (await connection.client().list_runs(limit=20, project=project))['items']
        except ApiError as exc:
            box.clear()
            with box:
                ui.label(f'Could not load runs: {exc}').classes('text-negative')
            return
        box.clear()
        with box:
            for run in runs:
                with ui.row().classes('w-full items-center gap-3').props(f'data-run={run["id"]}'):
                    status_badge(run['status'])
                    ui.link(run['id'], f'/runs/{run["id"]}').classes('font-mono text-sm')
                    ui.label(f'{run["project_id"]} · {run["branch_name"]} · {run["depth_level"]}').classes('text-sm')
                    ui.label(relative(run['created_at'])).classes('text-xs opacity-70')
                    ui.label(duration(run)).classes('text-xs opacity-70')

    await render()
    live.follow(lambda event: render() if event.get('type') == 'run' else None, project=project,
                on_reconnect=render)
