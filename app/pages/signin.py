"""Team-mode sign-in: the /login page and the guard every other page wears. Signing in and out ends with a
form post (/login/session, /logout) whose answer gives the browser a new session cookie (state/session.py)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from nicegui import app as web_app
from nicegui import ui
from nicegui.storage import request_contextvar
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.client import ApiError
from app.core.origins import BROWSER_ADDRESS_HEADER
from app.pages.theme import LOGOUT_PATH, frame, post_form
from app.state import connection, session


def signed_in(page: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Page decorator (under @ui.page): with sign-in required, a browser without a token goes to /login."""

    @functools.wraps(page)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        if connection.sign_in_required() and not session.current_token():
            request = request_contextvar.get()
            here = request.url.path + (f'?{request.url.query}' if request.url.query else '') if request else '/'
            return RedirectResponse(session.login_url(here), status_code=303)
        return await page(*args, **kwargs)

    return guarded


def explain(exc: ApiError) -> str:
    """Pure: what the login page says about a failed token check."""
    if exc.status == 401:
        return 'This token is not valid (unknown or revoked). Check it and try again.'
    if exc.error == 'too_many_failed_sign_ins':
        return f'Too many failed sign-ins from this address. Try again in {exc.retry_after or 60} seconds.'
    if exc.is_network:
        return f'Could not check the token: {exc.detail} Try again in a moment.'
    return f'The server refused the sign-in: {exc}'


async def check_token(token: str, request: Request | None) -> dict:
    """Who a typed token is, asked of the API for the browser of `request` (whose failed tries are counted)."""
    address = request.client.host if request is not None and request.client else ''
    async with connection.anonymous_client(token, timeout=10.0) as api:
        return (await api.request('GET', '/me', headers={BROWSER_ADDRESS_HEADER: address})).data


@ui.page('/login')
async def login_page(next: str | None = None, ended: str | None = None) -> Any:  # noqa: A002  (the query's name)
    target = session.safe_next(next)
    request = request_contextvar.get()
    if not connection.sign_in_required():
        return RedirectResponse(target, status_code=303)
    with frame('Sign in', show_person=False):
        with ui.card().classes('w-full max-w-md mx-auto gap-3'):
            ui.label('Sign in to Runboard').classes('text-lg font-bold').props('role=heading aria-level=1')
            if ended:  # sent here because the server refused this browser's token
                ui.label(
                    'You were signed out: the token this browser used no longer works (it was revoked, or you were '
                    'removed from your teams). Sign in with another token.'
                ).classes('text-sm rb-text-caution').props('role=status data-testid=signed-out-why')
            ui.label(
                'Paste your API token. An operator of your team gives you one: Settings → People and tokens → '
                'Add person. Once signed in, you make your own under Your tokens.'
            ).classes('text-sm opacity-80')
            ui.label(
                'On a new server with nobody yet, its administrator makes the first person, on a machine that reaches '
                'its database, with runboard users add NAME --team TEAM --role operator --admin.'
            ).classes('text-xs opacity-70').props('data-testid=first-admin-hint')
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
                    person = await check_token(token, request)
                except ApiError as exc:
                    error.text = explain(exc)
                    error.set_visibility(True)
                    return
                finally:
                    button.enable()
                post_form(SESSION_PATH, {'ticket': session.begin_sign_in(token, person), 'next': target})

            token_input.on('keydown.enter', submit)
            button = ui.button('Sign in', on_click=submit).props('data-testid=sign-in')
    return None


SESSION_PATH = '/login/session'


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body())[:8192].decode('utf-8', 'replace')
    return {name: values[0] for name, values in parse_qs(body).items()}


@web_app.post(SESSION_PATH, include_in_schema=False)
async def finish_sign_in(request: Request) -> RedirectResponse:
    """The login page's hand-over: signed in under a new session id, then on to where the person was going."""
    form = await _form(request)
    target = session.safe_next(form.get('next'))
    if not connection.sign_in_required():
        return RedirectResponse(target, status_code=303)
    if not await session.finish_sign_in(request, form.get('ticket', '')):
        return RedirectResponse(session.login_url(target), status_code=303)
    return RedirectResponse(target, status_code=303)


@web_app.post(LOGOUT_PATH, include_in_schema=False)
async def finish_sign_out(request: Request) -> RedirectResponse:
    """Signed out with a new session id: the old cookie is worth nothing."""
    if connection.sign_in_required():
        await session.renew(request)
    return RedirectResponse(session.LOGIN_PATH, status_code=303)
