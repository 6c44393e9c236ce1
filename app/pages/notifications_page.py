"""A project's notifications: browser notifications for the person's own runs, the project's signed webhooks
(operators add, edit, switch, test, re-key and delete them; a new signing secret is shown once with a Copy button) and
their delivery log with Redeliver. Builders see the webhooks and the log read-only. The page follows the project's
change events: a webhook changed in another tab or by another operator is redrawn here."""

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
from app.pages.webhook_form import RuleFields, edit_rule
from app.pages.widgets import confirm, error_notice, list_note, notify_error
from app.state import connection, live
from app.state.live_pause import LiveState
from app.state.notifications_view import FORMAT_LABELS, delivery_state, events_text, new_rule_body
from app.state.serial_read import SerialRead
from app.state.text import shown

Done = Callable[[], Awaitable[None]]


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
        self.shown: dict[str, dict] | None = None  # id -> the rule as its row shows it, in the list's order
        self.cards: dict[str, ui.card] = {}
        # the rules, redrawn only in the rows that changed: the page reads again on every change event of the
        # project, and redrawing an unchanged row would swap its buttons under a person's click
        self.load = SerialRead(self._read)

    async def _read(self) -> None:
        try:
            rules = await connection.client().notification_rules(self.project_id)
        except ApiError as exc:
            error_notice(self.message, exc, 'load the webhooks')
            return
        if self.box.is_deleted:
            return
        self.message.clear()
        if self.on_loaded is not None:
            self.on_loaded(rules)
        self.draw(rules)
        self.box.props('data-loaded=true')

    def draw(self, rules: list[dict]) -> None:
        if self.shown is None or list(self.shown) != [rule['id'] for rule in rules]:
            self.box.clear()
            self.cards.clear()
            with self.box:
                if not rules:
                    list_note('No webhooks yet.')
                for rule in rules:
                    self.cards[rule['id']] = self.row(rule)
        else:
            for rule in rules:
                if rule != self.shown[rule['id']]:
                    card = self.cards[rule['id']]
                    card.clear()
                    with card:
                        self.fill(rule)
        self.shown = {rule['id']: rule for rule in rules}

    async def on_event(self, event: dict) -> None:
        if event.get('type') == 'project':  # its webhooks (or its settings) changed, here or elsewhere
            await self.load()

    def set_live(self, state: LiveState) -> None:
        attrs(self.box, {'data-live': 'true' if state == 'live' else 'false'})

    def row(self, rule: dict) -> ui.card:
        card = attrs(ui.card().tight().classes('w-full').props('role=listitem'), {'data-rule': str(rule['id'])})
        with card:
            self.fill(rule)
        return card

    def fill(self, rule: dict) -> None:
        with ui.row().classes('w-full items-center gap-x-4 gap-y-1 p-2 flex-wrap'):
            with ui.column().classes('gap-0 min-w-0'):
                ui.label(shown(rule['name'])).classes('font-medium').props('dir=auto data-field=name')
                ui.label(rule['url']).classes('text-xs font-mono opacity-80 rb-row').props('data-field=url')
                ui.label(
                    f'{FORMAT_LABELS.get(rule["format"], rule["format"])} · {events_text(rule["events"])}'
                ).classes('text-xs opacity-70').props('data-field=events')
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
                ui.button('Edit', icon='edit', on_click=lambda r=rule: self.edit(r)).props(
                    'flat dense no-caps data-testid=rule-edit'
                ),
                {'aria-label': f'Edit webhook {rule["name"]}: its URL, name, format and events'},
            ).classes('rb-tap')
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

    async def edit(self, rule: dict) -> None:
        async def saved(_: dict) -> None:
            await self.load()

        await edit_rule(self.project_id, rule, saved=saved, gone=self.load)

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
            fields = RuleFields()

            async def add() -> None:
                try:
                    rule = await connection.client().add_notification_rule(project_id, new_rule_body(fields.form()))
                except ApiError as exc:
                    fields.refused(exc, 'add the webhook')
                    return
                fields.clear()
                fold.close()
                show_secret_once(rule)
                await on_added()

            ui.button('Add webhook', icon='add', on_click=add).props('data-testid=rule-add').classes('rb-tap')


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

    async def on_event(event: dict) -> None:
        await rules.on_event(event)
        await log.on_event(event)

    async def read_again() -> None:  # the stream opened: what changed while none was open (first, or after a drop)
        await rules.load()
        await log.load()

    live.follow(on_event, project=project_id, on_reconnect=read_again, on_state=rules.set_live)
