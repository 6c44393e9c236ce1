"""Bulk Stop, Retry and (for operators) Approve on the runs list: a Select mode puts a checkbox on each row; the
bar above the list says what is selected (or "all matching these filters"), sends one POST /runs/bulk under one
key, and each row then says what happened to it (done, skipped with the reason, refused with the problem)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import confirm, error_notice
from app.state import connection
from app.state.bulk_selection import VERBS, BulkSelection, confirm_text, outcome_text, summary_text

OUTCOME_CLASSES = {'done': 'text-positive', 'skipped': 'opacity-80', 'refused': 'text-negative'}


class BulkBar:
    def __init__(
        self,
        filters: Callable[[], dict[str, Any]],
        redraw: Callable[[], None],
        shown: Callable[[], tuple[int, bool]],  # the list's real rows, and whether older ones match too
        *,
        operator: bool = False,
    ) -> None:
        self.selection = BulkSelection()
        self.operator = operator
        self.filters, self.redraw, self.shown = filters, redraw, shown
        self.toggle_button = (
            ui.button('Select', icon='checklist', on_click=self.toggle_mode)
            .props('flat dense data-testid=bulk-select')
            .classes('rb-tap')
        )

    def draw_bar(self) -> None:
        """The bar itself, where the list wants it (below its header row)."""
        with ui.row().classes('w-full items-center gap-2 flex-wrap rb-banner').props('data-testid=bulk-bar') as bar:
            self.count = ui.label().classes('text-sm').props('data-testid=bulk-count aria-live=polite')
            ui.button('All matching these filters', icon='select_all', on_click=self.pick_all).props(
                'flat dense data-testid=bulk-all'
            ).classes('rb-tap')
            ui.space()
            self.stop_button = ui.button('Stop', icon='stop', color='negative', on_click=lambda: self.act('stop'))
            self.stop_button.props('dense data-testid=bulk-stop').classes('rb-tap')
            self.retry_button = ui.button('Retry', icon='replay', on_click=lambda: self.act('retry'))
            self.retry_button.props('dense data-testid=bulk-retry').classes('rb-tap')
            self.buttons = [self.stop_button, self.retry_button]
            if self.operator:  # a builder's approve would be refused: it is not offered
                approve = ui.button('Approve', icon='verified', color='positive', on_click=lambda: self.act('approve'))
                approve.props('dense data-testid=bulk-approve').classes('rb-tap')
                self.buttons.append(approve)
            self.result = ui.column().classes('w-full gap-0').props('data-testid=bulk-result aria-live=polite')
        self.bar = bar
        self.update()

    def toggle_mode(self) -> None:
        self.selection.selecting = not self.selection.selecting
        self.selection.clear()
        self.toggle_button.text = 'Done' if self.selection.selecting else 'Select'
        self.update()
        self.redraw()

    def pick(self, run_id: str) -> None:
        self.selection.toggle(run_id)
        self.update()

    def pick_all(self) -> None:
        self.selection.pick_all_matching()
        self.update()
        self.redraw()  # the rows' boxes follow: none ticked, the filter is the selection

    def update(self) -> None:
        self.bar.set_visibility(self.selection.selecting)
        self.count.text = self.selection.count_text
        for button in self.buttons:
            button.set_enabled(self.selection.can_act)

    async def act(self, action: str) -> None:
        verb = VERBS[action]
        rows, more = self.shown()
        question = confirm_text(action, self.selection, shown=rows, more=more)
        if not await confirm(question, yes=verb, color='positive' if action == 'approve' else 'negative'):
            return
        body, key = self.selection.request(action, self.filters())
        for button in self.buttons:
            button.props('loading')
        try:
            answer = await connection.client().bulk_runs(body, key=key)
        except ApiError as exc:
            error_notice(self.result, exc, f'{verb.lower()} the runs (press {verb} again to resend the same action)')
            return
        finally:
            for button in self.buttons:
                button.props(remove='loading')
        self.selection.answered(answer)
        self.result.clear()
        with self.result:
            ui.label(summary_text(answer)).classes('text-sm font-medium').props('data-testid=bulk-summary')
        self.update()
        self.redraw()

    def row_controls(self, run: dict) -> None:
        """Drawn inside a row: its checkbox while selecting, and what the last bulk action did to it."""
        run_id = run.get('id')
        if not run_id:
            return
        if self.selection.selecting:
            attrs(
                ui.checkbox(value=run_id in self.selection.picked, on_change=lambda _, r=run_id: self.pick(r)).props(
                    'dense'
                ),
                {'data-pick': run_id, 'aria-label': f'Select run {run_id}'},
            ).set_enabled(not self.selection.all_matching)
        item = self.selection.outcomes.get(run_id)
        if item:
            attrs(
                ui.label(outcome_text(item)).classes(f'text-xs {OUTCOME_CLASSES[item["outcome"]]}'),
                {'data-bulk-outcome': item['outcome']},
            )
