"""The fields of a webhook (URL, name, format, events), as the Notifications page's add form and its Edit dialog
both show them, and the Edit dialog itself (operators): it opens with the rule's values, Save sends only what
changed with the version of the rule it opened with, Cancel sends nothing. The signing secret is neither shown nor
changed here (New secret replaces it). A refusal is shown at the field the server names, or above the buttons in
words with the correlation id; what the person typed stays. A rule someone else changed since the dialog opened
(409 edit_conflict) is said so, with Reload, which fills the fields with the rule as it is now."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import correlation_chip, reload_button
from app.state import connection
from app.state.edit_conflict import edit_body, is_edit_conflict
from app.state.error_text import in_words
from app.state.form_problems import GENERAL, field_errors
from app.state.notifications_view import (
    DEFAULT_EVENTS,
    EVENT_LABELS,
    EVENT_TYPES,
    FORMAT_LABELS,
    RULE_FIELDS,
    edit_refusal_text,
    rule_changes,
    rule_form,
    rule_saved_text,
)
from app.state.text import shown

Action = Callable[[], Awaitable[None]]
BOXED = ('url', 'name', 'format')  # the fields with a box of their own, where a refusal naming them is shown
NEW_RULE: dict[str, Any] = {'url': '', 'name': '', 'format': 'runboard', 'events': DEFAULT_EVENTS}


class RuleFields:
    """URL, name, format and the events' check boxes, filled with `rule`'s values (a new webhook's defaults when
    None), and the line above the form's buttons where a refusal that names no box is said."""

    def __init__(self, rule: Mapping[str, Any] | None = None) -> None:
        current = rule or NEW_RULE
        self.boxes: dict[str, Any] = {
            'url': ui.input('URL', value=current['url'], placeholder='https://example.com/hooks/runboard').props(
                'data-testid=rule-url spellcheck=false'
            ),
            # a new webhook is named after its URL's host when left blank; an existing one keeps a name
            'name': ui.input(
                'Name' if rule else 'Name (optional)', value=current['name'], placeholder="the URL's host"
            ).props('data-testid=rule-name dir=auto'),
            'format': ui.select(FORMAT_LABELS, label='Format', value=current['format']).props(
                'data-testid=rule-format'
            ),
        }
        for box in self.boxes.values():
            box.classes('w-full')
        ui.label('Events').classes('text-sm font-medium')
        self.picks: dict[str, ui.checkbox] = {}
        with ui.row().classes('gap-x-4 gap-y-0 flex-wrap').props('data-testid=rule-events'):
            for event in EVENT_TYPES:
                self.picks[event] = attrs(
                    ui.checkbox(EVENT_LABELS[event], value=event in current['events']), {'data-event': event}
                )
        self.message = ui.column().classes('w-full').props('aria-live=polite')

    def show(self, rule: Mapping[str, Any]) -> None:
        """Fill the fields with `rule`'s values (Reload: the rule as it is now), replacing what was typed."""
        for key in BOXED:
            self.boxes[key].value = rule[key]
        for event, box in self.picks.items():
            box.value = event in rule['events']

    def form(self) -> dict[str, Any]:
        return rule_form(
            self.boxes['url'].value,
            self.boxes['name'].value,
            self.boxes['format'].value,
            [event for event, box in self.picks.items() if box.value],
        )

    def clear(self) -> None:
        """Forget the URL and name typed (the add form, once its webhook is added) and any refusal shown."""
        self.boxes['url'].value = self.boxes['name'].value = ''
        self.refused(None, '')

    def refused(
        self, exc: ApiError | None, doing: str, *, general: str | None = None, reload: Action | None = None
    ) -> None:
        """Show `exc` at the box it names (a 422's field), else in words with its correlation id above the buttons
        (`general`: those words, instead of the usual ones; `reload`: what Reload beside them does); None clears what
        an earlier refusal showed."""
        for key in BOXED:
            self.boxes[key].error = None
        self.message.clear()
        if exc is None:
            return
        errors = field_errors(exc.status, exc.body, RULE_FIELDS) if exc.status < 500 and general is None else {}
        for key, text in errors.items():
            if key in BOXED:
                self.boxes[key].error = text
        words = general or errors.get(GENERAL) or errors.get('events') or ('' if errors else in_words(exc, doing))
        if words:
            with self.message, ui.row().classes('items-center gap-2').props('role=alert data-testid=rule-problem'):
                ui.label(words).classes('text-negative text-sm')
                correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')
                if reload is not None:
                    reload_button(reload, 'rule-reload')


Saved = Callable[[dict[str, Any]], Awaitable[None]]
Gone = Callable[[], Awaitable[None]]


async def edit_rule(project_id: str, rule: dict[str, Any], *, saved: Saved, gone: Gone) -> None:
    """The Edit dialog of `rule`, until Save or Cancel. saved(answer) once the server has the change; gone() when
    the server no longer has the rule (the page reads its rules again; the dialog stays, saying so)."""
    name = rule['name']
    # in the page's layout, not in the rule's row: a live redraw of the row would delete the dialog and what was typed
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes('w-full max-w-xl gap-2'):
        dialog.props('data-testid=edit-rule')
        ui.label(f'Edit webhook “{shown(name)}”').classes('text-lg font-bold').props(
            'role=heading aria-level=2 dir=auto'
        )
        ui.label('The signing secret stays as it is: New secret replaces it.').classes('text-sm opacity-70')
        fields = RuleFields(rule)
        # the rule as the fields were filled with it (opened, or read again by Reload): what Save compares the form
        # with, and whose version it names
        read = dict(rule)

        async def reload() -> None:
            try:
                now = await connection.client().notification_rule(project_id, rule['id'])
            except ApiError as exc:
                fields.refused(exc, f'read “{shown(name)}” again', general=edit_refusal_text(exc.status, shown(name)))
                if exc.status == 404:
                    await gone()
                return
            read.clear()
            read.update(now)
            fields.show(now)
            fields.refused(None, '')
            ui.notify(
                f'The fields show “{shown(now["name"])}” as it is now: make your change again, then Save.',
                position='bottom',
                timeout=4000,
            )

        async def save() -> None:
            changes = rule_changes(read, fields.form())
            if not changes:
                ui.notify(rule_saved_text(shown(name), ()), position='bottom', timeout=2000)
                dialog.submit(None)
                return
            save_button.disable()  # one PATCH at a time, however often it is pressed
            try:
                answer = await connection.client().update_notification_rule(
                    project_id, rule['id'], edit_body(read, changes)
                )
            except ApiError as exc:
                fields.refused(
                    exc,
                    f'save “{shown(name)}”',
                    general=edit_refusal_text(exc.status, shown(name), exc.error),
                    reload=reload if is_edit_conflict(exc.status, exc.error) else None,
                )
                if exc.status == 404:
                    await gone()
                return
            finally:
                save_button.enable()
            ui.notify(rule_saved_text(shown(answer['name']), changes), type='positive', position='bottom', timeout=2500)
            dialog.submit(None)
            await saved(answer)

        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Cancel', on_click=lambda: dialog.submit(None)).props('flat data-testid=edit-cancel').classes(
                'rb-tap'
            )
            save_button = ui.button('Save', icon='save', on_click=save).props('data-testid=edit-save').classes('rb-tap')
    dialog.open()
    await dialog
    if not dialog.is_deleted and not dialog.client.is_deleted:  # the tab may have closed meanwhile
        dialog.delete()
