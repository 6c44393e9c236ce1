"""Who this browser is signed in as (team mode): the token lives in NiceGUI's per-browser user storage."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from nicegui import app as web_app

TOKEN_KEY = 'api_token'
PERSON_KEY = 'person'
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


def login_url(next_path: str | None) -> str:
    """Pure: the login page that comes back to next_path."""
    target = safe_next(next_path)
    return LOGIN_PATH if target == '/' else f'{LOGIN_PATH}?next={quote(target, safe="")}'


def _storage() -> dict | None:
    try:
        return web_app.storage.user
    except (RuntimeError, AssertionError):  # no browser request in this context
        return None


def current_token() -> str | None:
    storage = _storage()
    return storage.get(TOKEN_KEY) if storage is not None else None


def current_person() -> dict | None:
    storage = _storage()
    return storage.get(PERSON_KEY) if storage is not None else None


def sign_in(token: str, person: dict) -> None:
    storage = web_app.storage.user
    storage[TOKEN_KEY] = token
    storage[PERSON_KEY] = {'name': person.get('name'), 'role': person.get('role'), 'user_id': person.get('user_id')}


def sign_out(token: str | None = None) -> None:
    """Forget this browser's token (only if it is still `token`, when given: a newer sign-in stays)."""
    storage = _storage()
    if storage is None:
        return
    if token is None or storage.get(TOKEN_KEY) == token:
        storage.pop(TOKEN_KEY, None)
        storage.pop(PERSON_KEY, None)
