"""Projects for operators: New project (`/projects/new`), a project's Settings (`/projects/{id}/settings`) and
deleting it. Builders see the settings read-only. Every rule is the server's: a refused save shows the 422's
messages beside their boxes, a refused delete (409 while runs are active) says so in words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.badges_panel import badges_panel
from app.pages.caches_panel import caches_panel
from app.pages.project_form_view import ProjectFormView
from app.pages.push_panel import push_panel
from app.pages.repository_settings import stored_text
from app.pages.signin import signed_in
from app.pages.theme import frame, retitle_page
from app.pages.variables_panel import variables_panel
from app.pages.widgets import correlation_chip, error_notice, reload_button
from app.state import connection
from app.state.edit_conflict import after_own_save, conflict_text, edit_body, is_edit_conflict
from app.state.error_text import in_words
from app.state.form_problems import delete_refusal, field_errors
from app.state.me import is_operator, who_am_i
from app.state.project_form import FIELDS, ProjectDraft, create_body, draft_from, saved_text, update_body
from app.state.text import shown

READONLY_NOTE = 'Only operators can change settings.'
EDIT_VERSION = 'edit_version'  # what a project's edit names to be refused if another changed it meanwhile
Action = Callable[[], Awaitable[None]]


class Outcome:
    """The line above a form's button: a refusal in words (with the correlation chip), or what was done."""

    def __init__(self) -> None:
        self.box = ui.column().classes('w-full gap-1').props('aria-live=polite data-testid=form-result')

    def failed(self, text: str, exc: ApiError | None = None, *, reload: Action | None = None) -> None:
        """`reload`: what Reload beside the words does (an edit_conflict's)."""
        self.box.clear()
        with self.box, ui.element('div').classes('w-full rb-banner rb-banner-red').props('role=alert'):
            ui.label(text).props('data-testid=form-error')
            if exc is not None or reload is not None:
                with ui.row().classes('items-center gap-2'):
                    if exc is not None:
                        correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')
                    if reload is not None:
                        reload_button(reload, 'settings-reload')

    def done(self, text: str) -> None:
        self.box.clear()
        with self.box:
            ui.label(text).classes('text-sm text-positive').props('data-testid=form-saved')

    def clear(self) -> None:
        self.box.clear()


def refused(view: ProjectFormView, outcome: Outcome, exc: ApiError, doing: str, *, conflict_field: str = '') -> None:
    """A refused POST / PATCH: messages beside their boxes, the rest (or an outage) in words above the button."""
    errors = field_errors(exc.status, exc.body, FIELDS, conflict_field=conflict_field) if exc.status < 500 else {}
    rest = view.show_errors(errors)
    if not errors or rest:
        outcome.failed(rest or in_words(exc, doing), exc)
    else:
        outcome.failed('Check the fields marked in red.', exc)


def not_for_builders(text: str) -> None:
    with ui.element('div').classes('w-full rb-banner rb-banner-amber').props('role=note data-testid=readonly-note'):
        ui.label(text)


@ui.page('/projects/new')
@signed_in
async def new_project_page() -> None:
    me = await who_am_i(fresh=True)
    with frame('New project'):
        ui.label('New project').classes('text-xl font-bold').props('role=heading aria-level=1')
        if not is_operator(me):
            not_for_builders('Only operators can create projects.')
            return
        try:
            teams = await connection.client().teams()
        except ApiError:
            teams = []
        view = ProjectFormView(
            ProjectDraft(team_id=teams[0]['id'] if teams else None), new=True, readonly=False, teams=teams
        )
        outcome = Outcome()

        async def create() -> None:
            body, problems = create_body(view.draft())
            view.show_errors(problems)
            if problems:
                outcome.failed('Check the fields marked in red.')
                return
            outcome.clear()
            button.disable()
            button.props('loading')
            try:
                project = await connection.client().create_project(body)
            except ApiError as exc:
                refused(view, outcome, exc, 'create the project', conflict_field='id')
                return
            finally:
                button.enable()
                button.props(remove='loading')
            view.forget_secrets()
            ui.navigate.to(f'/projects/{project["id"]}')

        with ui.row().classes('items-center gap-2'):
            button = ui.button('Create project', icon='add', on_click=create).props('data-testid=create-project')
            button.classes('rb-tap')
            ui.label('The server checks that it can read the repository and its base branch.').classes(
                'text-xs opacity-70'
            )


