"""Run timeline: header (status, parameters, retry_of, Retry, Stop), stage markers and windowed live output."""

from __future__ import annotations

from collections import deque

from nicegui import background_tasks, ui

from app.client import ApiError
from app.pages.run_row import RETRYABLE
from app.pages.runs_list import retry, stop_run
from app.pages.signin import signed_in
from app.pages.theme import duration, frame, relative, status_badge
from app.state import connection, live
from app.state.ansi import ansi_html
from app.state.runs_store import ACTIVE
from app.state.text import shown
from app.state.timeline import Line, OutputWindow

FETCH_PAGE = 5000
HEAD_EVENTS = 500


def push_line(log: ui.log, text: str, *, classes: str | None = None) -> None:
    """One output line: plain text, or ANSI colours as escaped spans (app/state/ansi.py)."""
    html = ansi_html(text)
    if html is None:
        log.push(text, classes=classes)
        return
    with log:
        line = ui.html(html, sanitize=False)  # every character escaped; only our own spans
        if classes:
            line.classes(classes)
    while log.max_lines is not None and len(log.default_slot.children) > log.max_lines:
        log.remove(0)


def draw_stages(box: ui.row, stages: list[Line]) -> None:
    box.clear()
    with box:
        for stage in stages:
            ui.chip(stage.text, icon='flag').props('dense outline data-stage')


