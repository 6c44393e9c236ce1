"""A run's time-related bits, shared by the runs list's rows and the run page: when a delayed run runs (counted
down live), when a queued run's TTL expires, why an expired or skipped run never started, and Cancel for a
delayed run (the API's Stop: it ends without starting)."""

from __future__ import annotations

from datetime import UTC, datetime

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.theme import iso_utc
from app.pages.widgets import confirm, notify_error
from app.state import connection
from app.state.run_timing import (
    CANCELLABLE,
    approval_text,
    ended_unstarted_reason,
    held_back_text,
    timing_line,
    until_text,
)
from app.state.schedules_view import card_line
from app.state.text import shown


def timing_bits(run: dict, *, size: str = 'text-xs', reason: bool = True) -> None:
    """reason=False where the run's error is shown anyway (the run page)."""
    line = timing_line(run)
    if line is not None:
        label = ui.label(line.prefix + until_text(line.moment, datetime.now(UTC)))
        attrs(
            label.classes(f'{size} text-indigo-8 rb-timing').props('data-field=timing'),
            {'data-rb-until': iso_utc(line.moment.isoformat()), 'data-rb-prefix': line.prefix},
        )
        label.tooltip(line.title)
    waiting = approval_text(run)
    if waiting:
        ui.label(waiting).classes(f'{size} text-deep-orange-10').props('data-field=approval')
    held_back = held_back_text(run)
    if held_back:
        ui.label(shown(held_back)).classes(f'{size} rb-text-caution').props('data-field=held-back dir=auto')
    why = ended_unstarted_reason(run) if reason else None
    if why:
        ui.label(shown(why)).classes(f'{size} text-negative').props('data-field=not-started dir=auto')


def cancel_button(run: dict, *, dense: bool = True) -> None:
    """Cancel a delayed run (nothing else: a queued or running one has Stop)."""
    if run.get('status') not in CANCELLABLE:
        return
    button = ui.button('Cancel', icon='event_busy', on_click=lambda: cancel_run(run['id'])).classes('rb-tap')
    attrs(button.props('color=negative data-testid=cancel'), {'aria-label': f'Cancel delayed run {run["id"]}'})
    if dense:
        button.props('flat dense')


def approve_button(run: dict, *, operator: bool, dense: bool = True) -> None:
    """Approve a run that waits for an operator (shown to operators only: the server refuses anyone else)."""
    if not operator or approval_text(run) is None:
        return
    button = ui.button('Approve', icon='verified', on_click=lambda: approve_run(run['id'])).classes('rb-tap')
    attrs(button.props('color=positive data-testid=approve'), {'aria-label': f'Approve run {run["id"]}'})
    if dense:
        button.props('flat dense')


async def approve_run(run_id: str) -> None:
    try:
        await connection.client().approve_run(run_id)
        ui.notify(
            f"Approved {run_id}: it is admitted now, or when its branch's lock and limits let it", position='bottom'
        )
    except ApiError as exc:
        notify_error(exc, f'approve {run_id}')


async def cancel_run(run_id: str) -> None:
    if not await confirm(f'Cancel delayed run {run_id}? It will not start.', yes='Cancel run', no='Keep it'):
        return
    try:
        await connection.client().stop_run(run_id)
        ui.notify(f'Cancelled {run_id}', position='bottom')
    except ApiError as exc:
        notify_error(exc, f'cancel {run_id}')


def show_next_schedule(link: ui.link, project: dict) -> None:
    """A project card's "next run in 4 min · nightly" (hidden when no schedule runs), counted down live."""
    line = card_line(project)
    link.set_visibility(line is not None)
    if line is None or line.moment is None:
        return
    link.text = line.text(datetime.now(UTC))
    attrs(
        link,
        {
            'data-rb-until': iso_utc(line.moment.isoformat()),
            'data-rb-prefix': line.prefix,
            'data-rb-suffix': shown(line.suffix),
            'title': shown(line.title),
        },
    )
