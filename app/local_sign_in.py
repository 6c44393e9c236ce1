"""Local mode asks who is there, the way Jupyter does (docs/security.md, "Local mode: who is at the keyboard").

A login-free UI acts with the local operator's API token for whoever reaches it, so without a check any other
account on the machine (which can connect to 127.0.0.1 as well) could drive it. The server keeps a random
sign-in token in the data dir (0600, the data dir 0700), prints the URL with it at start (`?token=...`), and the
first visit with it leaves a cookie (HttpOnly, SameSite=Strict) derived from the token; every UI request without
that cookie or the token is refused (`app/api/sign_in_gate.py`). The API keeps its own Bearer tokens.

Pure decisions (`decide`) beside the small file I/O they need; shared by the server, its gate and the CLI
(`runboard open`), so this module sits outside both layers like `app/core/origins.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from app import ui_secret

TOKEN_FILE = 'sign-in-token'
SERVER_FILE = 'local-server.json'  # where the last local server of this data dir answers (for `runboard open`)
QUERY_PARAMETER = 'token'
COOKIE_PREFIX = 'runboard_local_'
COOKIE_MAX_AGE_SECONDS = 30 * 24 * 60 * 60
_COOKIE_LABEL = b'runboard local sign-in cookie v1'


def load_or_create(data_dir: Path) -> str:
    """The data dir's sign-in token, created once (secrets.token_urlsafe, 0600). The data dir is made (or set)
    0700: only its owner may read the token, the database and the API token beside it."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if data_dir.stat().st_uid == os.geteuid():
        data_dir.chmod(0o700)
    return ui_secret.load_or_create(data_dir / TOKEN_FILE)


def read_token(data_dir: Path) -> str | None:
    try:
        return (data_dir / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def cookie_name(port: int) -> str:
    """One cookie per port: browsers share cookies between the ports of one host, and two local servers (two
    data dirs) must not overwrite each other's."""
    return f'{COOKIE_PREFIX}{port}'


def cookie_value(token: str) -> str:
    """Pure: the cookie a signed-in browser carries, derived from the sign-in token (never the token itself, and
    unrelated to the API token of credentials.json)."""
    return hmac.new(token.encode(), _COOKIE_LABEL, hashlib.sha256).hexdigest()


def set_cookie_header(port: int, token: str) -> str:
    return (
        f'{cookie_name(port)}={cookie_value(token)}; Path=/; Max-Age={COOKIE_MAX_AGE_SECONDS}; '
        'HttpOnly; SameSite=Strict'
    )


def sign_in_url(base_url: str, token: str, path: str = '/') -> str:
    """Pure: the link printed at start ('http://127.0.0.1:8080/?token=...')."""
    return f'{base_url.rstrip("/")}{path}?{urlencode({QUERY_PARAMETER: token})}'


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison; nothing given is no match."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class Verdict:
    action: Literal['pass', 'sign_in', 'refuse']
    location: str | None = None  # sign_in: where to send the browser (the same URL without the token)


def decide(
    *,
    kind: Literal['http', 'websocket'],
    method: str,
    path: str,
    query: str,
    cookie: str | None,
    token: str,
    api: bool,
) -> Verdict:
    """Pure: what the gate does with one request. `api`: the request belongs to the API, which asks for its own
    Bearer token (and whose health probes stay open). `cookie`: the value of this server's cookie, if any."""
    if api:
        return Verdict('pass')
    pairs = parse_qsl(query, keep_blank_values=True)
    given = next((value for name, value in pairs if name == QUERY_PARAMETER), None)
    if same(given, token):
        if kind == 'http' and method in ('GET', 'HEAD'):
            rest = urlencode([(name, value) for name, value in pairs if name != QUERY_PARAMETER])
            return Verdict('sign_in', location=path + (f'?{rest}' if rest else ''))
        return Verdict('pass')
    if same(cookie, cookie_value(token)):
        return Verdict('pass')
    return Verdict('refuse')


def write_server_file(data_dir: Path, base_url: str) -> None:
    """Remember where this data dir's local server answers (0600), for `runboard open`."""
    path = data_dir / SERVER_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, 'w') as handle:
        json.dump({'url': base_url, 'pid': os.getpid()}, handle)


def read_server_url(data_dir: Path) -> str | None:
    try:
        return str(json.loads((data_dir / SERVER_FILE).read_text())['url'])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_local_token(credentials_path: Path) -> str | None:
    """The local operator's API token from the credentials file the server writes in the data dir (credentials.json),
    for the CLI and a UI-only process of the same data dir; None when there is none to read."""
    try:
        return json.loads(credentials_path.read_text())['token']
    except (OSError, ValueError, KeyError):
        return None
