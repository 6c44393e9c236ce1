"""A project's notifications: browser notifications for the person's own runs, the project's signed webhooks
(operators add, switch, test, re-key and delete them; a new signing secret is shown once with a Copy button) and
their delivery log with Redeliver. Builders see the webhooks and the log read-only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.browser_alerts import browser_switch
from app.pages.deliveries_log import DeliveryLog
from app.pages.signin import signed_in
from app.pages.theme import frame
from app.pages.widgets import confirm, correlation_chip, error_notice, list_note, notify_error
from app.state import connection
from app.state.error_text import in_words
from app.state.form_problems import GENERAL, field_errors
from app.state.notifications_view import EVENT_LABELS, EVENT_TYPES, FORMAT_LABELS, delivery_state, events_text
from app.state.text import shown

Done = Callable[[], Awaitable[None]]
RULE_FIELDS = ('url', 'name', 'format', 'events')
DEFAULT_EVENTS = ('run.failed', 'run.timed_out', 'run.crashed')


def show_secret_once(rule: dict[str, Any], *, title: str | None = None) -> None:
    """The signing secret, once: a warning, the value (selectable), Copy. Closing forgets it."""
    secret = rule['secret']
    with ui.dialog().props('persistent') as dialog, ui.card().classes('w-full max-w-xl gap-3'):
        dialog.props('data-testid=secret-once')
        ui.label(title or f'Webhook “{shown(rule["name"])}” added').classes('text-lg font-bold').props(
            'role=heading aria-level=2 dir=auto'
        )
        with ui.element('div').classes('w-full rb-banner rb-banner-amber').props('role=alert'):
            ui.label(
                'Copy the signing secret now: Runboard shows it only this once. The receiver checks the '
                'X-Runboard-Signature header of every request with it (docs/notifications.md).'
            )
        value = ui.input('Signing secret', value=secret).classes('w-full font-mono')
        value.props('readonly data-testid=secret-value autocomplete=off spellcheck=false')

        def copy() -> None:
            ui.clipboard.write(secret)
            ui.notify('Signing secret copied to the clipboard.', position='bottom', timeout=2000)

        def close() -> None:
            value.value = ''
            dialog.close()
            dialog.delete()

        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Copy', icon='content_copy', on_click=copy).props('data-testid=copy-secret').classes('rb-tap')
            ui.button('I have copied it', on_click=close).props('flat data-testid=secret-done').classes('rb-tap')
    dialog.open()


class RulesView:
    def __init__(
        self,
        project_id: str,
        *,
        operator: bool,
        on_change: Done,
        on_loaded: Callable[[list[dict]], None] | None = None,
    ) -> None:
        self.project_id, self.operator, self.on_change, self.on_loaded = project_id, operator, on_change, on_loaded
        self.message = ui.column().classes('gap-0')
        self.box = ui.column().classes('w-full gap-2').props('role=list aria-label="Webhooks" data-testid=rules')

    async def load(self) -> None:
        try:
            rules = await connection.client().notification_rules(self.project_id)
        except ApiError as exc:
            error_notice(self.message, exc, 'load the webhooks')
            return
        self.message.clear()
        self.box.clear()
        if self.on_loaded is not None:
            self.on_loaded(rules)
        with self.box:
            if not rules:
                list_note('No webhooks yet.')
            for rule in rules:
                self.row(rule)
        self.box.props('data-loaded=true')

    def row(self, rule: dict) -> None:
        card = attrs(ui.card().tight().classes('w-full').props('role=listitem'), {'data-rule': str(rule['id'])})
        with card, ui.row().classes('w-full items-center gap-x-4 gap-y-1 p-2 flex-wrap'):
            with ui.column().classes('gap-0 min-w-0'):
                ui.label(shown(rule['name'])).classes('font-medium').props('dir=auto')
                ui.label(rule['url']).classes('text-xs font-mono opacity-80 rb-row').props('data-field=url')
                ui.label(
                    f'{FORMAT_LABELS.get(rule["format"], rule["format"])} · {events_text(rule["events"])}'
                ).classes('text-xs opacity-70')
            ui.space()
            switch = attrs(
                ui.switch('On', value=rule['enabled']).props('data-testid=rule-enabled'),
                {'aria-label': f'Webhook {rule["name"]} on'},
            )
            if not self.operator:
                switch.disable()
                return
            switch.on_value_change(lambda e, r=rule: self.switch(r, e.value, e.sender))
            attrs(
                ui.button('Test', icon='send', on_click=lambda r=rule: self.test(r)).props(
                    'flat dense no-caps data-testid=rule-test'
                ),
                {'aria-label': f'Send a test to {rule["name"]}'},
            ).classes('rb-tap')
            attrs(
                ui.button('New secret', icon='key', on_click=lambda r=rule: self.new_secret(r)).props(
                    'flat dense no-caps data-testid=rule-secret'
                ),
                {'aria-label': f'New secret for {rule["name"]}: replace its signing secret'},
            ).classes('rb-tap')
            attrs(
                ui.button(icon='delete', on_click=lambda r=rule: self.delete(r)).props(
                    'flat dense data-testid=rule-delete'
                ),
                {'aria-label': f'Delete webhook {rule["name"]}'},
            ).classes('rb-tap')

    async def switch(self, rule: dict, on: bool, control: Any) -> None:
        try:
            await connection.client().update_notification_rule(self.project_id, rule['id'], {'enabled': on})
        except ApiError as exc:
            notify_error(exc, f'switch {rule["name"]} {"on" if on else "off"}')
            control.set_value(not on)
            return
        ui.notify(f'{rule["name"]} is {"on" if on else "off"}.', position='bottom', timeout=1500)

    async def test(self, rule: dict) -> None:
        ui.notify(f'Sending a test to {rule["name"]}…', position='bottom', timeout=1500)
        try:
            delivery = await connection.client().test_notification_rule(self.project_id, rule['id'])
        except ApiError as exc:
            notify_error(exc, f'send a test to {rule["name"]}')
            return
        ok = delivery['status'] == 'delivered'
        ui.notify(f'Test: {delivery_state(delivery)}', type='positive' if ok else 'warning', position='bottom')
        await self.on_change()

    async def new_secret(self, rule: dict) -> None:
        question = (
            f'Give “{rule["name"]}” a new signing secret? Every attempt from now on is signed with it: the receiver '
            'refuses them (and they are retried) until it has the new one.'
        )
        if not await confirm(question, yes='New secret'):
            return
        try:
            answer = await connection.client().new_notification_secret(self.project_id, rule['id'])
        except ApiError as exc:
            notify_error(exc, f'give {rule["name"]} a new secret')
            return
        show_secret_once(answer, title=f'New signing secret of “{shown(answer["name"])}”')

    async def delete(self, rule: dict) -> None:
        if not await confirm(f'Delete the webhook “{rule["name"]}” and its delivery log?', yes='Delete'):
            return
        try:
            await connection.client().remove_notification_rule(self.project_id, rule['id'])
        except ApiError as exc:
            notify_error(exc, f'delete {rule["name"]}')
            return
        await self.load()
        await self.on_change()


def add_rule_form(project_id: str, on_added: Done) -> None:
    """Operators: URL, name, format, events; the answer's secret is shown once."""
    with ui.expansion('Add a webhook', icon='add_link').classes('w-full').props('data-testid=add-rule') as fold:
        with ui.column().classes('w-full gap-2'):
            boxes: dict[str, Any] = {
                'url': ui.input('URL', placeholder='https://example.com/hooks/runboard').props('data-testid=rule-url'),
                'name': ui.input('Name (optional)', placeholder="the URL's host").props('data-testid=rule-name'),
                'format': ui.select(FORMAT_LABELS, label='Format', value='runboard').props('data-testid=rule-format'),
            }
            for box in boxes.values():
                box.classes('w-full')
            ui.label('Events').classes('text-sm font-medium')
            picks = {}
            with ui.row().classes('gap-x-4 gap-y-0 flex-wrap').props('data-testid=rule-events') as events_row:
                for event in EVENT_TYPES:
                    picks[event] = attrs(
                        ui.checkbox(EVENT_LABELS[event], value=event in DEFAULT_EVENTS), {'data-event': event}
                    )
            boxes['events'] = events_row
            message = ui.column().classes('w-full').props('aria-live=polite')

            async def add() -> None:
                body = {
                    'url': (boxes['url'].value or '').strip(),
                    'format': boxes['format'].value,
                    'events': [event for event, box in picks.items() if box.value],
                }
                if (boxes['name'].value or '').strip():
                    body['name'] = boxes['name'].value.strip()
                try:
                    rule = await connection.client().add_notification_rule(project_id, body)
                except ApiError as exc:
                    _form_failed(boxes, message, exc)
                    return
                message.clear()
                boxes['url'].value = boxes['name'].value = ''
                boxes['url'].error = None
                fold.close()
                show_secret_once(rule)
                await on_added()

            ui.button('Add webhook', icon='add', on_click=add).props('data-testid=rule-add').classes('rb-tap')


