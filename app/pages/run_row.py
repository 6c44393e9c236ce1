"""One row of the runs list: status, id, parameters, why a queued run waits, times, Retry and Stop."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.pages.theme import duration, relative, status_badge
from app.state.runs_store import ACTIVE
from app.state.text import shown

RETRYABLE = ('failed', 'timed_out', 'crashed', 'stopped')


def run_row(run: dict, *, show_project: bool, on_stop: Any, on_retry: Any) -> tuple[ui.element, ui.label, ui.label]:
    """One row of the runs list; returns the card and the labels the list's clock updates."""
    marker = f'data-optimistic={run["optimistic"]}' if run.get('optimistic') else f'data-run={run["id"]}'
    with (
        ui.card().tight().classes('w-full rb-row').props(f'role=listitem {marker} data-status={run["status"]}') as card
    ):
        with ui.row().classes('w-full items-center gap-x-3 gap-y-1 p-2 flex-wrap'):
            if run.get('optimistic'):
                with ui.row().classes('items-center gap-1'):
                    ui.spinner(size='sm')
                    ui.badge('Submitting…', color='grey-6').classes('text-sm px-2 py-1')
            else:
                status_badge(run['status'])
                ui.link(run['id'], f'/runs/{run["id"]}').classes('font-mono text-sm rb-tap-link')
            parts = [
                run.get('project_id') if show_project else None,
                run.get('branch_name'),
                run.get('depth_level'),
                run.get('target_framework'),
                run.get('kind'),
            ]
            ui.label(' · '.join(shown(p) for p in parts if p)).classes('text-sm').props('data-field=params dir=auto')
            if run['status'] == 'queued' and run.get('waiting'):
                ui.label(f'#{run.get("queue_position")} in line · {run["waiting"]}').classes(
                    'text-xs text-orange-10'
                ).props('data-field=waiting')
            if run.get('retry_of'):
                ui.link(f'retry of {run["retry_of"]}', f'/runs/{run["retry_of"]}').classes('text-xs rb-tap-link')
            ui.label(run.get('user_name') or '').classes('text-xs opacity-70')
            started = (
                ui.label(relative(run.get('started_at') or run.get('created_at')))
                .classes('text-xs opacity-70')
                .props('data-field=started')
            )
            took = ui.label(duration(run)).classes('text-xs opacity-70 font-mono').props('data-field=duration')
            ui.space()
            if not run.get('optimistic'):
                if run['status'] in RETRYABLE:
                    ui.button('Retry', icon='replay', on_click=lambda r=run: on_retry(r)).props(
                        f'flat dense aria-label="Retry run {run["id"]}"'
                    ).classes('rb-tap')
                if run['status'] in ACTIVE and run['status'] != 'stopping':
                    ui.button('Stop', icon='stop', on_click=lambda r=run: on_stop(r)).props(
                        f'flat dense color=negative aria-label="Stop run {run["id"]}"'
                    ).classes('rb-tap')
    return card, started, took
