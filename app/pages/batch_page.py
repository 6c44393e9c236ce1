"""A matrix batch's page (/batches/{id}): the children as a grid (rows: depth levels, columns: frameworks), each
cell its run's live status linking to the run, or why it was refused; its creator can send it again to admit
the missing children (same key: the admitted ones are replayed, never made twice); "Re-run failed" retries every
cell whose run did not succeed, each retry taking its place in the grid (GitHub's "re-run failed jobs"); "Stop
all" stops the cells still queued or running (its "cancel workflow")."""

from __future__ import annotations

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement
from starlette.requests import Request
from starlette.responses import Response

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.not_found import not_found_page
from app.pages.signin import signed_in
from app.pages.theme import STATUS_COLORS, STATUS_LABELS, frame, live_relative
from app.pages.widgets import error_notice, notify_error, variable_chips
from app.state import connection, live
from app.state.batch_view import (
    Cell,
    approve_targets,
    batch_action_key,
    event_effect,
    grid_of,
    headline,
    may_resend,
    rerun_targets,
    stop_targets,
    with_ends_kept,
    with_run_status,
)
from app.state.bulk_selection import outcome_text, summary_text
from app.state.me import is_operator, who_am_i
from app.state.text import shown

STYLESHEET = '<link rel="stylesheet" href="/assets/matrix.css">'
OUTCOME_COLORS = {'refused': 'red-9', 'pending': 'grey-8'}
MODE_WORDS = {'best_effort': 'best effort', 'all_or_nothing': 'all or nothing'}


class Tag(TextElement):
    """A plain HTML element holding text: the grid's caption and headers."""

    def __init__(self, tag: str, text: str) -> None:
        super().__init__(tag=tag, text=text)


def cell_badge(cell: Cell) -> None:
    status = cell.status if cell.run_id else cell.outcome
    color = STATUS_COLORS.get(status, OUTCOME_COLORS.get(status, 'grey'))
    badge = ui.badge(STATUS_LABELS.get(status, status.replace('_', ' ')), color=color).classes('text-sm px-2 py-1')
    attrs(badge, {'data-status': status})


def draw_cell(cell: Cell) -> None:
    marks = {'data-testid': 'cell', 'data-cell': cell.name, 'data-outcome': cell.outcome, 'aria-label': cell.label}
    if cell.run_id:
        with attrs(ui.link(target=f'/runs/{cell.run_id}').classes('rb-matrix-cell rb-tap-link no-underline'), marks):
            cell_badge(cell)
            # its own word: the link's text reads 'failed 1x3gfbc2', as its name starts (not 'failed1x3gfbc2')
            ui.label(f' {cell.short_id}').classes('font-mono text-xs opacity-70')
            if cell.retry_of:  # GitHub's "attempt #2": this cell ran again
                ui.label(' retry').classes('text-xs opacity-70').props('data-field=retry')
            if cell.awaiting_approval:
                ui.label(' awaits approval').classes('text-xs rb-text-caution').props('data-field=approval')
        return
    with attrs(ui.element('div').classes('rb-matrix-cell'), marks):
        cell_badge(cell)
        if cell.reason:
            ui.label(f'{cell.error}: {cell.reason}').classes('text-xs rb-matrix-reason').props('data-field=reason')


