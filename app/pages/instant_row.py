"""The `Submitting…` row the browser shows by itself the moment Run is clicked.

The server's own optimistic row (app/state/runs_store.py) needs a round trip over the websocket and a Vue
render of a new card before anyone sees it: 130-250 ms on this machine. So a copy of that row is drawn
ahead of time, hidden, above the runs list, and the Run button's click handler unhides it in the browser
(assets/runboard.css shows `.rb-instant[data-optimistic]`). When the server draws its real row, or decides
not to submit after all, it replaces the copy with a fresh hidden one in the same update, so the two are
never on screen together and a declined click leaves nothing behind. While the copy is unhidden, the same
CSS also shows `Submitting…` beside Run, which stays in view when the list is below the fold.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

from nicegui import ui
from nicegui.elements.mixins.value_element import ValueElement

from app.state.text import shown

# The click handler of the Run button (NiceGUI evaluates it where `emit` sends the click to the server).
# The row is only unhidden when the button says the server will draw one (a single run, not a batch).
REVEAL_ON_CLICK = """(event) => {
  const button = event?.currentTarget?.closest?.('[data-instant]');
  const row = document.querySelector('.rb-instant');
  if (row && button && button.dataset.instant === 'on') row.setAttribute('data-optimistic', 'instant');
  emit();
}"""


def params_text(payload: dict, kind: str) -> str:
    """Pure: the parameters as the optimistic row shows them (app/pages/run_row.py)."""
    parts = [payload.get('branch'), payload.get('depth_level'), payload.get('target_framework'), kind]
    return ' · '.join(shown(p) for p in parts if p)


class InstantRow:
    """The hidden copy of the `Submitting…` row; `renew` swaps it for a fresh one (so a copy the browser
    unhid is gone) showing the parameters the next click would send."""

    def __init__(self) -> None:
        self.slot = ui.element('div').classes('contents').props('data-testid=instant-slot')
        self.card: ui.element | None = None
        self.params = ''
        self.unhidden = False  # as far as the server knows: a click the server has not answered yet unhid it

    def renew(self, params: str | None = None) -> None:
        if params is not None:
            self.params = params
        if self.slot.is_deleted:
            return
        self.slot.clear()
        with self.slot:
            # -mb-2: the page's column spaces its children 1rem apart, the runs list its rows 0.5rem
            with ui.card().tight().classes('w-full rb-row rb-instant -mb-2') as self.card:
                # the two lines of the server's optimistic row (app/pages/run_row.py), so the swap does not jump
                with ui.row().classes('w-full items-center gap-x-3 gap-y-1 px-2 pt-1 flex-wrap'):
                    with ui.row().classes('items-center gap-1 rb-tap'):
                        ui.spinner(size='sm')
                        ui.badge('Submitting…', color='grey-8').classes('text-sm px-2 py-1')
                with ui.row().classes('w-full items-center gap-x-3 gap-y-0 px-2 pb-1 flex-wrap'):
                    # not data-field=params: a hidden copy is not a row to find on the page
                    ui.label(self.params).classes('text-sm').props('dir=auto').style('unicode-bidi: isolate')
                    ui.label('—').classes('text-xs opacity-70')  # when it started and how long it took: not yet
                    ui.label('—').classes('text-xs opacity-70 font-mono')

    def follow(self, fields: Iterable[ValueElement], params: Callable[[], str]) -> None:
        """Keep the copy's parameters those of the form's `fields` (params: their text)."""
        for field in fields:
            field.on_value_change(lambda _: self.show_params(params()))
        self.show_params(params())

    def show_params(self, params: str) -> None:
        """Draw the copy, or draw it again when the form changed: it shows what the next click sends."""
        if self.card is None or params != self.params:
            self.renew(params)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around the server's handling of a click on Run: the browser unhid the copy; it goes at the latest
        when the handling ends (sooner by `answered`, when the server draws its own row)."""
        self.unhidden = True
        try:
            yield
        finally:
            self.answered()

    def answered(self) -> None:
        if self.unhidden:
            self.renew()
        self.unhidden = False
