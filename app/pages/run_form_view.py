"""The Run form: branch picker with live busy marks, depth and framework, limits, optimistic submit and the
409/429 banners, the run's own variables."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages import log_view
from app.pages.attributes import attrs
from app.pages.instant_row import REVEAL_ON_CLICK
from app.pages.matrix_fields import MatrixFields
from app.pages.run_later import RunLater
from app.pages.run_limits import RunLimits
from app.pages.run_page import open_in_place
from app.pages.runs_list import RunsListView
from app.pages.theme import live_relative
from app.pages.widgets import correlation_chip
from app.state import connection
from app.state.branch_marks import busy_holder, marks_after_run
from app.state.run_form import (
    Failure,
    RunFormState,
    branch_head,
    failure_after_run_update,
    own_variables_reason,
    parse_variables,
    submit_run,
    typed_branch,
    variables_text,
)
from app.state.runs_store import RunsStore
from app.state.text import shown


def branch_options(branches: list[dict]) -> dict[str, str]:
    """name -> label: the base branch and the busy ones (an active run holds them) are marked."""
    options = {}
    for branch in branches:
        label = shown(branch['name'])
        if branch.get('is_base'):
            label += '  (base)'
        if branch.get('busy_run_id'):
            label += f'  · busy: {branch["busy_run_id"]}'
        options[branch['name']] = label
    return options


# the picker sends the text of the last keystrokes a moment after the key that leaves it (it waits a tick): read after
TYPED_SETTLE_SECONDS = 0.2
# after the options' update has reached the select (its watcher resets the shown options on the next tick), the
# typed text filters them again, as a keystroke would (nicegui/elements/select.js)
REFILTER_JS = 'setTimeout(() => { const s = getElement(ID); if (s) s.filteredOptions = s.findFilteredOptions(); })'
PICKER_LIMIT = 100  # branches the picker holds at a time; typing asks the server for the matches
BRANCH_REFRESH_TICKS = 15  # seconds between re-reads of the busy marks (locks held by other projects' runs)


def branch_select(branches: list[dict], wanted: str | None, base: str) -> ui.select:
    """The branch picker: the wanted branch (a retry's or Run again's, kept even when the picker's list does not hold
    it: past its first page, or deleted, which the server then says, never another branch in its place), else the
    base branch, else the newest one."""
    names = [b['name'] for b in branches]
    options = branch_options(branches)
    if wanted and wanted not in names:
        options = {wanted: wanted, **options}
    value = wanted or (base if base in names else (names[0] if names else None))
    return (
        ui.select(options, label='Branch', with_input=True, value=value)
        .classes('w-full sm:w-96')
        .props('data-testid=branch input-debounce=0 aria-label="Branch (type to search)"')
    )


def pick(value: str | None, allowed: list[str]) -> str | None:
    return value if value in allowed else (allowed[0] if allowed else None)


def run_tooltip(wrap: ui.element) -> ui.tooltip:
    """Above Run, so it never covers the reason or failure text below it; shown on mouse hover and on keyboard
    focus, never after a tap on a touch screen (the reason is there in words already)."""
    tooltip = ui.tooltip('').props('anchor="top middle" self="bottom middle" :offset="[0, 8]" no-parent-event')
    show = f'runMethod({tooltip.id}, "show", [])'
    hide = f'runMethod({tooltip.id}, "hide", [])'
    wrap.on('pointerenter', js_handler=f'(e) => {{ if (e.pointerType === "mouse") {show}; }}')
    wrap.on('pointerleave', js_handler=f'() => {hide}')
    wrap.on('focusin', js_handler=f'() => {show}')
    wrap.on('focusout', js_handler=f'() => {hide}')
    return tooltip


def run_button(on_click: Callable[[], Awaitable[None]]) -> tuple[ui.element, ui.button, ui.tooltip]:
    """Run, in a wrap that keeps its tooltip while it is disabled. A click unhides the `Submitting…` row
    in the browser before it is sent (app/pages/instant_row.py)."""
    with ui.element('span').props('tabindex=-1 aria-describedby=rb-run-reason') as wrap:
        button = (
            ui.button('Run', icon='play_arrow')
            .classes('rb-tap')
            .props('data-testid=run aria-describedby=rb-run-reason data-instant=on')
        )
        button.on('click', lambda _: on_click(), [], js_handler=REVEAL_ON_CLICK)
        return wrap, button, run_tooltip(wrap)


def keyboard_stop(wrap: ui.element, reason: str | None) -> None:
    """A disabled Run stays reachable by keyboard, named, with its reason (and its tooltip)."""
    if reason:
        attrs(wrap.props('tabindex=0 role=button aria-disabled=true'), {'aria-label': f'Run (unavailable: {reason})'})
    else:
        wrap.props('tabindex=-1').props(remove='role aria-disabled aria-label')


def failure_banner(failure: Failure) -> None:
    """A refused or failed submit: what happened, the runs in the way, and the correlation id."""
    with attrs(
        ui.element('div').classes('w-full rb-banner rb-banner-red').props('role=alert data-testid=failure'),
        {'data-failure': failure.kind},
    ):
        ui.label(failure.message).props('data-testid=failure-text')
        with ui.row().classes('items-center gap-2 flex-wrap'):
            if failure.links:
                ui.label('Active run:' if failure.kind == 'pr_lock' else 'Active runs:').classes('text-sm')
            for run_id in failure.links:
                attrs(
                    ui.link(run_id, f'/runs/{run_id}').classes('font-mono text-sm rb-tap-link'),
                    {'data-blocking': run_id},
                )
            correlation_chip(failure.correlation_id, f'HTTP {failure.status}' if failure.status else 'connection lost')


class RunFormView:
    def __init__(
        self,
        project: dict,
        branches: list[dict],
        store: RunsStore,
        *,
        retry_of: str | None,
        branch: str | None,
        depth: str | None,
        framework: str | None,
        variables: dict[str, str] | None = None,
        operator: bool = False,
    ) -> None:
        self.project, self.store = project, store
        self.operator = operator  # a builder's own variables on a protected branch are refused: said before Run
        self.form = RunFormState(project_id=project['id'], retry_of=retry_of)
        self.submitting = False
        self.failure: Failure | None = None
        self.list_view: RunsListView | None = None  # set once the runs list below the form exists
        self.branches = branches  # what the picker offers, with the busy marks drawn
        self.run_changes = 0  # the project's run changes seen: a read of the branches answered across one is stale
        self.ticks = 0

        self.limits = RunLimits()
        log_view.preload()  # a submitted run's timeline opens in place of this page
        with ui.card().classes('w-full rb-form').props('data-testid=run-form'):
            if retry_of:
                with ui.row().classes('items-center gap-2'):
                    ui.icon('replay')
                    ui.label('Retry of')
                    ui.link(retry_of, f'/runs/{retry_of}').classes('font-mono')
            with ui.row().classes('w-full items-start gap-3 flex-wrap'):
                self.branch = branch_select(branches, branch, project['base_branch'])
                if len(branches) >= PICKER_LIMIT:  # maybe more than the picker holds: typing asks the server
                    self.branch.on('input-value', self.search_branches, throttle=0.25, leading_events=False)
                self.typed: str | None = None  # what was typed in the picker since a branch was last chosen
                self.branch.on('input-value', self.remember_typed)
                self.branch.on('keydown.enter', self.take_typed)
                self.branch.on('keydown.tab', self.take_typed)  # Tab moves the focus within the picker: no blur
                self.depth = (
                    ui.select(project['depth_levels'], label='Depth level', value=pick(depth, project['depth_levels']))
                    .classes('w-full sm:w-44')
                    .props('data-testid=depth')
                )
                self.framework = (
                    ui.select(
                        project['target_frameworks'],
                        label='Target framework',
                        value=pick(framework, project['target_frameworks']),
                    )
                    .classes('w-full sm:w-44')
                    .props('data-testid=framework')
                )
            # what the chosen branch points to now (a retry of the same branch runs its original's commit instead)
            with ui.row().classes('items-baseline gap-1 text-xs opacity-80').props('data-testid=branch-head') as head:
                ui.label('head')
                self.head_sha = ui.label().classes('font-mono').props('data-field=head-sha')
                self.head_title = ui.label().classes('rb-commit-title').props('data-field=head-title')
                self.head_age = ui.label().props('data-field=committed')
            self.head = head
            self.later = RunLater(shown=not retry_of)  # now, in a while, or at a time; and a queue TTL
            self.matrix = MatrixFields(self, shown=not retry_of)  # every depth x framework, as one batch
            # the run's own variables (a retry runs with its original's), over the project's of the same name
            self.variables = (
                ui.textarea(
                    'Variables (optional)', value=variables_text(variables), placeholder='NAME=value, one a line'
                )
                .classes('w-full sm:w-[32rem] font-mono')
                .props('autogrow rows=1 data-testid=variables')
                .tooltip("The run's environment variables (each run's, with Matrix), over the project's of that name")
            )
            self.variables.set_visibility(not retry_of)
            self.variables.on_value_change(lambda _: self.update_button())
            self.branch.on_value_change(self.branch_chosen)
            with ui.row().classes('items-center gap-3 flex-wrap'):
                self.run_wrap, self.run_button, self.run_tooltip = run_button(self.submit)
                # not "Reset": that word is the AFK pause's (the card's menu), a different act altogether
                ui.button('Restore defaults', icon='restart_alt', on_click=self.reset).props(
                    'flat data-testid=reset'
                ).classes('rb-tap')
                self.progress = ui.label().classes('text-sm opacity-80').props('data-testid=progress')
            self.reason = ui.label().classes('text-sm').props('id=rb-run-reason data-testid=run-reason')
            # the chosen branch's lock, said before Run is pressed (the server refuses with 409 pr_lock meanwhile)
            self.busy = (
                ui.row().classes('items-baseline gap-1 text-sm rb-text-caution').props('data-testid=branch-busy')
            )
            self.busy.set_visibility(False)
            self.busy_holder: str | None = None
            self.result = ui.column().classes('w-full gap-1').props('aria-live=assertive data-testid=result')
        self.show_head()
        self.initial = self.payload()
        self.initial_variables = variables or {}  # "Restore defaults" brings back what the form opened with
        ui.timer(1.0, self.tick)

    async def reload_branches(self) -> None:
        """The picker offers the repository's branches and their busy marks as the server has them now (the chosen
        one stays). A run that changed while the read was under way may be missing from its answer (the page reads
        again when its stream opens, so a run started at that moment was: its mark came and went), so that read is
        made again; a project whose runs keep changing keeps the marks its events gave."""
        for _attempt in range(3):
            changes = self.run_changes
            try:
                found = await connection.client().branches(self.project['id'], limit=PICKER_LIMIT)
            except ApiError:
                return
            if self.branch.is_deleted:  # the page moved on (to the run it started) while the read was under way
                return
            if self.run_changes == changes:
                self.offer_branches(found)
                return

    async def read_busy_marks_again(self) -> None:
        """The branches' busy marks as the server has them now (not while the picker shows what a search found)."""
        if len(self.branches) < PICKER_LIMIT:
            await self.reload_branches()

    def remember_typed(self, event) -> None:  # noqa: ANN001 - a NiceGUI GenericEventArguments
        text = event.args if isinstance(event.args, str) else ''
        shown = self.branch.options if isinstance(self.branch.options, dict) else {}
        if not (self.branch.value and text == shown.get(self.branch.value)):  # not the chosen branch's own label
            self.typed = text

    async def take_typed(self) -> None:
        """Enter, or leaving the picker, after typing without choosing: the branch meant (typed_branch), never the
        one chosen before left in place without a word."""
        await asyncio.sleep(TYPED_SETTLE_SECONDS)
        typed, self.typed = self.typed, None
        if not typed or not typed.strip():
            return
        options = self.branch.options if isinstance(self.branch.options, dict) else {}
        meant = typed_branch(typed, options)
        if meant is None:
            ui.notify(f'No branch matches "{typed.strip()}": {self.branch.value} is still chosen', type='warning')
        elif meant != self.branch.value:
            self.branch.set_value(meant)
            self.branch.run_method('updateInputValue', options[meant], True)  # as a choice from its list shows
            self.branch.run_method('hidePopup')

    def branch_chosen(self) -> None:
        self.typed = None
        self.show_head()
        self.update_button()

    def show_head(self) -> None:
        head = None if self.form.retry_of else branch_head(self.branches, self.branch.value)
        self.head.set_visibility(head is not None)
        if head is not None:
            self.head_sha.text, self.head_title.text = head.sha, head.title
            live_relative(self.head_age, head.committed_at, prefix='· committed ')

    async def search_branches(self, event) -> None:  # noqa: ANN001 - a NiceGUI GenericEventArguments
        """Typing in the picker asks the server for the top matches (a repository may have 40,000 branches;
        a smaller one is filtered in the browser, as it is listed whole)."""
        text = event.args if isinstance(event.args, str) else ''
        shown = self.branch.options if isinstance(self.branch.options, dict) else {}
        if self.branch.value and text == shown.get(self.branch.value):
            return  # the picker wrote the chosen branch's label into its input: not a search
        try:
            found = await connection.client().branches(self.project['id'], q=text, limit=PICKER_LIMIT)
        except ApiError:
            return  # keep what the picker shows; the next keystroke asks again
        self.offer_branches(found)

    def offer_branches(self, found: list[dict]) -> None:
        """Offer `found`, and keep the chosen branch (with its live busy mark) even when a search left it out."""
        current = self.branch.value
        if current and current not in {b['name'] for b in found}:
            kept = [b for b in self.branches if b['name'] == current] or [{'name': current}]
            found = kept + found
        self.branches = found
        self.branch.set_options(branch_options(found), value=current)
        if self.typed:  # NiceGUI's select shows new options unfiltered: the list a person is typing in stays filtered
            self.branch.client.run_javascript(REFILTER_JS.replace('ID', str(self.branch.id)))
        self.show_head()
        self.update_button()

    # -- limits
    async def refresh_quota(self) -> None:
        await self.limits.refresh_quota()
        self.limits.render(self.failure)
        self.update_button()

    def block_reason(self) -> str | None:
        own, field = None, getattr(self, 'variables', None)  # (not made yet while the form is drawn)
        if field is not None and field.visible:  # a retry runs with its original's variables: not the person's own
            own = own_variables_reason(self.project, self.branch.value, field.value or '', operator=self.operator)
        return (
            self.limits.block_reason()
            or self.matrix.block_reason()
            or own
            or ('Submitting…' if self.submitting else None)
        )

    def update_button(self) -> None:
        reason = self.block_reason()
        self.run_button.set_enabled(reason is None)
        attrs(
            self.run_button,
            {
                'data-instant': 'off' if self.matrix.on else 'on',  # a batch has no row
                'aria-disabled': 'true' if reason else 'false',
            },
        )
        self.run_tooltip.text = reason or 'Start the run'
        keyboard_stop(self.run_wrap, reason)
        self.reason.text = reason if reason and not self.submitting else ''
        self.reason.set_visibility(bool(self.reason.text))
        self.show_busy()

    def show_busy(self) -> None:
        """Says which active run holds the chosen branch, following the picker's live busy marks."""
        holder = busy_holder(self.branches, self.branch.value)
        if holder == self.busy_holder:
            return
        self.busy_holder = holder
        self.busy.clear()
        self.busy.set_visibility(holder is not None)
        if holder is None:
            return
        with self.busy:
            ui.label('Busy:')
            attrs(ui.link(holder, f'/runs/{holder}').classes('font-mono rb-tap-link'), {'data-holder': holder})
            ui.label(f'holds {shown(self.branch.value or "")}; Run is refused until it ends.').props('dir=auto')

    async def tick(self) -> None:
        self.ticks += 1
        if self.ticks % BRANCH_REFRESH_TICKS == 0:
            await self.read_busy_marks_again()  # locks held by other projects' runs on the same repository
        action = self.limits.tick_action()
        if action == 'refresh':
            await self.refresh_quota()
        elif action == 'render':
            self.limits.render(self.failure)
            self.update_button()

    # -- submit
    def payload(self) -> dict:
        return {'branch': self.branch.value, 'depth_level': self.depth.value, 'target_framework': self.framework.value}

    async def submit(self) -> None:
        instant = self.list_view.instant if self.list_view is not None else None
        with instant.answering() if instant is not None else contextlib.nullcontext():
            await self._submit()

    async def _submit(self) -> None:
        if self.matrix.on and not (self.submitting or self.block_reason()):
            return await self.matrix.submit()  # app/pages/matrix_fields.py
        if self.submitting or self.block_reason() or (timing := await self.later.fields()) is None:
            return
        variables, problem = parse_variables(self.variables.value or '') if not self.form.retry_of else ({}, None)
        self.variables.error = problem
        if problem:
            return
        payload: dict[str, Any] = {**self.payload(), **timing, **({'variables': variables} if variables else {})}
        self.submitting = True
        self.failure = None
        self.result.clear()
        self.update_button()
        self.progress.text = 'Submitting…'
        view = self

        def on_attempt(attempt: int) -> None:
            if attempt > 1:
                view.progress.text = f'No answer yet; retrying the same submit (attempt {attempt})…'
            if view.list_view is not None:
                view.list_view.render()

        try:
            outcome = await submit_run(connection.client(), self.form, self.store, payload, on_attempt=on_attempt)
        finally:
            self.submitting = False
        if outcome.response is not None:  # outcome.ok: the page goes, so its list is not drawn again first
            run = outcome.response.data
            self.progress.text = 'Run already exists; opening it…' if outcome.response.replayed else 'Opening run…'
            if not await open_in_place(run):
                ui.navigate.to(f'/runs/{run["id"]}')
            return
        if self.list_view is not None:
            self.list_view.render()
        self.progress.text = ''
        if outcome.failure is not None:
            self.show_failure(outcome.failure)
        await self.refresh_quota()

    def show_failure(self, failure: Failure) -> None:
        self.failure = failure
        self.result.clear()
        if failure.kind == 'rate_limited':  # the banner above says it all, with a live countdown
            self.limits.rate_limited(failure.retry_after or 1)
            self.limits.render(failure)
            self.update_button()
            return
        with self.result:
            failure_banner(failure)
        self.limits.render(failure)
        self.update_button()

    def on_run_update(self, run: dict) -> None:
        """A run of this project changed: busy marks and the 409 banner follow it at once."""
        self.run_changes += 1
        marks = marks_after_run(self.branches, run)
        if marks is not None:
            self.offer_branches(marks)
        if self.failure is not None and (updated := failure_after_run_update(self.failure, run)) is not None:
            self.show_failure(updated)

    async def reset(self) -> None:
        """A new submit: the values the form opened with, a new idempotency key, no old failure shown."""
        self.branch.value = self.initial['branch']
        self.depth.value = self.initial['depth_level']
        self.framework.value = self.initial['target_framework']
        self.form.reset()
        self.later.reset()
        self.matrix.reset()
        self.variables.value = variables_text(self.initial_variables)
        self.variables.error = None
        self.failure = None
        self.result.clear()
        self.progress.text = ''
        self.update_button()
