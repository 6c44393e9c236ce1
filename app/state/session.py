"""Who this browser is signed in as (team mode): the token lives in NiceGUI's per-browser user storage, under
the session id of the browser's signed cookie.

Signing in and out gives the browser a NEW session id (session fixation: a cookie planted or copied before
sign-in must not be signed in after it), and the old id's storage is emptied. A new cookie can only be set on
an HTTP answer, so the login page (whose button acts over the websocket) leaves a one-time hand-over under
the old id and posts its ticket to /login/session, whose answer carries the new cookie (pages/signin.py)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from urllib.parse import quote, urlsplit

from nicegui import app as web_app
from starlette.requests import Request

TOKEN_KEY = 'api_token'
PERSON_KEY = 'person'
HANDOVER_KEY = 'sign_in_handover'
HANDOVER_SECONDS = 120
LOGIN_PATH = '/login'


def safe_next(target: str | None) -> str:
    """Pure: where to go after signing in: a path on this site only (never another host, scheme or the login
    page itself), else '/'."""
    if not target or not target.startswith('/') or target.startswith('//') or '\\' in target:
        return '/'
    if any(ord(ch) < 32 for ch in target):
        return '/'
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path == LOGIN_PATH:
        return '/'
    return target


def login_url(next_path: str | None, *, ended: bool = False) -> str:
    """Pure: the login page that comes back to next_path; `ended`: the server refused this browser's token (revoked,
    or its person removed), which the page says."""
    target = safe_next(next_path)
    query = ([] if target == '/' else [f'next={quote(target, safe="")}']) + (['ended=1'] if ended else [])
    return LOGIN_PATH + (f'?{"&".join(query)}' if query else '')


def _storage() -> dict | None:
    try:
        return web_app.storage.user
    except (RuntimeError, AssertionError):  # no browser request in this context
        return None


def current_token() -> str | None:
    storage = _storage()
    return storage.get(TOKEN_KEY) if storage is not None else None


def remember_person(person: dict) -> None:
    """Who is signed in, as the server says now (a role changed since the sign-in)."""
    storage = _storage()
    if storage is not None:
        storage[PERSON_KEY] = person


def current_person() -> dict | None:
    storage = _storage()
    return storage.get(PERSON_KEY) if storage is not None else None


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


async def renew(request: Request) -> None:
    """A new session id for this browser (the answer to `request` sets its cookie); the old id's storage is
    emptied, so whoever holds the old cookie holds nothing."""
    web_app.storage.user.clear()
    new_id = str(uuid.uuid4())
    request.session['id'] = new_id
    # NiceGUI makes a session's storage when a request with its id arrives; this request came with the old one
    await web_app.storage._create_user_storage(new_id)  # noqa: SLF001


async def sign_in(request: Request, token: str, person: dict) -> None:
    """Sign this browser in under a new session id (called while answering `request`)."""
    await renew(request)
    storage = web_app.storage.user
    storage[TOKEN_KEY] = token
    storage[PERSON_KEY] = {'name': person.get('name'), 'role': person.get('role'), 'user_id': person.get('user_id')}


def begin_sign_in(token: str, person: dict) -> str:
    """From a websocket handler (no cookie can be set there): leave the checked token under the current session
    id, for the browser to collect over HTTP with the returned one-time ticket (finish_sign_in)."""
    ticket = secrets.token_urlsafe(32)
    web_app.storage.user[HANDOVER_KEY] = {
        'ticket': _digest(ticket),
        'token': token,
        'person': person,
        'until': time.time() + HANDOVER_SECONDS,
    }
    return ticket


async def finish_sign_in(request: Request, ticket: str) -> bool:
    """The hand-over with this ticket becomes a sign-in under a new session id; False when there is none (wrong
    ticket, already used, expired, or another session's)."""
    storage = _storage()
    handover = storage.get(HANDOVER_KEY) if storage is not None else None
    if not isinstance(handover, dict) or not hmac.compare_digest(
        str(handover.get('ticket', '')).encode(), _digest(ticket).encode()
    ):
        return False  # a wrong ticket leaves the right one in place
    assert storage is not None  # a hand-over was read from it
    storage.pop(HANDOVER_KEY, None)
    if float(handover.get('until', 0)) < time.time():
        return False
    await sign_in(request, handover['token'], handover['person'])
    return True


def sign_out(token: str | None = None) -> None:
    """Forget this browser's token (only if it is still `token`, when given: a newer sign-in stays)."""
    storage = _storage()
    if storage is None:
        return
    if token is None or storage.get(TOKEN_KEY) == token:
        storage.pop(TOKEN_KEY, None)
        storage.pop(PERSON_KEY, None)
