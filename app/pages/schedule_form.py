"""The schedule dialog (operators): name, cron with examples, time zone (a new schedule's starts at the browser's
own), the run's branch, depth and framework, and the catch-up policy. The server checks everything and names the
field at fault (shown beside its box)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import available_timezones

from nicegui import background_tasks, ui

from app.client import ApiError
from app.pages.browser_zone import browser_zone
from app.pages.widgets import correlation_chip, reload_button
from app.state import connection
from app.state.edit_conflict import conflict_text, edit_body, is_edit_conflict
from app.state.error_text import in_words
from app.state.form_problems import GENERAL, field_errors
from app.state.run_form import parse_variables, variables_text
from app.state.schedules_view import (
    CATCH_UP,
    COMMON_ZONES,
    CRON_EXAMPLES,
    SCHEDULE_FIELDS,
    changes,
    form_body,
    new_schedule_zone,
    preview_text,
)
from app.state.text import shown

Saved = Callable[[dict[str, Any]], Awaitable[None]]
_ZONES: list[str] = []


def zones() -> list[str]:
    """The common zones first, then every IANA zone this machine knows."""
    if not _ZONES:
        _ZONES.extend([*COMMON_ZONES, *sorted(available_timezones() - set(COMMON_ZONES))])
    return _ZONES


async def open_schedule_form(project: dict[str, Any], saved: Saved, schedule: dict[str, Any] | None = None) -> None:
    """A new schedule, or `schedule` to edit; saved(schedule) once the server has it."""
    try:
        branches = [b['name'] for b in await connection.client().branches(project['id'], limit=100)]
    except ApiError:
        branches = []
    current = schedule or {
        'name': '',
        'cron': '30 2 * * *',
        'timezone': new_schedule_zone(await browser_zone(), zones()),
        'branch': project['base_branch'],
        'depth_level': project['depth_levels'][0],
        'target_framework': project['target_frameworks'][0],
        'catch_up': 'once',
    }
    if current['branch'] not in branches:
        branches.insert(0, current['branch'])
    # in the page's layout, not in the schedule's card: a live redraw of the cards (a firing, another operator's
    # change) would delete the dialog and what was typed
    with (
        ui.context.client.layout,
        ui.dialog() as dialog,
        ui.card().classes('w-full max-w-xl gap-2').props('data-testid=schedule-form'),
    ):
        title = f'Edit schedule “{schedule["name"]}”' if schedule else 'New schedule'
        ui.label(title).classes('text-lg font-bold').props('role=heading aria-level=2 dir=auto')
        boxes: dict[str, Any] = {
            'name': ui.input('Name', value=current['name'], placeholder='e.g. nightly')
            .classes('w-full')
            .props('data-field=name'),
            'cron': ui.input('Cron', value=current['cron'])
            .classes('w-full')
            .props('data-field=cron spellcheck=false hint="minute hour day month weekday"'),
        }
        preview = ui.label().classes('text-sm').props('data-testid=cron-preview aria-live=polite')
        with ui.row().classes('gap-1 flex-wrap'):
            for expression, words in CRON_EXAMPLES.items():
                ui.chip(words, on_click=lambda e=expression: boxes['cron'].set_value(e)).props(
                    'dense outline clickable'
                )
        boxes['timezone'] = ui.select(zones(), value=current['timezone'], label='Time zone', with_input=True).props(
            'data-field=timezone'
        )
        with ui.row().classes('w-full gap-2 flex-wrap'):
            boxes['branch'] = (
                ui.select(branches, value=current['branch'], label='Branch', with_input=True)
                .classes('grow')
                .props('data-field=branch')
            )
            boxes['depth_level'] = (
                ui.select(project['depth_levels'], value=current['depth_level'], label='Depth level')
                .classes('min-w-[10rem]')
                .props('data-field=depth_level')
            )
            boxes['target_framework'] = (
                ui.select(project['target_frameworks'], value=current['target_framework'], label='Target framework')
                .classes('min-w-[12rem]')
                .props('data-field=target_framework')
            )
        boxes['variables'] = variables = (
            ui.textarea('Variables (optional)', value=variables_text(current.get('variables')))
            .classes('w-full font-mono')
            .props('autogrow rows=1 data-field=variables placeholder="NAME=value, one a line" spellcheck=false')
            .tooltip("Each run's environment variables, over the project's of the same name")
        )
        boxes['catch_up'] = ui.radio(CATCH_UP, value=current['catch_up']).props('data-field=catch_up')
        asked = {'n': 0}

        async def show_preview() -> None:
            """The next slots of what is typed now (asked a beat after the last key; a newer ask wins)."""
            asked['n'] += 1
            mine = asked['n']
            await asyncio.sleep(0.3)
            cron, zone = (boxes['cron'].value or '').strip(), boxes['timezone'].value or 'UTC'
            if mine != asked['n'] or not cron:
                return
            try:
                slots = await connection.client().preview_schedule(project['id'], cron, zone)
            except ApiError as exc:
                if mine == asked['n']:
                    preview.text = exc.detail if exc.status == 422 else ''
                    preview.classes(add='text-negative')
                return
            if mine == asked['n']:
                preview.text = preview_text(slots, zone)
                preview.classes(remove='text-negative')

        boxes['cron'].on_value_change(lambda _: background_tasks.create(show_preview(), name='cron-preview'))
        boxes['timezone'].on_value_change(lambda _: background_tasks.create(show_preview(), name='cron-preview'))
        background_tasks.create(show_preview(), name='cron-preview')
        message = ui.column().classes('w-full')
        # the schedule as the boxes were filled with it (opened, or read again by Reload): what Save compares the
        # boxes with, and whose edit version it names
        read = dict(current)

        async def reload() -> None:
            assert schedule is not None  # offered for an edit only
            try:
                now = await connection.client().get_schedule(project['id'], schedule['id'])
            except ApiError as exc:
                _show_problem(boxes, message, exc, doing='read the schedule again', reload=reload)
                return
            read.clear()
            read.update(now)
            for name, box in boxes.items():
                value = variables_text(now.get('variables')) if name == 'variables' else now[name]
                if isinstance(box, ui.select) and value not in box.options:  # a branch made since the form opened
                    box.set_options([value, *box.options], value=value)
                else:
                    box.value = value
            _show_problem(boxes, message, None)
            ui.notify(
                f'The form shows “{shown(now["name"])}” as it is now: make your change again, then Save.',
                position='bottom',
                timeout=4000,
            )

        async def save() -> None:
            parsed, problem = parse_variables(variables.value or '')
            variables.error = problem
            if problem:
                return
            body = form_body({**{name: box.value for name, box in boxes.items()}, 'variables': parsed})
            client = connection.client()
            try:
                if schedule:
                    edited = changes(read, body)
                    if not edited:  # nothing sent: the schedule stays as it is (whoever changed it meanwhile)
                        dialog.close()
                        return
                    answer = await client.update_schedule(
                        project['id'], schedule['id'], edit_body(read, edited, 'edit_version')
                    )
                else:
                    answer = await client.create_schedule(project['id'], body)
            except ApiError as exc:
                conflict = is_edit_conflict(exc.status, exc.error)
                _show_problem(
                    boxes,
                    message,
                    exc,
                    general=conflict_text(shown(read['name']), 'schedule') if conflict else None,
                    reload=reload if conflict else None,
                )
                return
            dialog.close()
            await saved(answer)

        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Cancel', on_click=dialog.close).props('flat').classes('rb-tap')
            ui.button('Save', icon='save', on_click=save).props('data-testid=save-schedule').classes('rb-tap')
    dialog.on('hide', dialog.delete)  # in the layout, a closed one would stay until the page goes
    dialog.open()


def _show_problem(
    boxes: dict[str, Any],
    message: ui.column,
    exc: ApiError | None,
    *,
    doing: str = 'save the schedule',
    general: str | None = None,
    reload: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Show `exc` beside the box it names, else in words with its correlation id above the buttons (`general`: those
    words, instead of the usual ones; `reload`: what Reload beside them does); None clears what an earlier refusal
    showed. What the person typed stays."""
    for box in boxes.values():
        if hasattr(box, 'error'):
            box.error = None
    message.clear()
    if exc is None:
        return
    errors = {}
    if general is None:
        errors = field_errors(exc.status, exc.body, SCHEDULE_FIELDS, conflict_field='name') if exc.status < 500 else {}
        for name, text in errors.items():
            if name in boxes and hasattr(boxes[name], 'error'):
                boxes[name].error = text
        general = errors.get(GENERAL) or errors.get('catch_up') or ('' if errors else in_words(exc, doing))
    if general:
        with message, ui.row().classes('items-center gap-2').props('role=alert data-testid=schedule-problem'):
            ui.label(general).classes('text-negative text-sm')
            correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')
            if reload is not None:
                reload_button(reload, 'schedule-reload')
