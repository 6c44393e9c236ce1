"""A project's schedules: each with its cron and zone, the run it fires (as whom), its catch-up policy, the next
firing (counted down live) and its past firings (a run link, or why it was skipped or missed). Operators add,
edit, pause, resume and delete them. The rules: docs/triggers.md."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from app.client import ApiError, new_idempotency_key
from app.pages.attributes import attrs
from app.pages.charts import Debounced
from app.pages.schedule_form import open_schedule_form
from app.pages.signin import signed_in
from app.pages.theme import frame, iso_utc, status_badge
from app.pages.widgets import confirm, error_notice, list_note, notify_error, variable_chips
from app.state import connection, live
from app.state.me import is_operator, who_am_i
from app.state.run_timing import clock, parse
from app.state.schedules_view import (
    CATCH_UP,
    FIRINGS_SHOWN,
    cron_text,
    firing_view,
    firings_shown,
    later_slots_text,
    next_line,
    parameters_text,
)
from app.state.serial_read import SerialRead
from app.state.text import shown

TONES = {'positive': 'green-9', 'warning': 'deep-orange-10', 'muted': 'grey-7', 'info': 'blue-9'}


class SchedulesView:
    def __init__(self, project: dict[str, Any], *, operator: bool) -> None:
        self.project, self.operator = project, operator
        self.box = ui.column().classes('w-full gap-3').props('role=list aria-label="Schedules" data-testid=schedules')
        # the schedules and their firings, redrawn only when they changed: the page reads again when its stream
        # opens, and an unchanged redraw there would swap the buttons under a person's click
        self.load = SerialRead(self._read)
        self.reload = Debounced(self.load)
        self.drawn: list[Any] | None = None

    async def _read(self) -> None:
        client = connection.client()
        try:
            items = await client.list_schedules(self.project['id'])
            histories = await asyncio.gather(  # one more than shown: are there older ones
                *(client.schedule_firings(self.project['id'], s['id'], limit=FIRINGS_SHOWN + 1) for s in items)
            )
        except ApiError as exc:
            self.drawn = None
            error_notice(self.box, exc, 'read the schedules')
            return
        if self.box.is_deleted or [items, histories] == self.drawn:
            return
        self.drawn = [items, histories]
        self.box.clear()
        with self.box:
            if not items:
                list_note('No schedules yet.').props('data-testid=no-schedules')
            for schedule, firings in zip(items, histories, strict=True):
                self.card(schedule, firings)

    def card(self, schedule: dict[str, Any], firings: list[dict[str, Any]]) -> None:
        with attrs(
            ui.card().classes('w-full gap-1').props('role=listitem'),
            {'data-schedule': str(schedule['id']), 'data-paused': str(schedule['paused']).lower()},
        ):
            with ui.row().classes('w-full items-center gap-2'):
                ui.label(shown(schedule['name'])).classes('text-lg font-bold').props('dir=auto')
                if schedule['paused']:
                    ui.badge('paused', color='grey-7').classes('text-sm px-2 py-1')
                ui.space()
                if self.operator:
                    self.actions(schedule)
            ui.label(cron_text(schedule)).classes('font-mono text-sm').props('data-field=cron')
            ui.label(parameters_text(schedule)).classes('text-sm').props('data-field=runs dir=auto')
            if schedule.get('variables'):
                with ui.element('div').classes('text-sm'):
                    variable_chips(schedule['variables'], 'schedule-variables')
            ui.label(CATCH_UP[schedule['catch_up']]).classes('text-xs opacity-70').props('data-field=catch-up')
            self.next_firing(schedule)
            self.history(schedule['id'], firings)

    def actions(self, schedule: dict[str, Any]) -> None:
        paused = schedule['paused']
        ui.button('Run now', icon='play_arrow', on_click=lambda: self.run_now(schedule)).props(
            'flat dense data-testid=run-now'
        ).classes('rb-tap')
        attrs(
            ui.button(
                'Resume' if paused else 'Pause',
                icon='play_arrow' if paused else 'pause',
                on_click=lambda: self.set_paused(schedule, not paused),
            )
            .props('flat dense')
            .classes('rb-tap'),
            {'data-testid': 'resume' if paused else 'pause'},
        )
        ui.button('Edit', icon='edit', on_click=lambda: open_schedule_form(self.project, self.saved, schedule)).props(
            'flat dense data-testid=edit'
        ).classes('rb-tap')
        ui.button('Delete', icon='delete', on_click=lambda: self.delete(schedule)).props(
            'flat dense color=negative data-testid=delete'
        ).classes('rb-tap')

    def next_firing(self, schedule: dict[str, Any]) -> None:
        line = next_line(schedule)
        with ui.row().classes('items-baseline gap-2 text-sm'):
            label = ui.label(line.text(datetime.now(UTC))).props('data-field=next')
            if line.moment is not None:
                attrs(label, {'data-rb-until': iso_utc(line.moment.isoformat()), 'data-rb-prefix': line.prefix})
            label.tooltip(line.title)
            later = later_slots_text(schedule.get('upcoming') or [], schedule['timezone'])
            if later:
                ui.label(later).classes('text-xs opacity-70').props('data-field=later')

    def history(self, schedule_id: str, read: list[dict[str, Any]]) -> None:
        ui.label('Past firings').classes('text-sm font-medium mt-1')
        if not read:
            ui.label('None yet.').classes('text-xs opacity-70').props('data-testid=no-firings')
            return
        firings, more = firings_shown(schedule_id, read)
        with ui.column().classes('w-full gap-0').props('role=list aria-label="Past firings"'):
            for firing in firings:
                view = firing_view(firing)
                with attrs(
                    ui.row().classes('w-full items-center gap-2 text-sm py-1').props('role=listitem'),
                    {'data-firing': view.state},
                ):
                    slot = parse(firing['slot'])
                    ui.label(clock(slot) if slot else '?').classes('font-mono text-xs opacity-80')
                    ui.badge(view.label, color=TONES[view.tone]).classes('text-xs')
                    if view.run_id:
                        ui.link(view.run_id, f'/runs/{view.run_id}').classes('font-mono text-xs rb-tap-link')
                        if view.run_status:
                            status_badge(view.run_status).classes('text-xs')
                    if view.text:
                        ui.label(shown(view.text)).classes('text-xs opacity-80').props('dir=auto')
        if more:  # read one past those shown: older ones exist
            ui.label(more).classes('text-xs opacity-70').props('data-testid=older-firings')

    async def saved(self, schedule: dict[str, Any]) -> None:
        ui.notify(f'Schedule “{schedule["name"]}” saved.', type='positive', position='bottom')
        await self.load()

    async def run_now(self, schedule: dict[str, Any]) -> None:
        """A run with the schedule's branch, depth and framework, started by the person who pressed it (its
        slots are untouched: the schedule fires as before)."""
        try:
            answer = await connection.client().trigger_run(
                project_id=self.project['id'],
                branch=schedule['branch'],
                depth_level=schedule['depth_level'],
                target_framework=schedule['target_framework'],
                variables=schedule.get('variables') or None,
                key=new_idempotency_key(),
            )
        except ApiError as exc:
            notify_error(exc, f'run “{schedule["name"]}” now')
            return
        ui.navigate.to(f'/runs/{answer.data["id"]}')

    async def set_paused(self, schedule: dict[str, Any], paused: bool) -> None:
        try:
            await connection.client().pause_schedule(self.project['id'], schedule['id'], paused=paused)
        except ApiError as exc:
            notify_error(exc, 'pause the schedule' if paused else 'resume the schedule')
            return
        await self.load()

    async def delete(self, schedule: dict[str, Any]) -> None:
        question = f'Delete schedule “{schedule["name"]}” and its history? The runs it made stay.'
        if not await confirm(question, yes='Delete'):
            return
        try:
            await connection.client().delete_schedule(self.project['id'], schedule['id'])
        except ApiError as exc:
            notify_error(exc, 'delete the schedule')
            return
        await self.load()

    async def on_event(self, event: dict) -> None:
        if event.get('type') in ('project', 'run'):
            self.reload()  # a firing, a change, or a scheduled run's new status


@ui.page('/projects/{project_id}/schedules')
@signed_in
async def schedules_page(project_id: str) -> None:
    client = connection.client()
    try:
        project = await client.get_project(project_id)
    except ApiError as exc:
        with frame('Schedules'):
            error_notice(ui.column(), exc, f'open the schedules of project {project_id}')
        return
    operator = is_operator(await who_am_i())
    with frame(f'{project["name"]} · Schedules'):
        ui.link(f'← {shown(project["name"])}', f'/projects/{project_id}').classes('rb-tap-link text-sm')
        ui.label('Schedules').classes('text-xl font-bold').props('role=heading aria-level=1')
        ui.label(
            'Each schedule fires a run at its cron times, read in its time zone, as the person who created it, '
            'under every rule a Run meets (quota, concurrency, branch lock); a refused firing is recorded as skipped.'
        ).classes('text-sm opacity-80')
        view: SchedulesView  # (drawn below the button)
        if operator:
            ui.button('New schedule', icon='add', on_click=lambda: open_schedule_form(project, view.saved)).props(
                'data-testid=new-schedule'
            ).classes('rb-tap')
        else:
            ui.label('Operators add and change schedules; you see them read-only.').classes('text-sm opacity-70')
        view = SchedulesView(project, operator=operator)
        await view.load()
    live.follow(view.on_event, project=project_id, on_reconnect=view.load)
