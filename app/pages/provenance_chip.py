"""EnvProvenance: the header chip of every page saying where its data comes from (mode, server, versions,
database, who you are); amber when the UI and the server are different builds, red while the live stream
is down or the server does not answer, amber while the server's live updates are paused. The words come from
app/state/provenance.py."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from nicegui import background_tasks, ui

from app.build_info import this_build
from app.client import ApiError
from app.pages.attributes import attrs
from app.state import connection, live
from app.state.live_pause import LiveState
from app.state.provenance import Provenance, provenance

ABOUT_SECONDS = 30.0  # how long one GET /about answer serves the pages of one token
_about: dict[Any, tuple[float, dict]] = {}
LEVEL_CLASSES = {'ok': 'rb-prov-ok', 'amber': 'rb-prov-amber', 'red': 'rb-prov-red'}
LEVEL_ICONS = {'ok': 'dns', 'amber': 'warning', 'red': 'cloud_off'}


async def read_about() -> dict | None:
    client = connection.client()
    cached = _about.get(id(client))
    if cached and time.monotonic() - cached[0] < ABOUT_SECONDS:
        return cached[1]
    try:
        about = await client.about()
    except ApiError:
        return None
    _about[id(client)] = (time.monotonic(), about)
    return about


def forget_about() -> None:
    """The next chip of this browser's client asks the server again (what it said of the person changed)."""
    _about.pop(id(connection.client()), None)


class ProvenanceChip:
    def __init__(self) -> None:
        self.about: dict | None = None
        self.loaded = False
        self.connected: bool | None = None
        self.paused = False  # the server's live updates (this tab's banner says so too)
        with ui.button().props('flat dense no-caps color=white data-testid=provenance').classes('rb-prov') as button:
            self.icon = ui.icon('dns').classes('text-base')
            self.label = ui.label('…').classes('text-xs truncate max-w-[40vw] rb-wide-only')
            # a phone shows the short chip whole rather than the sentence cut
            self.short_label = ui.label('…').classes('text-xs rb-narrow-only').props('data-testid=provenance-short')
            with ui.menu().props('data-testid=provenance-details') as self.menu:
                self.details = ui.column().classes('p-3 gap-1 text-sm')
        self.button = button
        live.watch_connection(self.on_connection)
        live.watch_pause(self.on_pause)
        background_tasks.create(self.load(), name='provenance')

    async def load(self) -> None:
        self.about = await read_about()
        self.loaded = True
        self.draw()

    def on_connection(self, state: LiveState) -> None:
        connected = state != 'down'  # paused: the server answered (it said its live updates are paused)
        if connected and self.about is None and self.loaded:
            background_tasks.create(self.load(), name='provenance-again')  # the server is back: ask again
        self.connected = connected
        self.draw()

    def on_pause(self, since: datetime | None) -> None:
        self.paused = since is not None
        self.draw()

    def draw(self) -> None:
        if self.button.is_deleted or not self.loaded:
            return
        server = connection.base_url() if connection.is_remote() else None
        chip: Provenance = provenance(
            ui=this_build(), about=self.about, server_url=server, connected=self.connected, paused=self.paused
        )
        self.icon.name = LEVEL_ICONS[chip.level]
        self.label.text = chip.text
        self.short_label.text = chip.short
        self.button.classes(replace=f'rb-prov {LEVEL_CLASSES[chip.level]}')
        # the name starts with the words the chip shows (WCAG 2.5.3, label in name), then says what they are
        attrs(
            self.button,
            {
                'data-level': chip.level,
                'aria-label': f"{chip.text}: where this page's data comes from ({chip.summary})",
            },
        )
        self.details.clear()
        with self.details:
            for name, value in chip.facts:
                with attrs(ui.row().classes('gap-2 no-wrap'), {'data-fact': name}):
                    ui.label(name).classes('opacity-60 w-28 shrink-0')
                    ui.label(value).classes('font-mono break-all')
            if not connection.is_remote():  # this process serves the API and its reference pages
                ui.link('API reference (Swagger UI)', '/docs', new_tab=True).classes('pt-1').props(
                    'data-testid=api-reference'
                )
