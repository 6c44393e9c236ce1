"""The log viewer's search box: the server searches the whole stored output (GET /runs/{id}/search), the
page steps through the matches ("3 of 120 matches", Enter / Shift+Enter, the arrow buttons), loading the
window around each one and marking the text inside the lines (assets/logview.js). The rules:
app/state/log_search.py.
"""

from __future__ import annotations

from typing import Any, Protocol

from nicegui import ui

from app.client import ApiError
from app.pages.log_view import LogView
from app.state import connection
from app.state.log_search import LogSearch, key_action, query_problem


class SearchedLog(Protocol):
    """What the bar steps through: the log panel (pages/log_panel.py) that owns it."""

    view: LogView

    @property
    def run_id(self) -> str: ...

    def newest_seq(self) -> int: ...

    async def show_line(self, seq: int, *, match: bool = False) -> bool: ...


class SearchBar:
    def __init__(self, panel: SearchedLog) -> None:
        self.panel = panel
        self.state = LogSearch()
        self.busy = False
        with ui.row().classes('rb-log-search items-center gap-1 grow sm:grow-0').props('role=search'):
            self.input = (
                ui.input(placeholder='Search the log', on_change=self.typed)
                .props(
                    'dense outlined clearable type=search maxlength=200 data-testid=log-search '
                    'aria-label="Search the log (Enter: next match, Shift+Enter: previous)"'
                )
                .classes('grow')
            )
            self.input.on('keydown.enter', self.enter, args=['shiftKey'])
            self.count = (
                ui.label()
                .classes('rb-search-count text-sm whitespace-nowrap min-w-[7rem]')
                .props('data-testid=search-count aria-live=polite')
            )
            self.previous = (
                ui.button(icon='keyboard_arrow_up', on_click=lambda: self.step(forward=False))
                .props('flat round dense aria-label="Previous match" data-testid=search-previous')
                .classes('rb-tap')
            )
            self.next = (
                ui.button(icon='keyboard_arrow_down', on_click=lambda: self.step(forward=True))
                .props('flat round dense aria-label="Next match" data-testid=search-next')
                .classes('rb-tap')
            )
        self.render()

    def render(self, note: str | None = None) -> None:
        self.count.text = note if note is not None else self.state.label()
        self.previous.set_enabled(self.state.can_go_back)
        self.next.set_enabled(self.state.can_go_on)

    def typed(self) -> None:
        """A blank box ends the search (the clear button, or deleting the text)."""
        if not (self.input.value or '').strip() and self.state.query is not None:
            self.state.clear()
            self.panel.view.search('')
            self.render()

    async def enter(self, event: Any) -> None:
        typed = self.input.value or ''
        action = key_action(
            typed,
            self.state.query,
            shift=bool((event.args or {}).get('shiftKey')),
            stale=self.state.stale(self.panel.newest_seq()),
        )
        if action == 'search':
            await self.search(typed)
        elif action in ('next', 'previous'):
            await self.step(forward=action == 'next')
        elif action == 'clear':
            self.typed()

    async def search(self, typed: str) -> None:
        problem = query_problem(typed)
        if problem:
            self.render(problem)
            return
        if self.busy:
            return
        self.busy = True
        near = self.state.current if self.state.query == typed else None  # the log grew: search again from here
        self.render('Searching…')
        try:
            answer = await connection.client().search_output(self.panel.run_id, typed)
        except ApiError as exc:
            self.render(exc.detail)
            return
        finally:
            self.busy = False
        seq = self.state.start(answer, run_last_seq=self.panel.newest_seq(), near=near)
        self.panel.view.search(typed)
        self.render()
        if seq is not None:
            await self.panel.show_line(seq, match=True)

    async def step(self, *, forward: bool) -> None:
        if self.busy or self.state.query is None:
            return
        target = self.state.step(forward)
        if target == 'more':
            self.busy = True
            try:
                answer = await connection.client().search_output(
                    self.panel.run_id, self.state.query, after=self.state.after_seq()
                )
            except ApiError as exc:
                self.render(exc.detail)
                return
            finally:
                self.busy = False
            self.state.extend(answer)
            target = self.state.step(forward)
        self.render()
        if isinstance(target, int):
            await self.panel.show_line(target, match=True)
