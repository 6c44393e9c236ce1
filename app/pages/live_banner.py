"""The banner every page that follows live changes shows while the server's live updates are paused (its event
listener lost Redis: 503 live_updates_paused, app/state/live_pause.py): what happened, since when, that what the page
shows may be out of date, and that it refreshes by itself. One per tab, in the header (in reach wherever the page is
scrolled, and kept across an in-place page change); it leaves once the tab's streams are open again and the page has
read again what it shows. A polite live region: a screen reader hears it come and go."""

from __future__ import annotations

from datetime import UTC, datetime

from nicegui import ui

from app.pages.attributes import attrs
from app.state import live
from app.state.live_pause import EXPLANATION, HEADLINE, since_text

BANNER_CSS = """
.rb-live-paused { background: #fff8e1; color: #4e3400; border-left: 4px solid #ffb300; }
.body--dark .rb-live-paused { background: #3d2e00; color: #ffe9a8; }
"""


class LivePausedBanner:
    def __init__(self) -> None:
        ui.add_css(BANNER_CSS)
        # the live region is there from the start (empty): a region that appears with its words is often not read
        self.region = (
            ui.element('div')
            .classes('w-full basis-full')
            .props('role=status aria-live=polite data-testid=live-updates')
        )
        live.watch_pause(self.show)

    def show(self, since: datetime | None) -> None:
        if self.region.is_deleted:
            return
        self.region.clear()
        with self.region:
            if since is None:
                # for a screen reader, which heard it pause; nothing to see: the page is current again
                ui.label('Live updates resumed.').classes('sr-only').props('data-testid=live-updates-resumed')
                return
            with attrs(
                ui.row().classes('w-full items-start gap-2 no-wrap rounded px-3 py-2 mt-1 text-sm rb-live-paused'),
                {'data-testid': 'live-paused', 'data-since': since.isoformat()},
            ):
                ui.icon('pause_circle').classes('text-lg shrink-0').props('aria-hidden=true')
                with ui.element('p').classes('min-w-0 whitespace-normal m-0'):
                    ui.label(HEADLINE).classes('inline font-bold')
                    ui.label(f': {EXPLANATION} Paused {since_text(since)}').classes('inline')
                    # how long ago, ticking in the browser (assets/live-time.js): for the eye only, since a live
                    # region would read it out every second
                    attrs(
                        ui.label(' (just now).').classes('inline').props('aria-hidden=true'),
                        {
                            'data-rb-time': since.astimezone(UTC).isoformat(),
                            'data-rb-prefix': ' (',
                            'data-rb-suffix': ').',
                        },
                    )