class BatchView:
    def __init__(self, batch: dict, me: dict | None) -> None:
        self.batch, self.me = batch, me
        self.loading, self.again = False, False
        with ui.row().classes('w-full items-center gap-3 flex-wrap'):
            ui.icon('grid_view').classes('text-2xl')
            ui.label('Matrix batch').classes('text-lg font-medium').props('role=heading aria-level=1')
            ui.label(batch['id']).classes('font-mono text-sm')
        with ui.row().classes('items-center gap-x-4 gap-y-1 flex-wrap text-sm'):
            # every child checks out this commit: `aa182ea1d0 Fix the parser`
            commit = ' '.join(
                part for part in ((batch.get('commit_sha') or '')[:10], batch.get('commit_title')) if part
            )
            for name, value in (
                ('branch', batch['branch']),
                ('commit', commit or '—'),
                ('by', batch.get('user_name') or '—'),
            ):
                with ui.row().classes('gap-1 items-baseline'):
                    ui.label(name).classes('opacity-60')
                    attrs(ui.label(shown(value)).props('dir=auto'), {'data-param': name})
            ui.link(batch['project_id'], f'/projects/{batch["project_id"]}').classes('rb-tap-link')
            ui.chip(MODE_WORDS.get(batch['mode'], batch['mode'])).props('dense outline data-testid=mode')
            live_relative(ui.label().classes('opacity-70'), batch['created_at'], prefix='created ')
            if batch.get('variables'):  # every child's own
                variable_chips(batch['variables'], 'batch-variables')
        self.summary = ui.label().classes('text-sm').props('data-testid=batch-summary aria-live=polite')
        self.message = ui.column().classes('gap-0')
        # it scrolls sideways on a phone: a region the keyboard can reach (and scroll with the arrow keys)
        self.grid = (
            ui.element('div')
            .classes('w-full overflow-x-auto')
            .props('data-testid=matrix-grid tabindex=0 role=region aria-label="Matrix of runs"')
        )
        self.actions = ui.row().classes('items-center gap-3')
        self.shown_actions: tuple[bool, int, int, int] | None = None
        self.action_result = ui.column().classes('gap-0').props('aria-live=polite')  # what the last action did
        self.render()

    def render(self) -> None:
        batch, grid = self.batch, grid_of(self.batch)
        self.summary.text = headline(batch)
        attrs(self.grid, {'data-status': batch['status']})
        self.grid.clear()
        with self.grid, ui.element('table').classes('rb-matrix'):
            Tag('caption', 'Rows: depth level · columns: target framework').classes('text-left text-sm opacity-70')
            with ui.element('thead'), ui.element('tr'):
                Tag('th', 'depth \\ framework').props('scope=col').classes('opacity-60')
                for framework in grid.frameworks:
                    Tag('th', framework).props('scope=col')
            with ui.element('tbody'):
                for depth in grid.depths:
                    with ui.element('tr'):
                        Tag('th', depth).props('scope=row')
                        for framework in grid.frameworks:
                            with ui.element('td'):
                                draw_cell(grid.cells[(depth, framework)])
        resend, active, failed = may_resend(batch, self.me), stop_targets(batch), rerun_targets(batch)
        waiting = approve_targets(batch) if is_operator(self.me) else []  # a builder's approve would be refused
        # drawn again only when they change: a live update redrawing a button under the pointer would lose the click
        if (resend, len(active), len(failed), len(waiting)) == self.shown_actions:
            return
        self.shown_actions = (resend, len(active), len(failed), len(waiting))
        self.actions.clear()
        with self.actions:
            if resend:
                ui.button('Send again', icon='replay', on_click=self.resend).classes('rb-tap').props(
                    'data-testid=resend'
                ).tooltip('Admit the children still missing (those already admitted are not made again)')
            if waiting:
                ui.button(f'Approve all ({len(waiting)})', icon='verified', on_click=self.approve_all).classes(
                    'rb-tap'
                ).props('outline color=positive data-testid=approve-all').tooltip(
                    "Let every cell waiting for an operator's approval run (each runs the commit it was asked for)"
                )
            if active:
                ui.button(f'Stop all ({len(active)})', icon='stop', on_click=self.stop_all).classes('rb-tap').props(
                    'outline color=negative data-testid=stop-all'
                ).tooltip('Stop every cell whose run is still queued or running')
            if failed:
                ui.button(f'Re-run failed ({len(failed)})', icon='restart_alt', on_click=self.rerun_failed).classes(
                    'rb-tap'
                ).props('outline data-testid=rerun-failed').tooltip(
                    'Retry each cell whose run did not succeed; the retry takes its place in the grid'
                )

    async def reload(self) -> None:
        """Read the batch again (coalesced: one read at a time, and one more if asked meanwhile)."""
        if self.loading:
            self.again = True
            return
        self.loading = True
        try:
            while True:
                self.again = False
                try:
                    self.batch = with_ends_kept(self.batch, await connection.client().get_batch(self.batch['id']))
                except ApiError as exc:
                    error_notice(self.message, exc, 'reload the batch')
                    return
                self.message.clear()
                self.render()
                if not self.again:
                    return
        finally:
            self.loading = False

    async def on_event(self, event: dict) -> None:
        effect = event_effect(self.batch, event)
        if effect == 'update':
            self.batch = with_run_status(self.batch, event['id'], event['status'])
            self.render()
            if self.loading:  # the read on its way may have been answered before this change: one more after it
                self.again = True
        elif effect == 'reload':
            await self.reload()

    async def rerun_failed(self) -> None:
        await self._act('retry', rerun_targets(self.batch), 're-run the failed cells (press Re-run failed again)')

    async def approve_all(self) -> None:
        await self._act('approve', approve_targets(self.batch), 'approve the cells (press Approve all again)')

    async def stop_all(self) -> None:
        await self._act('stop', stop_targets(self.batch), 'stop the cells (press Stop all again)')

    async def _act(self, action: str, run_ids: list[str], doing: str) -> None:
        """One bulk action on the batch's runs, under a key made from them (a second press replays it)."""
        if not run_ids:
            return
        key = batch_action_key(self.batch['id'], action, run_ids)
        try:
            answer = await connection.client().bulk_runs({'action': action, 'run_ids': run_ids}, key=key)
        except ApiError as exc:
            error_notice(self.message, exc, doing)
            return
        self.action_result.clear()
        with self.action_result:
            ui.label(summary_text(answer)).classes('text-sm').props('data-testid=batch-action-summary')
            for item in answer['items']:
                if item['outcome'] != 'done':
                    said = outcome_text({**item, 'action': action})
                    ui.label(f'{item["run_id"]}: {said}').classes('text-sm text-negative').props(
                        'data-testid=batch-action-refused'
                    )
        await self.reload()  # the retries in their cells, the stops on their way

    async def resend(self) -> None:
        batch = self.batch
        try:
            reply = await connection.client().trigger_batch(
                project_id=batch['project_id'],
                branch=batch['branch'],
                depth_levels=batch['matrix']['depth_level'],
                target_frameworks=batch['matrix']['target_framework'],
                all_or_nothing=batch['mode'] == 'all_or_nothing',
                variables=batch.get('variables') or None,
                key=batch['idempotency_key'],
            )
        except ApiError as exc:
            notify_error(exc, 'send the batch again')
            return
        self.batch = with_ends_kept(self.batch, reply.data)
        self.render()


@ui.page('/batches/{batch_id}')
@signed_in
async def batch_page(batch_id: str, request: Request) -> Response | None:
    try:
        batch = await connection.client().get_batch(batch_id)
    except ApiError as exc:
        if exc.status == 404:
            return not_found_page(request, f'There is no batch {batch_id}, or it is in a team you are not in.')
        with frame('Batch'):
            ui.label(str(exc)).classes('text-negative')
        return None
    ui.add_head_html(STYLESHEET)
    with frame(f'Batch {batch_id}'):
        view = BatchView(batch, await who_am_i())
    live.follow(view.on_event, project=batch['project_id'], on_reconnect=view.reload)
    return None