def _form_failed(boxes: dict[str, Any], message: ui.column, exc: ApiError) -> None:
    for key in ('url', 'name', 'format'):
        boxes[key].error = None
    errors = field_errors(exc.status, exc.body, RULE_FIELDS) if exc.status < 500 else {}
    for key, text in errors.items():
        if key in ('url', 'name', 'format'):
            boxes[key].error = text
    general = errors.get(GENERAL) or errors.get('events') or ('' if errors else in_words(exc, 'add the webhook'))
    message.clear()
    if general:
        with message, ui.row().classes('items-center gap-2').props('role=alert'):
            ui.label(general).classes('text-negative text-sm')
            correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')


@ui.page('/projects/{project_id}/notifications')
@signed_in
async def notifications_page(project_id: str) -> None:
    client = connection.client()
    try:
        project = await client.get_project(project_id)
        operator = (await client.me())['role'] == 'operator'
    except ApiError as exc:
        with frame('Notifications'):
            error_notice(ui.column(), exc, f'open the notifications of project {project_id}')
        return
    with frame(f'{project["name"]} · Notifications'):
        ui.link(f'← {shown(project["name"])}', f'/projects/{project_id}').classes('rb-tap-link text-sm')
        ui.label('Notifications').classes('text-xl font-bold').props('role=heading aria-level=1')
        browser_switch()
        ui.label('Webhooks').classes('text-lg font-medium').props('role=heading aria-level=2')
        ui.label(
            'Runboard POSTs each event a webhook subscribes to, signed with its secret, and retries until the '
            'receiver answers 2xx (docs/notifications.md).'
        ).classes('text-sm opacity-80')
        log: DeliveryLog

        async def changed() -> None:
            await log.load()

        rules = RulesView(
            project_id, operator=operator, on_change=changed, on_loaded=lambda found: log.set_rules(found)
        )
        if operator:

            async def added() -> None:
                await rules.load()

            add_rule_form(project_id, added)
        else:
            ui.label('Operators add, change and test webhooks; you see them read-only.').classes('text-sm opacity-70')
        log = DeliveryLog(project_id, operator=operator)
        await rules.load()
        await log.load()
