"""Dashboard: project cards and the latest runs (filters in the URL)."""

from __future__ import annotations

from nicegui import ui

from app.client import ApiError
from app.pages.cards import project_cards
from app.pages.runs_list import runs_list
from app.pages.signin import signed_in
from app.pages.theme import frame
from app.state import connection


@ui.page('/')
@signed_in
async def dashboard(
    project: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    on: str | None = None,  # the runs list's branch filter
    by: str | None = None,  # and its person filter
) -> None:
    with frame('Dashboard'):
        await project_cards()
        ui.label('Latest runs').classes('text-lg font-medium').props('role=heading aria-level=2')
        try:
            projects = await connection.client().list_projects()
        except ApiError:
            projects = []
        await runs_list(project=project, status=status, kind=kind, branch=on, user=by, url_path='/', projects=projects)
