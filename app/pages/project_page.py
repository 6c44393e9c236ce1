"""Project page: the Run form (branch picker, limits, optimistic submit) above the project's runs."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui
from starlette.responses import Response

from app.client import ApiError
from app.pages.afk_controls import afk_controls_section
from app.pages.afk_costs import afk_costs_section
from app.pages.afk_summary import afk_summary_section
from app.pages.attributes import attrs
from app.pages.charts import history_section
from app.pages.instant_row import params_text
from app.pages.not_found import not_found_page
from app.pages.project_tests import project_tests_section
from app.pages.repository_settings import repository_settings
from app.pages.repository_status import RepositoryStatus
from app.pages.run_form_view import PICKER_LIMIT, RunFormView
from app.pages.runs_list import runs_list
from app.pages.signin import signed_in
from app.pages.theme import frame
from app.pages.widgets import error_notice
from app.state import connection
from app.state.me import is_operator, who_am_i
from app.state.run_form import variables_from_query
from app.state.runs_store import RunFilters, RunsStore
from app.state.text import shown


@ui.page('/projects/{project_id}')
@signed_in
async def project_page(
    request: Request,
    project_id: str,
    retry_of: str | None = None,
    branch: str | None = None,
    depth: str | None = None,
    framework: str | None = None,
) -> Response | None:
    """The form's values come from `branch`, `depth`, `framework`, `var[NAME]` and `retry_of`; the runs list's
    filters from the rest of the query (RunFilters.from_query: its branch filter is `on=`)."""
    client = connection.client()
    try:
        project = await client.get_project(project_id)
        branches = await client.branches(project_id, limit=PICKER_LIMIT)
        if branch and branch not in {b['name'] for b in branches}:  # a link to a branch beyond the first page
            branches += [b for b in await client.branches(project_id, q=branch, limit=20) if b['name'] == branch]
    except ApiError as exc:
        if exc.status == 404:
            return not_found_page(request, f'There is no project {project_id}, or it is in a team you are not in.')
        with frame('Project'):
            error_notice(ui.column(), exc, f'open project {project_id}')
        return None
    with frame(project['name']):
        ui.label(shown(project['name'])).classes('text-xl font-bold').props('role=heading aria-level=1 dir=auto')
        with ui.element('nav').classes('flex flex-wrap items-center gap-x-4').props('aria-label="Project pages"'):
            for text, path, test_id in (
                ('Settings', 'settings', 'project-settings-link'),
                ('Notifications', 'notifications', 'project-notifications-link'),
                ('Schedules', 'schedules', 'schedules-link'),
            ):
                attrs(ui.link(text, f'/projects/{project_id}/{path}').classes('rb-tap-link'), {'data-testid': test_id})
        if project.get('runs_on'):
            with ui.row().classes('items-center gap-1 text-sm').props('data-testid=runs-on'):
                ui.label('runs on workers with labels').classes('opacity-70')
                for label in project['runs_on']:
                    ui.chip(label).props('dense outline')
                ui.link('Workers', '/workers').classes('rb-tap-link')
        afk_changes = await afk_controls_section(project_id)  # the dashboard card's AFK controls and states, live
        forms: list[RunFormView] = []

        async def branches_changed() -> None:
            for view in forms:
                await view.reload_branches()

        repository = RepositoryStatus(project, on_refreshed=branches_changed)

        async def settings_saved(_project: dict) -> None:
            await repository.load(fetch=False)
            await branches_changed()

        repository_settings(project, on_saved=settings_saved)
        store = RunsStore(filters=RunFilters.from_query(request.query_params, project=project_id))
        form = RunFormView(
            project,
            branches,
            store,
            retry_of=retry_of,
            branch=branch,
            depth=depth,
            framework=framework,
            variables=variables_from_query(request.query_params.multi_items()),  # var[NAME]=value (Run again)
            operator=is_operator(await who_am_i()),
        )
        forms.append(form)
        await repository.load(fetch=True)
        history_section(project_id, branch=store.filters.branch)
        await project_tests_section(project_id)  # flakiest tests, tests and failures per run (docs/artifacts.md)
        await afk_summary_section(project_id, changes=afk_changes)  # what the AFK loop did in the last 24 h, per issue
        await afk_costs_section(project_id)  # what the AFK runs reported spending, per day and per issue
        ui.label('Runs').classes('text-lg font-medium').props('role=heading aria-level=2')
        form.list_view = await runs_list(
            project=project_id, url_path=f'/projects/{project_id}', store=store, instant_row=True
        )
        form.list_view.on_run_update.append(form.on_run_update)
        form.list_view.on_read_again.append(form.read_busy_marks_again)  # busy marks of runs that ended unseen
        if form.list_view.instant is not None:
            kind = 'retry' if retry_of else 'manual'
            fields = (form.branch, form.depth, form.framework)
            form.list_view.instant.follow(fields, lambda: params_text(form.payload(), kind))
        await form.refresh_quota()
    return None