class TimelineView:
    def __init__(self, run: dict) -> None:
        self.run = run
        self.window = OutputWindow()
        self.catching_up = False
        self.again = False
        self.ticks = 0
        self.started_label: ui.label | None = None
        self.header = ui.column().classes('w-full gap-2').props('data-testid=run-header aria-live=polite')
        self.stages = ui.row().classes('w-full gap-2 flex-wrap').props('data-testid=stages aria-label="Stages"')
        with ui.row().classes('w-full items-center gap-2 flex-wrap'):
            self.follow_switch = (
                ui.switch('Follow output', value=True, on_change=self.toggle_follow)
                .props('data-testid=follow')
                .classes('rb-tap')
            )
            self.held_label = ui.label().classes('text-sm opacity-80').props('data-testid=held')
            ui.space()
            self.earlier_button = (
                ui.button('Load earlier lines', icon='expand_less', on_click=self.load_earlier)
                .props('flat dense data-testid=earlier')
                .classes('rb-tap')
            )
            self.count_label = ui.label().classes('text-xs opacity-70').props('data-testid=line-count')
        self.earlier = ui.log().classes('w-full rb-log rb-earlier').props('data-testid=earlier-output')
        self.earlier_lines: list[str] = []  # what the earlier-lines box shows, oldest first
        self.earlier.set_visibility(False)
        self.output = (
            ui.log(max_lines=self.window.window)
            .classes('w-full h-[60vh] rb-log')
            .props('data-testid=output role=log aria-label="Run output"')
        )
        ui.timer(1.0, self.tick)

    # -- header
    def render_header(self) -> None:
        run = self.run
        self.header.clear()
        with self.header:
            with ui.row().classes('items-center gap-3 flex-wrap'):
                status_badge(run['status'])
                ui.label(run['id']).classes('font-mono text-lg').props('role=heading aria-level=1')
                ui.link(run['project_id'], f'/projects/{run["project_id"]}').classes('rb-tap-link')
                self.took = ui.label(duration(run)).classes('font-mono text-sm').props('data-field=duration')
                ui.space()
                if run['status'] in RETRYABLE:
                    ui.button('Retry', icon='replay', on_click=lambda: retry(self.run)).classes('rb-tap').props(
                        'data-testid=retry'
                    )
                if run['status'] in ACTIVE and run['status'] != 'stopping':
                    ui.button('Stop', icon='stop', color='negative', on_click=lambda: stop_run(self.run['id'])).classes(
                        'rb-tap'
                    ).props('data-testid=stop')
            with ui.row().classes('items-center gap-x-4 gap-y-1 flex-wrap text-sm'):
                for name, value in (
                    ('branch', run['branch_name']),
                    ('depth', run['depth_level']),
                    ('framework', run['target_framework']),
                    ('kind', run['kind']),
                    ('by', run.get('user_name') or '—'),
                    ('started', relative(run.get('started_at') or run.get('created_at'))),
                ):
                    with ui.row().classes('gap-1 items-baseline'):
                        ui.label(name).classes('opacity-60')
                        label = ui.label(shown(value)).props(f'data-param={name} dir=auto')
                        if name == 'started':
                            self.started_label = label  # a relative time: the clock keeps it true
                if run.get('issue_number'):
                    ui.label(f'issue #{run["issue_number"]} {shown(run.get("issue_title"))}').props('dir=auto')
                if run.get('retry_of'):
                    with ui.row().classes('gap-1 items-baseline'):
                        ui.label('retry of').classes('opacity-60')
                        ui.link(run['retry_of'], f'/runs/{run["retry_of"]}').classes('rb-tap-link').props(
                            'data-testid=retry-of'
                        )
                if run.get('exit_code') is not None:
                    ui.label(f'exit code {run["exit_code"]}')
            if run['status'] == 'queued' and run.get('waiting'):
                ui.label(f'#{run.get("queue_position")} in line · {run["waiting"]}').classes(
                    'text-sm text-orange-10'
                ).props('data-testid=waiting')
            if run.get('error'):
                ui.label(run['error']).classes('text-sm text-negative')

    def tick(self) -> None:
        self.ticks += 1
        if self.started_label is not None:
            self.started_label.text = relative(self.run.get('started_at') or self.run.get('created_at'))
        if self.run.get('status') == 'running':
            self.took.text = duration(self.run)
        elif self.run.get('status') == 'queued' and self.ticks % 3 == 0:
            background_tasks.create(self.catch_up(), name='waiting-reason')  # why it waits changes silently

    # -- output
    def show(self, lines: list[Line]) -> None:
        for line in lines:
            push_line(self.output, line.marker + line.text, classes='stage' if line.kind != 'output' else None)
        if any(line.kind == 'stage' for line in lines):
            self.render_stages()
        self.count_label.text = f'{self.run.get("output_lines", 0)} output lines · seq {self.window.last_seq}'
        self.earlier_button.set_visibility(self.window.has_earlier)

    def render_stages(self) -> None:
        draw_stages(self.stages, self.window.stages[-30:])

    async def stages_from_head(self, after: int, until: int) -> None:
        """Stage markers of a skipped part, from its first HEAD_EVENTS events (the API has no stage-only
        query, and reading 100,000 lines to find a few markers would defeat the window)."""
        head = await connection.client().run_events(self.run['id'], after=after, limit=HEAD_EVENTS)
        self.window.stages.extend(
            Line(e['seq'], e['type'], e['text']) for e in head if e['type'] == 'stage' and e['seq'] <= until
        )
        self.render_stages()

    async def open(self) -> None:
        """First paint: only the tail window, however long the output already is."""
        client = connection.client()
        after = self.window.tail_start(self.run.get('last_seq') or 0)
        if after:
            await self.stages_from_head(0, after)
        events = await client.run_events(self.run['id'], after=after, limit=self.window.window)
        if events:
            self.window.last_seq = events[0]['seq'] - 1
        self.show(self.window.accept(events))
        self.render_stages()

    async def catch_up(self) -> None:
        """Read everything after what we have; when far behind, jump to the tail window."""
        if self.catching_up:
            self.again = True
            return
        self.catching_up = True
        client = connection.client()
        try:
            while True:
                self.again = False
                run = await client.get_run(self.run['id'], events_limit=0)
                behind = (run.get('last_seq') or 0) - self.window.last_seq
                if behind > FETCH_PAGE and self.window.following:
                    await self.stages_from_head(self.window.last_seq, self.window.tail_start(run['last_seq']))
                    self.output.clear()
                    self.earlier.clear()
                    self.earlier.set_visibility(False)
                    self.window.jump_to_tail(run['last_seq'])
                fresh: deque[Line] = deque(maxlen=self.window.window)  # only the newest window reaches the tab
                while True:
                    events = await client.run_events(self.run['id'], after=self.window.last_seq, limit=FETCH_PAGE)
                    fresh.extend(self.window.accept(events))
                    if len(events) < FETCH_PAGE:
                        break
                self.show(list(fresh))
                status_changed = run['status'] != self.run['status'] or run.get('waiting') != self.run.get('waiting')
                self.run = run
                if status_changed or run.get('exit_code') is not None:
                    self.render_header()
                self.show([])
                self.update_held()
                if not self.again:
                    break
        except ApiError:
            pass
        finally:
            self.catching_up = False

    async def on_event(self, event: dict) -> None:
        if event.get('id') == self.run['id']:
            await self.catch_up()

    def toggle_follow(self) -> None:
        if self.follow_switch.value:
            lines, skipped = self.window.resume()
            if skipped:
                self.output.push(f'… {skipped} lines skipped (load them from the API or CLI) …', classes='stage')
            self.show(lines)
        else:
            self.window.pause()
        self.update_held()

    def update_held(self) -> None:
        self.held_label.text = f'{self.window.held_count} new lines held' if self.window.held_count else ''

    async def load_earlier(self) -> None:
        span = self.window.earlier_range()
        if span is None:
            return
        after, limit = span
        try:
            events = await connection.client().run_events(self.run['id'], after=after, limit=limit)
        except ApiError as exc:
            ui.notify(f'Could not load earlier lines: {exc}', type='negative')
            return
        lines = self.window.loaded_earlier(events)
        self.earlier_lines = [line.marker + line.text for line in lines] + self.earlier_lines
        self.earlier.clear()
        for text in self.earlier_lines:
            push_line(self.earlier, text)
        self.earlier.set_visibility(True)
        self.earlier_button.set_visibility(self.window.has_earlier)


@ui.page('/runs/{run_id}')
@signed_in
async def run_page(run_id: str) -> None:
    client = connection.client()
    try:
        run = await client.get_run(run_id, events_limit=0)
    except ApiError as exc:
        with frame('Run'):
            ui.label(str(exc)).classes('text-negative')
        return
    with frame(f'Run {run_id}'):
        view = TimelineView(run)
        view.render_header()
        await view.open()
    live.follow(view.on_event, run=run_id, on_reconnect=view.catch_up)
