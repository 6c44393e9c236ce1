"""Run history charts (ECharts through ui.echart): the project page's History section, and the branch chart
the runs list can show when it is narrowed to one branch (`branch_history`).

The options come from app/state/history.py. Dark mode follows the system (theme.frame), which only the
browser knows: each tab reports its dark state and UTC offset (`ViewerTheme`), the charts are drawn once it
has, and re-drawn when the theme flips. Live: a run of the project reaching an outcome re-reads the history,
at most once per REFRESH_GAP_SECONDS however many runs finish."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import background_tasks, context, ui
from nicegui.events import EChartPointClickEventArguments, GenericEventArguments

from app.client import ApiError
from app.pages.attributes import attrs
from app.state import connection, live
from app.state.history import (
    EMPTY_TEXT,
    duration_chart,
    is_finish_event,
    memory_chart,
    refresh_delay,
    success_rate_chart,
    window_summary,
)
from app.state.text import shown

HISTORY_RUNS = 50
DURATIONS_CAPTION = 'Duration and outcome of each run, newest on the right; click a bar to open the run'
MEMORY_CAPTION = (
    'Peak memory of each run (what a memory limit must allow), newest on the right; click a bar to open the run'
)
# reports {dark, utc_offset} now and whenever Quasar's dark state (body--dark) flips
VIEWER_JS = """
(() => {
  let last = null;
  const report = () => {
    const state = {dark: document.body.classList.contains('body--dark'), utc_offset: -new Date().getTimezoneOffset()};
    const key = JSON.stringify(state);
    if (key === last) return;
    last = key;
    emitEvent('rb-viewer', state);
  };
  new MutationObserver(report).observe(document.body, {attributes: true, attributeFilter: ['class']});
  report();
})();
"""
_viewers: dict[str, ViewerTheme] = {}


class ViewerTheme:
    """What the tab's browser says about its viewer: dark or light, and minutes east of UTC."""

    def __init__(self) -> None:
        self.known = False
        self.dark = False
        self.utc_offset = 0
        self.listeners: list[Callable[[bool], None]] = []  # called with "the UTC offset changed"
        ui.on('rb-viewer', self.reported)
        ui.timer(0, self.ask, once=True)  # a timer runs once the tab is connected

    @staticmethod
    def ask() -> None:
        ui.run_javascript(VIEWER_JS)  # not awaited: the answer comes as 'rb-viewer' events

    def reported(self, event: GenericEventArguments) -> None:
        state = event.args if isinstance(event.args, dict) else {}
        offset = int(state.get('utc_offset') or 0)
        offset_changed = not self.known or offset != self.utc_offset
        self.known, self.dark, self.utc_offset = True, bool(state.get('dark')), offset
        for listener in list(self.listeners):
            listener(offset_changed)


def viewer_theme() -> ViewerTheme:
    """The tab's one ViewerTheme (every chart on the page shares its report)."""
    tab = context.client
    if tab.id not in _viewers:
        _viewers[tab.id] = ViewerTheme()
        tab.on_delete(lambda: _viewers.pop(tab.id, None))
    return _viewers[tab.id]


class Debounced:
    """Run `action` soon, but at most once per `gap` seconds; a call while one is waiting joins it, and a call
    while the action runs schedules one more (so the last change is always read)."""

    def __init__(self, action: Callable[[], Awaitable[None]]) -> None:
        self.action = action
        self.last: float | None = None
        self.waiting = False

    def __call__(self) -> None:
        if self.waiting:
            return
        self.waiting = True
        background_tasks.create(self._run(), name='history-refresh')

    async def _run(self) -> None:
        try:
            await asyncio.sleep(refresh_delay(self.last, time.monotonic()))
            self.last = time.monotonic()
        finally:
            self.waiting = False
        with contextlib.suppress(ApiError):
            await self.action()


