"""The Run form's "Run later" choice: now, in a while (`10m`), or at a date and time in the browser's own time
zone; and optionally a queue TTL (give up if it has not started within `30m`). The fields it adds to the
trigger body come from app/state/run_timing.py (later_fields)."""

from __future__ import annotations

from nicegui import ui

from app.pages.browser_zone import browser_zone
from app.state.run_timing import LATER_MODES, LaterChoice, later_fields


class RunLater:
    def __init__(self, *, shown: bool = True) -> None:
        """shown=False: a retry (it runs now, with the original's parameters)."""
        self.shown = shown
        self.zone = ''  # the browser's IANA zone, asked for at the first submit that needs it
        with ui.row().classes('w-full items-start gap-3 flex-wrap').props('data-testid=run-later') as self.element:
            self.mode = (
                ui.select(LATER_MODES, value='now', label='When', on_change=self.show)
                .classes('w-full sm:w-36')
                .props('data-testid=when')
            )
            self.after = (
                ui.input('Run in', placeholder='e.g. 10m, 2h').classes('w-full sm:w-36').props('data-testid=run-in')
            )
            self.at = (
                ui.input('Run at (your time)')
                .classes('w-full sm:w-56')
                .props('type=datetime-local stack-label data-testid=run-at')
            )
            self.ttl = (
                ui.input('Give up if queued longer than', placeholder='e.g. 30m (optional)')
                .classes('w-full sm:w-64')
                .props('data-testid=ttl')
                .tooltip('A run still queued this long ends expired instead of starting late')
            )
        self.element.set_visibility(shown)
        self.show()

    def show(self) -> None:
        self.after.set_visibility(self.mode.value == 'in')
        self.at.set_visibility(self.mode.value == 'at')

    @property
    def later(self) -> bool:
        return self.mode.value != 'now'

    async def fields(self) -> dict[str, str] | None:
        """The trigger body's run_in / run_at / ttl; None when something is missing (the person is told what)."""
        if not self.shown:
            return {}
        if self.mode.value == 'at' and not self.zone:
            self.zone = await browser_zone()  # no answer from the browser: the time is read as UTC
        choice = LaterChoice(
            mode=self.mode.value or 'now',
            after=self.after.value or '',
            at=self.at.value or '',
            zone=self.zone or 'UTC',
            ttl=self.ttl.value or '',
        )
        fields = later_fields(choice)
        if isinstance(fields, str):
            ui.notify(fields, type='warning')
            return None
        return fields

    def reset(self) -> None:
        self.mode.value = 'now'
        self.after.value = self.at.value = self.ttl.value = ''
        self.show()
