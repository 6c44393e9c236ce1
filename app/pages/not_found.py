"""An address with no page, or a page of something that is not there (a run id mistyped, a project deleted): Runboard's
own header, what is missing and a way on, answered with 404. NiceGUI's default is a bare face and Starlette's
exception text with no way back; a page that found nothing answered 200 with one red line. `/runs`, where people look
for the runs list, is the dashboard's list with the same filters."""

from __future__ import annotations

import inspect

from nicegui import Client, ui
from nicegui import app as web_app
from nicegui.page import page
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.pages.theme import frame


def not_found_page(request: Request, detail: str) -> Response:
    with Client(page(''), request=request) as client, frame('Not found', show_person=False):
        ui.label('Not found').classes('text-2xl font-medium').props('role=heading aria-level=1')
        ui.label(detail).props('data-testid=not-found')
        ui.link('Dashboard: projects and the latest runs', '/').classes('rb-tap-link')
    return client.build_response(request, 404)


def register() -> None:
    nicegui_not_found = web_app.exception_handlers[404]

    async def no_page(request: Request, exc: Exception) -> Response:
        endpoint = request.scope.get('endpoint')
        if endpoint is not None and endpoint is not web_app and not request.scope.get('nicegui_page_path'):
            answer = nicegui_not_found(request, exc)  # a file or resource route: NiceGUI answers as it does (JSON)
            return await answer if inspect.isawaitable(answer) else answer
        return not_found_page(request, f'Runboard has no page at {request.url.path}.')

    web_app.add_exception_handler(404, no_page)

    @web_app.get('/runs', include_in_schema=False)
    def runs_list(request: Request) -> RedirectResponse:
        query = request.url.query
        return RedirectResponse('/' + (f'?{query}' if query else ''), status_code=307)
