"""The Run form's Matrix toggle: depth level and target framework become multi-selects, and Run submits one
batch (a run per combination, POST /runs/batch) and opens its page. One Idempotency-Key per batch submit,
resent as it is after a lost answer (app/state/batch_form.py)."""

from __future__ import annotations

from typing import Any

from nicegui import background_tasks, ui

from app.pages.attributes import attrs
from app.state import connection
from app.state.batch_form import submit_batch
from app.state.batch_view import matrix_block_reason, matrix_count_text
from app.state.run_form import RunFormState, parse_variables


class MatrixFields:
    def __init__(self, view: Any, *, shown: bool = True) -> None:
        """view: the RunFormView it belongs to (its branch, single selects, Run button, banners and quota).
        shown=False: a retry, which reruns one run."""
        self.view = view
        project = view.project
        self.form = RunFormState(project_id=project['id'])  # the batch's own key, apart from a single run's
        with ui.row().classes('w-full items-center gap-3 flex-wrap').props('data-testid=matrix') as self.element:
            self.toggle = (
                ui.switch('Matrix', on_change=self.show)
                .props('data-testid=matrix-toggle')
                .tooltip('Run every combination of the depth levels and frameworks you pick, as one batch')
            )
            self.depths = self._multi(project['depth_levels'], 'Depth levels', view.depth.value, 'matrix-depths')
            self.frameworks = self._multi(
                project['target_frameworks'], 'Target frameworks', view.framework.value, 'matrix-frameworks'
            )
            self.all_or_nothing = (
                ui.checkbox('All or nothing')
                .props('data-testid=all-or-nothing')
                .tooltip('Create no run unless every combination is admitted (default: admit what can be)')
            )
            self.count = ui.label().classes('text-sm opacity-80').props('data-testid=matrix-count aria-live=polite')
        self.initial = self.chosen()  # what Reset goes back to
        self.element.set_visibility(shown)
        self.show()

    def _multi(self, options: list[str], label: str, value: str | None, testid: str) -> ui.select:
        """A multi-select starting with the single select's value (the combination the form opened with)."""
        chosen = [value] if value in options else options[:1]
        return attrs(
            ui.select(options, multiple=True, label=label, value=chosen, on_change=self.show)
            .classes('w-full sm:w-64')
            .props('use-chips'),
            {'data-testid': testid},
        )

    @property
    def on(self) -> bool:
        return bool(self.toggle.value)

    def chosen(self) -> tuple[list[str], list[str]]:
        return list(self.depths.value or []), list(self.frameworks.value or [])

    def show(self) -> None:
        """Matrix on: the multi-selects replace the single ones, and "Run later" (a single run's) steps aside."""
        on, view = self.on, self.view
        for element in (self.depths, self.frameworks, self.all_or_nothing, self.count):
            element.set_visibility(on)
        view.depth.set_visibility(not on)
        view.framework.set_visibility(not on)
        view.later.element.set_visibility(view.later.shown and not on)
        self.count.text = matrix_count_text(*self.chosen())
        if hasattr(view, 'run_button'):  # (not yet while the form is being built)
            view.run_button.text = f'Run {len(self.chosen()[0]) * len(self.chosen()[1])}' if on else 'Run'
            view.update_button()

    def block_reason(self) -> str | None:
        return matrix_block_reason(*self.chosen()) if self.on else None

    def payload(self, variables: dict[str, str]) -> dict[str, Any]:
        depths, frameworks = self.chosen()
        return {
            'branch': self.view.branch.value,
            'depth_levels': depths,
            'target_frameworks': frameworks,
            'all_or_nothing': bool(self.all_or_nothing.value),
            'variables': variables,  # every run of the batch gets them
        }

    async def submit(self) -> None:
        view = self.view
        variables, problem = parse_variables(view.variables.value or '')
        view.variables.error = problem
        if problem:
            return
        view.submitting = True
        view.failure = None
        view.result.clear()
        view.update_button()
        view.progress.text = f'Submitting {matrix_count_text(*self.chosen())}…'

        def on_attempt(attempt: int) -> None:
            if attempt > 1:
                view.progress.text = f'No answer yet; sending the same batch again (attempt {attempt})…'

        try:
            payload = self.payload(variables)
            outcome = await submit_batch(connection.client(), self.form, payload, on_attempt=on_attempt)
        finally:
            view.submitting = False
        if outcome.response is not None:
            batch = outcome.response.data
            view.progress.text = 'Batch made already; opening it…' if outcome.response.replayed else 'Opening batch…'
            ui.navigate.to(f'/batches/{batch["id"]}')
            background_tasks.create(view.refresh_quota(), name='quota-after-batch')
            return
        view.progress.text = ''
        view.update_button()
        if outcome.failure is not None:
            view.show_failure(outcome.failure)
        await view.refresh_quota()

    def reset(self) -> None:
        """Back to a single run with the values the form opened with, and a new key for the next batch."""
        self.form.reset()
        self.depths.value, self.frameworks.value = list(self.initial[0]), list(self.initial[1])
        self.all_or_nothing.value = False
        self.toggle.value = False
        self.show()
