"""The browser's own time zone, as the person's forms read times in it (the Run form's "Run at", a new schedule's
zone). Asked of the connected tab, so only from a handler of that tab (a click), never while the page is built."""

from __future__ import annotations

import contextlib

from nicegui import ui


async def browser_zone() -> str:
    """The tab's IANA zone ('Europe/Berlin'); '' when the browser does not answer (the caller then takes UTC)."""
    with contextlib.suppress(Exception):  # gone, or no answer within run_javascript's timeout
        return str(await ui.run_javascript('Intl.DateTimeFormat().resolvedOptions().timeZone') or '')
    return ''