@ui.page('/projects/{project_id}/settings')
@signed_in
async def project_settings_page(project_id: str) -> None:
    client = connection.client()
    try:
        project = await client.get_project(project_id)
    except ApiError as exc:
        with frame('Settings'):
            error_notice(ui.column(), exc, f'open the settings of project {project_id}')
        return
    operator = is_operator(await who_am_i(fresh=True))
    with frame(settings_title(project)):
        with ui.row().classes('items-baseline gap-2'):
            name_link = ui.link(shown(project['name']), f'/projects/{project_id}').classes('rb-tap-link')
            name_link.props('dir=auto data-testid=settings-project-name')
            ui.label('/ Settings').classes('text-xl font-bold').props('role=heading aria-level=1')
        if not operator:
            not_for_builders(READONLY_NOTE)
        # the project as the form was filled with it (opened, read again by Reload, or as its own saves left it):
        # what Save compares the form with, and whose edit version it names
        state: dict[str, Any] = {'project': project}
        view = ProjectFormView(
            draft_from(project), new=False, readonly=not operator, stored_credentials=stored_kind(project)
        )
        if not operator:
            variables_panel(project, readonly=True)
            push_panel(project, readonly=True)
            await badges_panel(project_id, readonly=True)
            await caches_panel(project_id)  # a builder may clear them too
            return
        outcome = Outcome()

        def own_save(answer: dict[str, Any]) -> None:
            """A panel of this page saved a setting of its own: the form's next Save names the version that made."""
            state['project'] = after_own_save(state['project'], answer, EDIT_VERSION)

        def show_name(now: dict[str, Any]) -> None:
            """The heading and the tab's title name the project as the form now has it (renamed elsewhere, or here)."""
            name_link.text = shown(now['name'])
            retitle_page(settings_title(now))

        async def reload() -> None:
            try:
                now = await connection.client().get_project(project_id)
            except ApiError as exc:
                outcome.failed(in_words(exc, 'read the settings again'), exc, reload=reload)
                return
            state['project'] = now
            view.fill(draft_from(now), stored_kind(now))
            show_name(now)
            outcome.clear()
            ui.notify(
                f'The form shows “{shown(now["name"])}” as it is now: make your change again, then Save.',
                position='bottom',
                timeout=4000,
            )

        async def save() -> None:
            read = state['project']
            body, problems = update_body(view.draft(), read)
            view.show_errors(problems)
            if problems:
                outcome.failed('Check the fields marked in red.')
                return
            if not body:
                outcome.done('Nothing changed.')
                return
            button.disable()
            button.props('loading')
            try:
                saved = await connection.client().update_project(project_id, edit_body(read, body, EDIT_VERSION))
            except ApiError as exc:
                if is_edit_conflict(exc.status, exc.error):  # what was typed stays until Reload
                    view.show_errors({})
                    outcome.failed(conflict_text(shown(read['name']), 'project'), exc, reload=reload)
                else:
                    refused(view, outcome, exc, 'save the settings')
                return
            finally:
                button.enable()
                button.props(remove='loading')
            own_save(saved)
            show_name(saved)
            view.forget_secrets()
            view.credentials.value = 'keep'
            view.source_has_token = bool((saved.get('issue_source') or {}).get('token'))
            view.stored_label.text = stored_text(stored_kind(saved))
            outcome.done(saved_text(body))

        button = ui.button('Save', icon='save', on_click=save).props('data-testid=save-settings').classes('rb-tap')
        variables_panel(project, readonly=False, saved=own_save)
        push_panel(project, readonly=False, saved=own_save)
        await badges_panel(project_id, readonly=False)
        await caches_panel(project_id)
        danger_zone(project)


def settings_title(project: dict[str, Any]) -> str:
    return f'{project["name"]} · Settings'


def stored_kind(project: dict[str, Any]) -> str | None:
    """The kind of git credentials the project has stored (never the secret), None for none."""
    return project.get('credentials_kind') if project.get('has_credentials') else None


def danger_zone(project: dict[str, Any]) -> None:
    ui.separator().classes('my-4')
    with ui.column().classes('w-full gap-1 rb-banner rb-banner-red').props('data-testid=danger-zone'):
        ui.label('Delete this project').classes('font-medium').props('role=heading aria-level=2')
        ui.label('Its runs and their output, its backlog and AFK claims go with it; the audit log keeps its entries.')
        ui.button('Delete project…', icon='delete', color='negative', on_click=lambda: delete_dialog(project)).props(
            'data-testid=delete-project'
        ).classes('rb-tap')


def delete_dialog(project: dict[str, Any]) -> None:
    """Asks to type the project id (as a person would for a repository on a forge); a 409 says which runs are
    still active, with links to them."""
    name, project_id = shown(project['name']), project['id']
    with ui.dialog() as dialog, ui.card().classes('w-full max-w-lg gap-2').props('role=alertdialog'):
        ui.label(f'Delete project {name}?').classes('text-lg font-bold').props('role=heading aria-level=2 dir=auto')
        ui.label('This cannot be undone.').classes('text-sm')
        typed = ui.input(f'Type {project_id} to confirm').classes('w-full')
        typed.props('data-testid=delete-confirm-input spellcheck=false autocomplete=off')
        message = ui.column().classes('w-full gap-1').props('aria-live=polite data-testid=delete-result')

        async def delete() -> None:
            message.clear()
            button.disable()
            try:
                await connection.client().delete_project(project_id)
            except ApiError as exc:
                button.enable()
                if exc.status != 409:
                    error_notice(message, exc, f'delete {name}')
                    return
                with message, ui.element('div').classes('w-full rb-banner rb-banner-red').props('role=alert'):
                    ui.label(delete_refusal(exc.body, name)).props('data-testid=delete-refused')
                    with ui.row().classes('gap-2 flex-wrap'):
                        for run_id in exc.blocking_runs:
                            ui.link(run_id, f'/runs/{run_id}').classes('font-mono text-sm rb-tap-link')
                return
            dialog.close()
            ui.notify(f'Deleted project {name}.', type='positive', position='bottom')
            ui.navigate.to('/')

        with ui.row().classes('w-full justify-end'):
            ui.button('Cancel', on_click=dialog.close).props('flat').classes('rb-tap')
            button = ui.button('Delete', icon='delete', color='negative', on_click=delete)
            button.props('data-testid=delete-confirm').classes('rb-tap')
        button.bind_enabled_from(typed, 'value', backward=lambda value: (value or '').strip() == project_id)
    dialog.on('hide', dialog.delete)
    dialog.open()
