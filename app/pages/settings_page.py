"""`/settings` (operators): the projects (each with its Settings page, and New project) and the way to people
and tokens. Builders are told it is for operators, and where their own tokens are (the header shows them no Settings
link: operator_only.py, but "Your tokens")."""

from __future__ import annotations

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.signin import signed_in
from app.pages.theme import frame
from app.pages.widgets import error_notice, list_note
from app.state import connection
from app.state.me import is_operator, who_am_i
from app.state.text import shown


def new_project_button() -> ui.button:
    return (
        ui.button('New project', icon='add', on_click=lambda: ui.navigate.to('/projects/new'))
        .props('outline data-testid=new-project')
        .classes('rb-tap')
    )


@ui.page('/settings')
@signed_in
async def settings_page() -> None:
    me = await who_am_i(fresh=True)
    with frame('Settings'):
        ui.label('Settings').classes('text-xl font-bold').props('role=heading aria-level=1')
        if not is_operator(me):
            with ui.element('div').classes('rb-banner rb-banner-amber').props('role=note data-testid=readonly-note'):
                ui.label('Settings are for operators. Ask an operator of your team to change a project.')
                with ui.row().classes('items-center gap-1'):
                    ui.label('Your own API tokens are yours to manage:')
                    ui.link('Your tokens', '/settings/tokens').classes('rb-tap-link').props('data-testid=open-tokens')
            return
        with ui.row().classes('w-full items-center'):
            ui.label('Projects').classes('text-lg font-medium').props('role=heading aria-level=2')
            ui.space()
            new_project_button()
        box = ui.column().classes('w-full gap-0').props('role=list data-testid=settings-projects')
        try:
            projects = await connection.client().list_projects()
        except ApiError as exc:
            error_notice(box, exc, 'list the projects')
            projects = []
        with box:
            for project in projects:
                with attrs(
                    ui.row().classes('w-full items-center gap-3 rb-row px-2').props('role=listitem'),
                    {'data-project': project['id']},
                ):
                    ui.label(shown(project['name'])).classes('font-medium').props('dir=auto')
                    ui.label(project['id']).classes('font-mono text-xs opacity-70')
                    ui.space()
                    ui.link('Settings', f'/projects/{project["id"]}/settings').classes('rb-tap-link')
            if not projects:
                list_note('No projects yet.')
        ui.label('People and tokens').classes('text-lg font-medium mt-4').props('role=heading aria-level=2')
        with ui.row().classes('items-center gap-2'):
            ui.label('Who is in your teams, their API tokens; add a person, create or revoke a token.').classes(
                'text-sm'
            )
            ui.link('Open', '/settings/tokens').classes('rb-tap-link').props('data-testid=open-tokens')