class HistoryChart:
    """A project's (or one branch's) recent runs as duration bars coloured by outcome, and its success rate
    per day; a click on a bar opens that run; "No finished runs yet" instead of empty axes."""

    def __init__(self, project_id: str, *, branch: str | None = None, viewer: ViewerTheme) -> None:
        self.project_id, self.branch, self.viewer = project_id, branch, viewer
        self.history: dict[str, Any] | None = None
        self.durations: ui.echart | None = None
        self.rates: ui.echart | None = None
        self.memory: ui.echart | None = None
        self.refresh = Debounced(self.load)
        name = 'history-branch' if branch else 'history'
        with attrs(ui.column().classes('w-full gap-1'), {'data-testid': name}) as self.box:
            # the project's chart says it counts every branch: above a branch's own, its numbers read as the branch's
            title = f'Branch {shown(branch)}' if branch else 'History of all branches'
            ui.label(title).classes('text-lg font-medium').props('role=heading aria-level=2 dir=auto')
            self.summary = ui.label().classes('text-sm opacity-80').props('data-testid=history-summary')
            self.message = ui.label().classes('text-sm opacity-70').props('data-testid=history-empty role=status')
            self.charts = ui.row().classes('w-full gap-2 no-wrap max-sm:flex-wrap')
            self.usage = ui.row().classes('w-full gap-2 no-wrap max-sm:flex-wrap')  # drawn once a run was measured
        self.charts.set_visibility(False)
        self.usage.set_visibility(False)
        viewer.listeners.append(self.viewer_changed)

    def viewer_changed(self, offset_changed: bool) -> None:
        if self.box.is_deleted:
            return
        if offset_changed or self.history is None:
            self.refresh()  # the days depend on the viewer's offset
        else:
            self.render()

    async def load(self) -> None:
        if not self.viewer.known or self.box.is_deleted:
            return  # drawn once the browser has said how (viewer_changed)
        try:
            history = await connection.client().project_history(
                self.project_id, branch=self.branch, limit=HISTORY_RUNS, utc_offset=self.viewer.utc_offset
            )
        except ApiError as exc:
            self.message.text = f'Could not load the history: {exc}'
            return
        if self.box.is_deleted:
            return
        self.history = history
        self.render()

    def render(self) -> None:
        history = self.history
        if history is None:
            return
        runs, dark = history['runs'], self.viewer.dark
        self.summary.text = window_summary(history)
        self.message.text = '' if runs else EMPTY_TEXT
        self.message.set_visibility(not runs)
        self.charts.set_visibility(bool(runs))
        if not runs:
            return
        durations = duration_chart(runs, dark=dark, utc_offset=history['utc_offset'])
        rates = success_rate_chart(history['days'], dark=dark)
        self.render_memory(memory_chart(runs, dark=dark, utc_offset=history['utc_offset']))
        if self.durations is None or self.rates is None:
            with self.charts:
                self.durations = self._chart(durations, 'history-durations', DURATIONS_CAPTION, self.open_run)
                self.rates = self._chart(
                    rates, 'history-rates', f'Finished runs per day, last {len(history["days"])} days'
                )
            return
        for chart, options in ((self.durations, durations), (self.rates, rates)):
            chart.options.clear()
            chart.options.update(options)
            chart.update()

    def render_memory(self, options: dict | None) -> None:
        self.usage.set_visibility(options is not None)
        if options is None:
            return
        if self.memory is None:
            with self.usage:
                self.memory = self._chart(options, 'history-memory', MEMORY_CAPTION, self.open_run)
            return
        self.memory.options.clear()
        self.memory.options.update(options)
        self.memory.update()

    @staticmethod
    def _chart(options: dict, test_id: str, caption: str, on_click: Any = None) -> ui.echart:
        with ui.column().classes('w-full sm:w-1/2 min-w-0 gap-0'):
            ui.label(caption).classes('text-xs opacity-70')
            chart = ui.echart(options, on_point_click=on_click).classes('w-full').style('height: 220px')
            return attrs(chart, {'data-testid': test_id})

    def open_run(self, event: EChartPointClickEventArguments) -> None:
        run_id = event.data.get('run_id') if isinstance(event.data, dict) else None
        if run_id:
            ui.navigate.to(f'/runs/{run_id}')

    def on_event(self, event: dict) -> None:
        """A run of the project reached an outcome (events name no branch: a branch chart re-reads too)."""
        if not self.box.is_deleted and is_finish_event(event, self.project_id):
            self.refresh()

    async def catch_up(self) -> None:
        """The event stream (re)opened: re-read what may have finished while it was closed."""
        if self.history is not None:
            self.refresh()


def follow(project_id: str, charts: list[HistoryChart]) -> None:
    """One event stream for the charts of one project."""

    def on_event(event: dict) -> None:
        for chart in charts:
            chart.on_event(event)

    async def catch_up() -> None:
        for chart in charts:
            await chart.catch_up()

    live.follow(on_event, project=project_id, on_reconnect=catch_up)


def branch_history(project_id: str, branch: str, *, live_updates: bool = True) -> HistoryChart:
    """The branch chart, for a runs list narrowed to one branch (URL `on=<branch>`) of one project: the
    branch's recent runs and its success rate per day, following the project's live changes. Call it where
    the chart should stand, inside the page's slot."""
    chart = HistoryChart(project_id, branch=branch, viewer=viewer_theme())
    if live_updates:
        follow(project_id, [chart])
    return chart


def history_section(project_id: str, *, branch: str | None = None) -> None:
    """The project page's History: the project's recent runs and success rate, and with `branch` (the page's
    `on=` filter) the branch chart beside it; one event stream for both."""
    charts = [HistoryChart(project_id, viewer=viewer_theme())]
    if branch:
        charts.append(branch_history(project_id, branch, live_updates=False))
    follow(project_id, charts)
