"""Project cards on the dashboard (grown by the AFK issue: auto badge, pause, Reset)."""
from __future__ import annotations

from nicegui import ui

from app.client import ApiError
from app.state import connection, live


async def project_cards() -> None:
    box = ui.row().classes('w-full gap-4')

    async def render() -> None:
        try:
            projects = await connection.client().list_projects()
        except ApiError as exc:
            box.clear()
            with box:
                ui.label(f'Could not load projects: {exc}').classes('text-negative')
            return
        box.clear()
        with box:
            for project in projects:
                with ui.card().classes('w-full sm:w-80').props(f'data-project={project["id"]}'):
                    ui.label(project['name']).classes('text-lg font-bold')
                    ui.label(f'{project["active_runs"]} active · base {project["base_branch"]}').classes('text-sm')
                    ui.button('Run', icon='play_arrow',
                              on_click=lambda p=project: ui.navigate.to(f'/projects/{p["id"]}')).classes('rb-tap')

    await render()
    live.follow(lambda event: render() if event.get('type') in ('run', 'project') else None, on_reconnect=render)
