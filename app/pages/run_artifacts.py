"""The run page's Artifacts and Tests tabs (docs/artifacts.md), drawn from GET /api/runs/{id}/artifacts and
GET /api/runs/{id}/tests once the run has ended (a run's files are kept when its command ends), and the summary the
run wrote (`$RUNBOARD_SUMMARY`) above them from GET /api/runs/{id}/summary (masked as the run's log is; its artifact
`summary.md` is the file as the run wrote it), its Markdown rendered safely.

Artifacts: name, size, Download (streamed through /run-artifacts/...), images and text previewed inline, HTML
opened in a new tab under the API's sandbox. Tests: totals, the failures (message, trace, and how each stands on
the branch, or on the base branch where the branch has no result: new, still failing since run X, flaky, failing
on main too), the tests it fixed, skipped tests, the slowest."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import code_block
from app.state import artifacts_view as view
from app.state import connection
from app.state.markdown import markdown_html
from app.state.runs_store import ACTIVE
from app.state.text import shown

MARK_COLOURS = {'new': 'negative', 'still_failing': 'deep-orange-10', 'flaky': 'purple-7', 'failing_on_base': 'blue-8'}


class RunExtras:
    """The Artifacts and Tests panels of one run page, their tab labels, and the run's summary."""

    def __init__(
        self,
        artifacts_box: ui.element,
        tests_box: ui.element,
        tabs: dict[str, ui.tab],
        summary_box: ui.element,
        results: ui.button,
    ) -> None:
        self.artifacts_box, self.tests_box, self.tabs, self.summary_box = artifacts_box, tests_box, tabs, summary_box
        self.results = results  # in the run's header: the tests and coverage in one line, opening the Tests tab
        self.loaded_for: str | None = None

    async def load(self, run: dict[str, Any]) -> None:
        """Once the run has ended (then once): its files and results are written before its end."""
        state = 'active' if run.get('status') in ACTIVE or run.get('status') == 'delayed' else 'ended'
        if self.loaded_for == state:
            return
        self.loaded_for = state
        if state == 'active':
            self._waiting(self.artifacts_box, 'Artifacts are kept when the run ends.')
            self._waiting(self.tests_box, 'Test reports are read when the run ends.')
            return
        client = connection.client()
        try:
            artifacts = await client.run_artifacts(run['id'])
            tests = await client.run_tests(run['id'])
        except ApiError as exc:
            self.loaded_for = None  # the next update tries again
            self._waiting(self.artifacts_box, f'Could not read the artifacts: {exc}')
            return
        await self.draw_summary(run['id'], artifacts)
        await self.draw_artifacts(run['id'], artifacts)
        self.draw_tests(tests)

    @staticmethod
    def _waiting(box: ui.element, text: str) -> None:
        box.clear()
        with box:
            ui.label(text).classes('text-sm opacity-70')

    async def draw_summary(self, run_id: str, answer: dict[str, Any]) -> None:
        """The summary as the API keeps it for the page (masked as the run's log), not its artifact summary.md."""
        try:
            summary = await connection.client().run_summary(run_id)
        except ApiError as exc:
            summary = {'text': f'(could not read it: {exc})', 'cut': False}
        text = view.summary_text(summary, view.summary_item(answer))
        self.summary_box.clear()
        self.summary_box.set_visibility(text is not None)
        if text is None:
            return
        with self.summary_box:
            ui.label('Summary').classes('font-bold').props('role=heading aria-level=2')
            # markdown2 escaped the run's HTML already; DOMPurify (sanitize=True) is the second fence
            ui.html(markdown_html(text), sanitize=True).classes('rb-markdown text-sm w-full').props(
                'data-testid=summary-body'
            )

    async def draw_artifacts(self, run_id: str, answer: dict[str, Any]) -> None:
        items = answer.get('items') or []
        attrs(self.tabs['artifacts'], {'label': view.artifacts_tab_label(items)})
        self.artifacts_box.clear()
        with self.artifacts_box:
            with ui.row().classes('items-center gap-3 w-full'):
                ui.label(view.artifacts_summary(answer)).classes('text-sm opacity-80').props(
                    'data-testid=artifacts-summary'
                )
                if any(item.get('stored') for item in items):
                    ui.space()
                    ui.link('Download all (.zip)', view.zip_ui_url(run_id)).classes('rb-tap-link text-sm').props(
                        'data-testid=artifacts-zip download'
                    )
            if any(item.get('stored') for item in items):  # said where files are downloaded (docs/security.md)
                ui.label(view.UNMASKED_FILES).classes('text-xs opacity-70').props('data-testid=artifacts-unmasked')
            with ui.column().classes('w-full gap-2').props('role=list aria-label="Artifacts"'):
                for item in items:
                    await self._artifact_row(run_id, item)

    async def _artifact_row(self, run_id: str, item: dict[str, Any]) -> None:
        path = item['path']
        kind = view.preview_kind(item)
        with attrs(
            ui.column()
            .classes('w-full gap-1 rounded border border-slate-300 px-2 py-1')
            .props('role=listitem data-testid=artifact'),
            {'data-path': path},
        ):
            with ui.row().classes('items-center gap-3 w-full flex-wrap'):
                ui.icon('description' if kind != 'image' else 'image').props('aria-hidden=true')
                ui.label(shown(path)).classes('font-mono text-sm').props('dir=auto data-field=path')
                ui.label(view.size_text(item['size'])).classes('text-sm opacity-70').props('data-field=size')
                ui.space()
                if item.get('stored'):
                    if kind == 'html':
                        ui.link('Open (sandboxed)', view.ui_url(run_id, path), new_tab=True).classes(
                            'rb-tap-link text-sm'
                        ).props('data-testid=artifact-open rel=noopener')
                    ui.link('Download', view.ui_url(run_id, path, download=True)).classes('rb-tap-link text-sm').props(
                        'data-testid=artifact-download download'
                    )
                else:
                    ui.label('refused').classes('text-sm text-negative font-bold')
            if not item.get('stored'):
                ui.label(item.get('refused') or '').classes('text-sm text-negative').props('data-field=refused')
            elif kind == 'image':
                attrs(
                    ui.image(view.ui_url(run_id, path))
                    .classes('max-w-xl border border-slate-200')
                    .props('data-testid=artifact-image fit=contain'),
                    {'alt': path},
                )
            elif kind == 'text':
                await self._text_preview(run_id, item)

    @staticmethod
    async def _text_preview(run_id: str, item: dict[str, Any]) -> None:
        path = item['path']
        try:
            preview = await connection.client().artifact_preview(run_id, path)
        except ApiError as exc:
            ui.label(f'(could not read it: {exc})').classes('text-sm text-negative').props('data-field=preview-error')
            return
        if note := view.preview_note(preview):
            ui.label(note).classes('text-xs opacity-70').props('data-field=preview-note')
        code_block(
            view.preview_text(preview), language=view.code_language(item), name=path, max_height='20rem'
        ).classes('w-full text-xs').props('data-testid=artifact-text')

    def draw_tests(self, answer: dict[str, Any]) -> None:
        results = view.results_text(answer)
        self.results.set_text(results)
        self.results.set_visibility(bool(results))
        totals = answer.get('totals') or {}
        failing = (totals.get('failed') or 0) + (totals.get('errors') or 0)
        label = f'Tests ({failing} failed)' if failing else view.tab_label('Tests', totals.get('total'))
        attrs(self.tabs['tests'], {'label': label})
        self.tests_box.clear()
        with self.tests_box:
            if not answer.get('has_report'):
                self._coverage(answer)  # from its Cobertura XML, with or without JUnit
                ui.label(
                    'No test report. JUnit XML among the artifacts ($RUNBOARD_ARTIFACTS_DIR/junit.xml) is read here.'
                ).classes('text-sm opacity-70')
                return
            ui.label(view.totals_text(totals)).classes('text-base font-bold').props('data-testid=test-totals')
            self._coverage(answer)
            if compared := view.comparison_text(answer):
                ui.label(compared).classes('text-sm').props('data-testid=test-comparison')
            if answer.get('problems'):
                ui.label(answer['problems']).classes('text-sm text-warning')
            if answer.get('failures'):
                ui.label('Failures').classes('text-sm font-bold mt-2').props('role=heading aria-level=2')
            for failure in answer.get('failures') or []:
                self._failure(failure, answer.get('base_branch'))
            if answer.get('failures_truncated'):
                ui.label('More failures than shown: see the report artifacts.').classes('text-sm opacity-70')
            if answer.get('fixed'):
                self._fixed(answer['fixed'])
            if answer.get('slowest'):
                ui.label('Slowest').classes('text-sm font-bold mt-2').props('role=heading aria-level=2')
                with ui.column().classes('gap-0').props('data-testid=slowest'):
                    for case in answer['slowest']:
                        with ui.row().classes('gap-3 text-sm'):
                            ui.label(view.seconds_text(case['duration_seconds'])).classes('font-mono w-20 text-right')
                            ui.label(view.failure_title(case)).classes('font-mono').props('dir=auto')
            if answer.get('skipped'):
                ui.label(f'Skipped ({len(answer["skipped"])})').classes('text-sm font-bold mt-2').props(
                    'role=heading aria-level=2'
                )
                with ui.column().classes('gap-0').props('data-testid=skipped'):
                    for case in answer['skipped']:
                        with ui.row().classes('gap-3 text-sm'):
                            ui.label(view.failure_title(case)).classes('font-mono').props('dir=auto')
                            ui.label(view.first_line(case.get('message'))).classes('opacity-70').props('dir=auto')

    @staticmethod
    def _coverage(answer: dict[str, Any]) -> None:
        if answer.get('coverage'):
            ui.label(view.coverage_text(answer['coverage'])).classes('text-sm font-medium').props(
                'data-testid=coverage'
            )

    @staticmethod
    def _fixed(fixed: list[dict[str, Any]]) -> None:
        """Passed here, failed by the previous run that ran them (GitLab's "fixed" in a merge request)."""
        ui.label(f'Fixed ({len(fixed)})').classes('text-sm font-bold mt-2').props('role=heading aria-level=2')
        with ui.column().classes('gap-1').props('role=list data-testid=fixed-tests'):
            for case in fixed:
                with ui.row().classes('items-center gap-2 text-sm flex-wrap').props('role=listitem data-testid=fixed'):
                    ui.icon('check_circle', color='positive').props('aria-hidden=true')
                    ui.label(view.failure_title(case)).classes('font-mono').props('dir=auto data-field=test')
                    ui.label('failed in').classes('opacity-70')
                    ui.link(case['since_run_id'], f'/runs/{case["since_run_id"]}').classes(
                        'rb-tap-link font-mono text-xs'
                    ).props('data-testid=since-link')

    @staticmethod
    def _failure(failure: dict[str, Any], base_branch: str | None = None) -> None:
        mark = failure.get('mark') or ''
        with attrs(
            ui.column()
            .classes('w-full gap-1 rounded border border-red-300 px-2 py-1')
            .props('data-testid=test-failure'),
            {'data-mark': mark},
        ):
            with ui.row().classes('items-center gap-2 flex-wrap'):
                ui.icon('error' if failure['status'] == 'error' else 'cancel', color='negative').props(
                    'aria-hidden=true'
                )
                ui.label(view.failure_title(failure)).classes('font-mono text-sm font-bold').props('dir=auto')
                ui.label(failure['status']).classes('text-xs opacity-70')
                if mark:
                    ui.badge(view.mark_text(failure, base_branch), color=MARK_COLOURS.get(mark, 'grey')).props(
                        'data-field=mark'
                    )
                    if failure.get('since_run_id'):
                        since = failure['since_run_id']
                        ui.link('open that run', f'/runs/{since}').classes('rb-tap-link text-xs').props(
                            'data-testid=since-link'
                        )
                ui.space()
                if failure.get('duration_seconds'):  # none in the report: no time rather than "0 ms"
                    ui.label(view.seconds_text(failure['duration_seconds'])).classes('text-xs opacity-70')
            if failure.get('message'):
                ui.label(failure['message']).classes('text-sm whitespace-pre-wrap').props('dir=auto data-field=message')
            if failure.get('trace'):
                with ui.expansion('Stack trace').classes('w-full text-sm').props('dense'):
                    code_block(failure['trace'], language='python', name='Stack trace', max_height='24rem').classes(
                        'w-full text-xs'
                    )
            # what the test printed (the report's <system-out> / <system-err>), collapsed as the trace is
            for key, title in (('system_out', 'Standard output'), ('system_err', 'Standard error')):
                if failure.get(key):
                    with attrs(ui.expansion(title).classes('w-full text-sm').props('dense'), {'data-field': key}):
                        code_block(failure[key], language=None, name=title, max_height='24rem').classes(
                            'w-full text-xs'
                        )
