"""Run timeline: header (status, parameters, retry_of, Retry, Stop), stage markers, annotations, and three tabs: the
run's log (pages/log_panel.py: windowed live output with line links, search, copy, download, timestamps, folding),
its Artifacts and its Tests (pages/run_artifacts.py)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from nicegui import background_tasks, ui
from starlette.requests import Request
from starlette.responses import Response

from app.client import ApiError
from app.models import AUTO_RETRY_KEY_PREFIX, TERMINAL_STATUSES
from app.pages import artifact_download, log_download  # noqa: F401  (register /run-artifacts/..., /run-logs/...)
from app.pages.afk_review import AfkReviewPanel
from app.pages.annotation_list import draw_annotations
from app.pages.attributes import attrs
from app.pages.log_panel import LogPanel
from app.pages.not_found import not_found_page
from app.pages.push_facts import commit_facts, commit_status_line, push_facts
from app.pages.run_artifacts import RunExtras
from app.pages.run_timing import approve_button, cancel_button, timing_bits
from app.pages.runs_list import retry, stop_run
from app.pages.signin import signed_in
from app.pages.stage_strip import draw_stages
from app.pages.theme import duration, frame, iso_utc, page_frame, relative, status_badge
from app.pages.widgets import variable_chips
from app.state import connection, live
from app.state.afk_review import usage_text
from app.state.log_links import line_from_hash
from app.state.me import is_operator, who_am_i
from app.state.retry_offer import retry_offer, taken_up_text
from app.state.run_form import run_again_query
from app.state.run_timing import resources_text, retry_planned_text, start_fact, started_by, with_usage
from app.state.runs_store import ACTIVE, branch_runs_href
from app.state.text import shown
from app.state.timeline import header_changed, run_title


class TimelineView:
    def __init__(self, run: dict, *, operator: bool = False) -> None:
        self.run = run
        self.operator = operator  # offered Approve (the server decides)
        self.catching_up = False
        self.again = False
        self.ticks = 0
        self.started_label: ui.label | None = None
        self.resources: ui.label | None = None  # what it used (so far), kept live by run.usage events
        self.header_drawn = False  # redrawn: the control the focus was on may be gone (Stop, once stopped)
        self.header = ui.column().classes('w-full gap-2').props('data-testid=run-header aria-live=polite')
        with self.header:  # the heading and the project link, drawn once: a click on them never meets a redraw
            with ui.row().classes('items-center gap-3 flex-wrap'):
                self.badge_box = ui.element('span').classes('contents')
                self.heading = ui.label(run['id']).classes('font-mono text-lg').props('role=heading aria-level=1')
                ui.link(run['project_id'], f'/projects/{run["project_id"]}').classes('rb-tap-link')
                self.took = ui.label().classes('font-mono text-sm').props('data-field=duration')
                ui.space()
                self.actions_box = ui.row().classes('items-center gap-2')
            self.details = ui.column().classes('w-full gap-2')
            # once it has ended: its tests and coverage (run_artifacts.py), a click from the Tests tab
            self.results = (
                ui.button(on_click=self.open_tests)
                .props('flat dense no-caps align=left data-testid=run-results')
                .classes('rb-tap self-start text-sm')
            )
            self.results.set_visibility(False)
        self.stages = ui.row().classes('w-full gap-2 flex-wrap').props('data-testid=stages aria-label="Stages"')
        self.annotations = (
            ui.column()
            .classes('w-full gap-1 rounded border border-slate-300 px-2 py-1')
            .props('role=list data-testid=annotations aria-label="Annotations"')
        )
        self.review = AfkReviewPanel.for_run(run)  # an AFK run: its issue, pull request and changes, by the log
        self.render_stages()  # now, from the run the page has: drawn after the log, they pushed its tools down
        # the summary the run wrote ($RUNBOARD_SUMMARY), once it has ended and wrote one
        self.summary_box = (
            ui.column()
            .classes('w-full gap-1 rounded border border-slate-300 px-3 py-2 max-h-[32rem] overflow-auto')
            .props('data-testid=summary aria-label="Summary"')
        )
        self.summary_box.set_visibility(False)
        # Log, Artifacts, Tests: shown and hidden (not re-mounted), so the log keeps its window and scroll
        with ui.tabs(on_change=self.show_tab).props('dense no-caps align=left').classes('w-full') as tabs:
            log_tab = ui.tab('log', label='Log').props('data-testid=tab-log')
            artifacts_tab = ui.tab('artifacts', label='Artifacts').props('data-testid=tab-artifacts')
            tests_tab = ui.tab('tests', label='Tests').props('data-testid=tab-tests')
        self.tabs = tabs
        self.log_box = ui.column().classes('w-full gap-2')
        with self.log_box:
            self.log = LogPanel(run)
        self.artifacts_box = ui.column().classes('w-full gap-2').props('data-testid=artifacts-panel')
        self.tests_box = ui.column().classes('w-full gap-2').props('data-testid=tests-panel')
        self.artifacts_box.set_visibility(False)
        self.tests_box.set_visibility(False)
        self.extras = RunExtras(
            self.artifacts_box,
            self.tests_box,
            {'artifacts': artifacts_tab, 'tests': tests_tab},
            self.summary_box,
            self.results,
        )
        tabs.set_value(log_tab)  # after the boxes exist: its change shows the log box and hides the others
        ui.timer(1.0, self.tick)

    # -- header
    def render_header(self) -> None:
        """The status, the actions and the facts below the heading, redrawn when the run changes."""
        run = self.run
        self.took.text = duration(run)
        self.badge_box.clear()
        with self.badge_box:
            status_badge(run['status'])
        heading = self.heading
        action: ui.element = heading  # where the focus goes from a control redrawn away
        self.actions_box.clear()
        self.details.clear()
        with self.actions_box:
            offer = retry_offer(run)
            if offer.retry:
                action = (
                    ui.button('Retry', icon='replay', on_click=lambda: retry(self.run))
                    .classes('rb-tap')
                    .props('data-testid=retry')
                )
            if offer.taken_up_by:  # its Retry would be refused (409 issue_busy): the newer run is the one
                ui.link(taken_up_text(run, offer.taken_up_by), f'/runs/{offer.taken_up_by}').classes(
                    'rb-tap-link'
                ).props('data-testid=issue-taken-up-by')
            if run['status'] in ACTIVE and run['status'] != 'stopping':
                action = (
                    ui.button('Stop', icon='stop', color='negative', on_click=lambda: stop_run(self.run['id']))
                    .classes('rb-tap')
                    .props('data-testid=stop')
                )
            approve_button(run, operator=self.operator, dense=False)  # a protected branch's run that waits for one
            cancel_button(run, dense=False)  # a delayed run: it ends without starting
            if run['status'] in TERMINAL_STATUSES and run['kind'] != 'auto':
                # a new run like this one (any outcome, succeeded too), in the Run form to change first; an AFK run's
                # afk/<N> is the agent's branch, not one to run a pipeline on: its Retry works the issue again
                ui.button(
                    'Run again',
                    icon='play_arrow',
                    on_click=lambda: ui.navigate.to(f'/projects/{self.run["project_id"]}?{run_again_query(self.run)}'),
                ).props('flat data-testid=run-again').classes('rb-tap')
        with self.details:
            with ui.row().classes('items-center gap-x-4 gap-y-1 flex-wrap text-sm'):
                with ui.row().classes('gap-1 items-baseline'):
                    ui.label('branch').classes('opacity-60')
                    # to the branch's runs and history, as a workflow run's branch is on GitHub
                    ui.link(shown(run['branch_name']), branch_runs_href(run['project_id'], run['branch_name'])).props(
                        'dir=auto data-param=branch'
                    ).classes('rb-tap-link').tooltip('The runs of this branch, with its history')
                if run.get('commit_sha'):
                    with ui.row().classes('gap-1 items-baseline min-w-0').props('data-param=commit'):
                        ui.label('commit').classes('opacity-60')
                        commit_facts(run)
                for name, value in (
                    ('depth', run['depth_level']),
                    ('framework', run['target_framework']),
                    ('kind', run['kind']),
                    ('by', started_by(run)),
                ):
                    with ui.row().classes('gap-1 items-baseline'):
                        ui.label(name).classes('opacity-60')
                        attrs(ui.label(shown(value)).props('dir=auto'), {'data-param': name})
                when_name, when = start_fact(run)
                with ui.row().classes('gap-1 items-baseline'):
                    ui.label(when_name).classes('opacity-60').props('data-testid=when-name')
                    # a relative time: the clock keeps it true
                    self.started_label = ui.label(relative(when)).props('data-param=started dir=auto')
                    attrs(self.started_label, {'data-rb-at': iso_utc(when)})  # the moment, on hover
                if run.get('issue_number'):
                    ui.label(f'issue #{run["issue_number"]} {shown(run.get("issue_title"))}').props('dir=auto')
                push_facts(run)  # a push or pull-request run: who pushed, the pull request's link
                commit_status_line(run)  # ... and what was posted back to the forge
                if run.get('retry_of'):
                    with ui.row().classes('gap-1 items-baseline'):
                        automatic = (run.get('idempotency_key') or '').startswith(AUTO_RETRY_KEY_PREFIX)
                        ui.label('automatic retry of' if automatic else 'retry of').classes('opacity-60')
                        ui.link(run['retry_of'], f'/runs/{run["retry_of"]}').classes('rb-tap-link').props(
                            'data-testid=retry-of'
                        )
                if run.get('batch_id'):  # a child of a matrix batch (app/pages/batch_page.py)
                    with ui.row().classes('gap-1 items-baseline'):
                        ui.label('batch').classes('opacity-60')
                        ui.link(run['batch_id'], f'/batches/{run["batch_id"]}').classes('rb-tap-link').props(
                            'data-testid=batch-link'
                        )
                if run.get('retried_by'):
                    with ui.row().classes('gap-1 items-baseline').props('data-testid=retried-by'):
                        ui.label('retried by').classes('opacity-60')
                        for retry_id in run['retried_by']:
                            ui.link(retry_id, f'/runs/{retry_id}').classes('rb-tap-link')
                if run.get('approval') == 'approved':  # a protected branch's run an operator let go
                    with ui.row().classes('gap-1 items-baseline'):
                        ui.label('approved by').classes('opacity-60')
                        ui.label(shown(run.get('approved_by'))).props('data-param=approved-by dir=auto')
                if run.get('retry_planned'):  # its project's rule retries it; the retry is not made yet
                    ui.label(retry_planned_text(run['retry_planned'])).props('data-testid=retry-planned')
                if run.get('variables'):  # the trigger's own (docs/pipelines.md)
                    variable_chips(run['variables'], 'run-variables')
                if run.get('exit_code') is not None:
                    ui.label(f'exit code {run["exit_code"]}')
                self.resources = ui.label().props('data-param=resources')
                self.show_resources()
                spent = usage_text(run.get('usage'))  # what its agent reported (`::usage::` lines, summed)
                if spent:
                    with ui.row().classes('gap-1 items-baseline'):
                        ui.label('usage').classes('opacity-60')
                        ui.label(spent).classes('font-mono').props('data-param=usage')
            if run['status'] == 'queued' and run.get('waiting'):
                ui.label(f'#{run.get("queue_position")} in line · {run["waiting"]}').classes(
                    'text-sm rb-text-caution'
                ).props('data-testid=waiting')
            timing_bits(run, size='text-sm', reason=False)  # when a delayed run runs, when a queued one expires
            if run.get('error'):
                ui.label(run['error']).classes('text-sm text-negative')
            if self.header_drawn:  # the focus on a control redrawn away goes to its successor (assets/in-place.js)
                heading.props('tabindex=-1')  # focusable from there, not a Tab stop
                ui.run_javascript(f'runboardKeepFocus({action.id}, {heading.id})')
        self.header_drawn = True

    def show_resources(self) -> None:
        if self.resources is not None:
            self.resources.text = resources_text(self.run) or ''
            self.resources.set_visibility(bool(self.resources.text))

    def tick(self) -> None:
        self.ticks += 1
        if self.started_label is not None:
            when = start_fact(self.run)[1]
            self.started_label.text = relative(when)
            attrs(self.started_label, {'data-rb-at': iso_utc(when)})  # created, then started
        if self.run.get('status') == 'running':
            self.took.text = duration(self.run)
        elif self.run.get('status') == 'queued' and self.ticks % 3 == 0:
            background_tasks.create(self.catch_up(), name='waiting-reason')  # why it waits changes silently

    def open_tests(self) -> None:
        self.tabs.set_value('tests')

    def show_tab(self, event: Any) -> None:
        self.log_box.set_visibility(event.value == 'log')
        self.artifacts_box.set_visibility(event.value == 'artifacts')
        self.tests_box.set_visibility(event.value == 'tests')

    # -- stages and title
    def render_stages(self) -> None:
        draw_stages(self.stages, self.run)  # the run's stages as the API answers them, with results
        draw_annotations(self.annotations, self.run)  # its ::error/::warning/::notice lines, linking to the log

    def retitle(self) -> None:
        """The tab says which run and how it stands: `{id} · {status} · Runboard`, kept live."""
        with self.header:
            ui.page_title(run_title(self.run))

    # -- output
    async def open(self, line: int | None = None) -> None:
        """First paint of the log: the window around a linked line (#L123), else the tail window."""
        await self.log.open(line)
        self.render_stages()
        await self.extras.load(self.run)
        if self.review is not None:
            await self.review.load(self.run)

    async def catch_up(self) -> None:
        """The run as it stands now (header, title, stages) and the log lines that arrived since."""
        if self.catching_up:
            self.again = True
            return
        self.catching_up = True
        client = connection.client()
        try:
            while True:
                self.again = False
                run = await client.get_run(self.run['id'], events_limit=0)
                redraw = header_changed(self.run, run)
                self.run = run
                await self.log.catch_up(run)
                if redraw:
                    self.render_header()
                    self.retitle()
                else:
                    self.show_resources()
                self.render_stages()
                await self.extras.load(run)  # its files and tests, once it has ended
                if self.review is not None:
                    await self.review.load(run)
                if not self.again:
                    break
        except ApiError:
            pass
        finally:
            self.catching_up = False

    async def on_event(self, event: dict) -> None:
        if event.get('id') != self.run['id']:
            return
        if event.get('type') == 'run.usage':  # what it used so far, each heartbeat: the header's line alone
            if (run := with_usage(self.run, event)) is not None:
                self.run = run
                self.show_resources()
            return
        lines_only = not (event.get('stage') or event.get('usage'))
        if event.get('type') == 'run.output' and lines_only and event.get('last_seq'):
            # lines, and nothing else changed: the log reads them; no re-read of the run 20 times a second
            newest = {key: max(self.run.get(key) or 0, event.get(key) or 0) for key in ('last_seq', 'output_lines')}
            self.run = {**self.run, **newest}  # the count under the log, with the lines
            with contextlib.suppress(ApiError):  # the next event or the reconnect catches up
                await self.log.catch_up(self.run)
            return
        await self.catch_up()


async def linked_line() -> int | None:
    """The #L123 of the address: only the browser knows it, so it is read once the tab is connected."""
    with contextlib.suppress(TimeoutError):
        await ui.context.client.connected(timeout=10.0)
        return line_from_hash(await ui.run_javascript('location.hash'))
    return None


# the address becomes the run's; Back and Forward then load the page their address names (assets/in-place.js)
SHOW_ADDRESS = 'window.runboardShowAddress(%s)'


async def open_in_place(run: dict) -> bool:
    """The timeline of a run this tab just admitted, drawn in place of the page that admitted it: no page load,
    and the header from the admission's answer at once; then its output and its live stream, as the run page
    has them. False when this page has no frame to draw into (the caller loads the run page instead)."""
    page = page_frame()
    if page is None:
        return False
    operator = is_operator(await who_am_i())  # before the old page goes: nothing waits between the two
    live.leave_page()  # the old page's streams; its timers go with its elements
    page.content.clear()
    page.title.text = f'Run {run["id"]}'
    with page.content:
        view = TimelineView(run, operator=operator)
        view.render_header()
        view.retitle()
    ui.run_javascript(SHOW_ADDRESS % json.dumps(f'/runs/{run["id"]}'))
    await view.open()
    live.follow(view.on_event, run=run['id'], on_reconnect=view.catch_up)
    return True


@ui.page('/runs/{run_id}')
@signed_in
async def run_page(run_id: str, request: Request) -> Response | None:
    client = connection.client()
    try:
        run = await client.get_run(run_id, events_limit=0)
    except ApiError as exc:
        if exc.status == 404:
            return not_found_page(request, f'There is no run {run_id}, or it is in a team you are not in.')
        with frame('Run'):
            ui.label(str(exc)).classes('text-negative')
        return None
    operator = is_operator(await who_am_i())
    with frame(f'Run {run_id}'):
        view = TimelineView(run, operator=operator)
        view.render_header()
        view.retitle()
    await view.open(await linked_line())
    live.follow(view.on_event, run=run_id, on_reconnect=view.catch_up)
    return None
