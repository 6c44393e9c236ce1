"""Dashboard: projects and their latest runs."""
from __future__ import annotations

from nicegui import ui

from app.client import ApiError
from app.pages.theme import duration, frame, relative, status_badge
from app.state import connection, live


@ui.page('/')
async def dashboard() -> None:
    with frame('Dashboard'):
        projects_box = ui.row().classes('w-full gap-4')
        ui.label('Latest runs').classes('text-lg font-medium')
        runs_box = ui.column().classes('w-full gap-1')

    async def render() -> None:
        try:
            projects = await connection.client().list_projects()
            runs = (await connection.client().list_runs(limit=20))['items']
        except ApiError as exc:
            projects_box.clear()
            with projects_box:
                ui.label(f'Could not load: {exc}').classes('text-negative')
            return
        projects_box.clear()
        with projects_box:
            for project in projects:
                with ui.card().classes('w-full sm:w-80').props(f'data-project={project["id"]}'):
                    ui.label(project['name']).classes('text-lg font-bold')
                    ui.label(f'{project["active_runs"]} active · base {project["base_branch"]}').classes('text-sm')
                    ui.button('Run', icon='play_arrow',
                              on_click=lambda p=project: ui.navigate.to(f'/projects/{p["id"]}')).classes('rb-tap')
        runs_box.clear()
        with runs_box:
            for run in runs:
                with ui.row().classes('w-full items-center gap-3 cursor-pointer') \
                        .on('click', lambda r=run: ui.navigate.to(f'/runs/{r["id"]}')):
                    status_badge(run['status'])
                    ui.link(run['id'], f'/runs/{run["id"]}').classes('font-mono text-sm')
                    ui.label(f'{run["project_id"]} · {run["branch_name"]} · {run["depth_level"]}').classes('text-sm')
                    ui.label(relative(run['created_at'])).classes('text-xs opacity-70')
                    ui.label(duration(run)).classes('text-xs opacity-70')

    await render()
    live.follow(lambda event: render() if event.get('type') in ('run', 'project') else None, on_reconnect=render)
