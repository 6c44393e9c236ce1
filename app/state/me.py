"""Who the page's person is (GET /api/me), and what their role lets the UI offer. The server decides every
request on its own (a builder's PATCH is a 403 whatever the page shows); the UI only leaves out controls that
would be refused. One answer serves the pages of one client (one token) for a short while."""

from __future__ import annotations

import time
import weakref
from typing import Any

from app.client import ApiError, RunboardClient
from app.core.permissions import may_control_afk
from app.state import connection

ME_SECONDS = 30.0
_answers: weakref.WeakKeyDictionary[RunboardClient, tuple[float, dict[str, Any]]] = weakref.WeakKeyDictionary()


async def who_am_i(*, fresh: bool = False) -> dict[str, Any] | None:
    """{user_id, name, role, team_ids}, or None when the server did not say (offline, signed out)."""
    client = connection.client()
    cached = _answers.get(client)
    if cached and not fresh and time.monotonic() - cached[0] < ME_SECONDS:
        return cached[1]
    try:
        me = await client.me()
    except ApiError:
        return None
    _answers[client] = (time.monotonic(), me)
    return me


def is_operator(me: dict[str, Any] | None) -> bool:
    """Pure: may this person configure projects, people and tokens? Unknown: no."""
    return bool(me) and (me or {}).get('role') == 'operator'


def controls_afk(me: dict[str, Any] | None) -> bool:
    """Pure: may this person switch a project's AFK loop on or off and Reset it? The server's own rule
    (app.core.permissions); unknown: no."""
    return may_control_afk((me or {}).get('role'))
