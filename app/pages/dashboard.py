"""Dashboard: project cards and the latest runs (filters in the URL)."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.client import ApiError
from app.pages.cards import project_cards
from app.pages.operator_only import operator_only
from app.pages.provenance_chip import read_about
from app.pages.runs_list import runs_list
from app.pages.settings_page import new_project_button
from app.pages.signin import signed_in
from app.pages.theme import frame
from app.state import connection
from app.state.runs_store import RunFilters, RunsStore


@ui.page('/')
@signed_in
async def dashboard(request: Request) -> None:
    """The runs list's filters come from the URL query (RunFilters.query: project, status, kind, on, by, since,
    until, q), so a reload or a shared link shows the same list."""
    with frame('Dashboard'):
        about = await read_about()
        if about and about.get('sandbox_warning'):  # runs that can read this server: nobody may miss it
            with (
                ui.element('div')
                .classes('w-full rb-banner rb-banner-red')
                .props('role=alert data-testid=sandbox-warning')
            ):
                ui.label(about['sandbox_warning'])
        if about and about.get('limits_warning'):  # limits an operator asked for that do not hold here
            with (
                ui.element('div')
                .classes('w-full rb-banner rb-banner-amber')
                .props('role=status data-testid=limits-warning')
            ):
                ui.label(about['limits_warning'])
        operator_only(new_project_button().classes('self-end'))
        await project_cards()
        ui.label('Latest runs').classes('text-lg font-medium').props('role=heading aria-level=2')
        try:
            projects = await connection.client().list_projects()
        except ApiError:
            projects = []
        filters = RunFilters.from_query(request.query_params)
        await runs_list(store=RunsStore(filters=filters), url_path='/', projects=projects)
