"""The run page's output panel: a windowed, live view of the run's log, like GitHub Actions' log viewer.

app/state/timeline.py decides which lines the tab holds (at most a window of them, however long the
log); this panel fetches them from the API and hands them to the browser's LogView (assets/logview.js). A
jump to a line far away (a #L123 link, a search match) loads the window around it and pauses following, so
new lines are held rather than pulling the view back to the tail; following again returns to the tail.
Every change of the view goes through one lock: a live catch-up never interleaves with a jump.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.log_search_bar import SearchBar
from app.pages.log_tools import LogTools
from app.pages.log_view import LogView
from app.state import connection
from app.state.log_links import line_from_hash, reachable_line
from app.state.timeline import Line, OutputWindow, count_text, log_removed_text

FETCH_PAGE = 5000


class LogPanel:
    def __init__(self, run: dict[str, Any]) -> None:
        self.run = run
        self.window = OutputWindow()
        self.lock = asyncio.Lock()
        if run.get('log_removed_at'):  # what is left are its status, stage and annotation lines: say so above them
            banner = ui.element('div').classes('w-full rb-banner rb-banner-amber')
            with banner.props('role=note data-testid=log-removed'):
                ui.label(log_removed_text(run['log_removed_at'])).classes('text-sm')
        tools_row = ui.row().classes('w-full rb-log-tools items-center gap-2 flex-wrap')
        with ui.row().classes('w-full items-center gap-2 flex-wrap'):
            self.follow_switch = (
                ui.switch('Follow output', value=True, on_change=self.follow_changed)
                .props('data-testid=follow')
                .classes('rb-tap')
            )
            self.held_label = ui.label().classes('text-sm opacity-80').props('data-testid=held aria-live=polite')
            ui.space()
            self.earlier_button = (
                ui.button('Load earlier lines', icon='expand_less', on_click=self.load_earlier)
                .props('flat dense no-caps data-testid=earlier')
                .classes('rb-tap')
            )
            self.earlier_button.set_visibility(False)  # until the first page says there are earlier lines
            self.count_label = ui.label().classes('text-xs opacity-70').props('data-testid=line-count')
        self.view = LogView()
        with tools_row:
            self.search = SearchBar(self)
            ui.space()
            self.tools = LogTools(self.view, run['id'], log_kept=not run.get('log_removed_at'))
        self.later_button = (
            ui.button('Load later lines', icon='expand_more', on_click=self.load_later)
            .props('flat dense no-caps data-testid=later')
            .classes('rb-tap self-center')
        )
        self.later_button.set_visibility(False)
        self.view.on('hash', self.hash_changed)

    @property
    def run_id(self) -> str:
        return self.run['id']

    def newest_seq(self) -> int:
        return max(self.run.get('last_seq') or 0, self.window.last_seq)

    # -- what the toolbar says
    def update_status(self) -> None:
        window = self.window
        if self.follow_switch.value != window.following:
            self.follow_switch.value = window.following  # follow_changed sees nothing to do
        if window.anchored and window.first_shown_seq is not None:
            held = f'Showing lines {window.first_shown_seq:,}–{window.last_shown_seq:,}'
            if window.held_count:
                held += f' · {window.held_count:,} new lines since'
        else:
            held = f'{window.held_count} new lines held' if window.held_count else ''
        self.held_label.text = held
        self.count_label.text = count_text(window.last_seq, self.run.get('output_lines', 0))
        self.earlier_button.set_visibility(window.has_earlier)
        self.later_button.set_visibility(window.has_later)

    def _append(self, lines: list[Line], *, stick: bool) -> None:
        if lines:
            self.view.append(lines, stick=stick)
            self.view.keep(self.window.first_shown_seq, self.window.last_shown_seq)

    # -- the tail
    async def _fetch_new(self) -> list[Line]:
        """Everything after the newest line we have, a page at a time; only what the view still shows at the
        end reaches the tab (a flood slides the view many times over in one catch-up)."""
        fresh: deque[Line] = deque(maxlen=self.window.max_view)
        while True:
            events = await connection.client().run_events(self.run_id, after=self.window.last_seq, limit=FETCH_PAGE)
            fresh.extend(self.window.accept(events))
            if len(events) < FETCH_PAGE:
                return [line for line in fresh if self.window.is_shown(line.seq)]

    async def open(self, line: int | None = None) -> None:
        """First paint: the window around a linked line, else only the tail window, however long the log."""
        async with self.lock:
            target = reachable_line(line, self.newest_seq()) if line is not None else None
            if target is not None:
                await self._show_around(target)
            else:
                self.window.last_seq = self.window.tail_start(self.run.get('last_seq') or 0)
                self.view.replace(await self._fetch_new(), bottom=True)
            self.update_status()
        if target is not None:
            self.view.select(target)
            if target != line:
                ui.notify(f'Line {line:,} is not in this log; it has {target:,} lines so far.', type='info')

    async def catch_up(self, run: dict[str, Any]) -> None:
        """Read what arrived after the newest line we have; when far behind while following, jump to the tail."""
        self.run = run
        async with self.lock:
            behind = (run.get('last_seq') or 0) - self.window.last_seq
            if behind > FETCH_PAGE and self.window.following:
                self.window.jump_to_tail(run['last_seq'])
                self.view.replace(await self._fetch_new(), bottom=True)
            else:
                self._append(await self._fetch_new(), stick=True)
            self.update_status()

    async def _reload_tail(self) -> None:
        self.window.jump_to_tail(self.newest_seq())
        self.view.replace(await self._fetch_new(), bottom=True)

    async def follow_changed(self) -> None:
        want = bool(self.follow_switch.value)
        if want == self.window.following:
            return
        async with self.lock:
            try:
                if not want:
                    self.window.pause()
                elif self.window.must_reload_to_follow():
                    await self._reload_tail()
                else:
                    lines, _ = self.window.resume()
                    self._append(lines, stick=True)
                    self.view.run_method('toBottom')
            except ApiError as exc:
                ui.notify(f'Could not load the newest lines: {exc}', type='negative')
            self.update_status()

    # -- a line far away
    async def _show_around(self, seq: int) -> None:
        after, limit = self.window.around(seq, self.newest_seq())
        events = await connection.client().run_events(self.run_id, after=after, limit=limit)
        self.view.replace(self.window.show_around(events, self.newest_seq()), bottom=False)

    async def show_line(self, seq: int, *, match: bool = False) -> bool:
        """Bring line `seq` into the view (loading the window around it when it is not shown), pause
        following so it stays in view, and point at it: the current search match, or a linked line."""
        async with self.lock:
            try:
                if self.window.is_shown(seq):
                    self.window.pause()
                else:
                    await self._show_around(seq)
            except ApiError as exc:
                ui.notify(f'Could not load line {seq:,}: {exc}', type='negative')
                return False
            finally:
                self.update_status()
        if match:
            self.view.current(seq)
        else:
            self.view.select(seq)
        return True

    async def hash_changed(self, event: Any) -> None:
        """The address's #L changed in this tab (typed, pasted, back/forward): show that line."""
        line = line_from_hash((event.args or {}).get('hash'))
        target = reachable_line(line, self.newest_seq()) if line is not None else None
        if target is not None:
            await self.show_line(target)

    # -- pages on demand
    async def load_earlier(self) -> None:
        async with self.lock:
            span = self.window.earlier_range()
            if span is None:
                return
            try:
                events = await connection.client().run_events(self.run_id, after=span[0], limit=span[1])
            except ApiError as exc:
                ui.notify(f'Could not load earlier lines: {exc}', type='negative')
                return
            self.view.prepend(self.window.loaded_earlier(events))
            self.view.keep(self.window.first_shown_seq, self.window.last_shown_seq)
            self.update_status()

    async def load_later(self) -> None:
        async with self.lock:
            span = self.window.later_range()
            if span is None:
                return
            try:
                events = await connection.client().run_events(self.run_id, after=span[0], limit=span[1])
            except ApiError as exc:
                ui.notify(f'Could not load later lines: {exc}', type='negative')
                return
            self._append(self.window.loaded_later(events), stick=False)
            self.update_status()
