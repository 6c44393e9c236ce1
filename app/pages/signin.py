"""Team-mode sign-in: the /login page and the guard every other page wears."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui
from starlette.responses import RedirectResponse

from app.client import ApiError
from app.state import connection, session


def signed_in(page: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Page decorator (under @ui.page): with sign-in required, a browser without a token goes to /login."""

    @functools.wraps(page)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        if connection.sign_in_required() and not session.current_token():
            from nicegui.storage import request_contextvar

            request = request_contextvar.get()
            here = request.url.path + (f'?{request.url.query}' if request.url.query else '') if request else '/'
            return RedirectResponse(session.login_url(here), status_code=303)
        return await page(*args, **kwargs)

    return guarded


def explain(exc: ApiError) -> str:
    """Pure: what the login page says about a failed token check."""
    if exc.status == 401:
        return 'This token is not valid (unknown or revoked). Check it and try again.'
    if exc.is_network:
        return f'Could not check the token: {exc.detail} Try again in a moment.'
    return f'The server refused the sign-in: {exc}'


async def check_token(token: str) -> dict:
    async with connection.anonymous_client(token, timeout=10.0) as api:
        return (await api.request('GET', '/me')).data


@ui.page('/login')
async def login_page(next: str | None = None) -> Any:  # noqa: A002  (the query parameter is called next)
    target = session.safe_next(next)
    if not connection.sign_in_required():
        return RedirectResponse(target, status_code=303)
    from app.pages.theme import frame

    with frame('Sign in', show_person=False):
        with ui.card().classes('w-full max-w-md mx-auto gap-3'):
            ui.label('Sign in to Runboard').classes('text-lg font-bold').props('role=heading aria-level=1')
            ui.label(
                'Paste your API token (an operator creates it with '
                '"runboard users add NAME --team TEAM --role builder").'
            ).classes('text-sm opacity-80')
            token_input = (
                ui.input('API token', password=True, password_toggle_button=True)
                .classes('w-full')
                .props('autofocus autocomplete=off data-testid=token-input')
            )
            error = ui.label('').classes('text-negative text-sm').props('role=alert data-testid=login-error')
            error.set_visibility(False)

            async def submit() -> None:
                token = (token_input.value or '').strip()
                if not token:
                    error.text = 'Paste your API token first.'
                    error.set_visibility(True)
                    return
                button.disable()
                try:
                    person = await check_token(token)
                except ApiError as exc:
                    error.text = explain(exc)
                    error.set_visibility(True)
                    return
                finally:
                    button.enable()
                session.sign_in(token, person)
                ui.navigate.to(target)

            token_input.on('keydown.enter', submit)
            button = ui.button('Sign in', on_click=submit).props('data-testid=sign-in')
    return None


def sign_out() -> None:
    session.sign_out()
    ui.navigate.to(session.LOGIN_PATH)
