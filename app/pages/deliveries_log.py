"""The delivery log of a project's webhooks: newest first, each delivery's status and attempts, Redeliver
(operators), what the receiver answered to each attempt (operators: its Answer button reads the delivery's detail,
the one place the API gives it), older pages below. One webhook's log (the webhook picker) has, for operators,
"Redeliver all that gave up" in the last 24 hours, confirmed with how many it sends. Re-read when a run of the
project ends or the project changes, for a while after a run began to wait for approval, and while a delivery is
pending, retrying or held (attempts are not change events). The page follows the project's change events (one stream
for its webhooks and this log) and hands each to on_event, and calls load when the stream opens again."""

from __future__ import annotations

import time

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.theme import live_relative
from app.pages.widgets import confirm, error_notice, list_note, notify_error
from app.state import connection
from app.state.notifications_view import (
    EVENT_LABELS,
    STATUS_COLORS,
    STATUS_LABELS,
    WATCH_SECONDS,
    answer_heading,
    any_changing,
    attempt_text,
    bulk_question,
    bulk_result,
    delivery_state,
    log_reread,
)

PAGE = 25
REFRESH_SECONDS = 2.0
STATUS_FILTERS = {
    '': 'All deliveries',
    'pending,failed': 'In flight',
    'delivered': 'Delivered',
    'gave_up': 'Gave up',
    'held,skipped': 'Held for a retry',
}


class DeliveryLog:
    def __init__(self, project_id: str, *, operator: bool) -> None:
        self.project_id, self.operator = project_id, operator
        self.status = ''
        self.rule = ''  # '' every webhook's deliveries, else this rule's
        self.rule_names: dict[str, str] = {}
        self.items: list[dict] = []
        self.drawn: list[dict] | None = None
        self.states: dict[str, ui.label] = {}  # kept true between renders ('next attempt in 12 s')
        self.cursor: str | None = None
        self.watch_until = 0.0  # monotonic: read on each tick until then (a delivery about to be recorded)
        with ui.row().classes('w-full items-center gap-2'):
            ui.label('Deliveries').classes('text-lg font-medium').props('role=heading aria-level=2')
            ui.space()
            self.bulk = ui.button('Redeliver all that gave up', icon='replay', on_click=self.redeliver_gave_up)
            self.bulk.props('flat dense no-caps data-testid=redeliver-gave-up').classes('rb-tap')
            self.bulk.set_visibility(False)  # an operator's, on one webhook's log
            self.rule_pick = ui.select({'': 'All webhooks'}, value='', on_change=lambda e: self.pick_rule(e.value))
            self.rule_pick.props(
                'dense outlined options-dense data-testid=delivery-rule aria-label="Show the deliveries of"'
            ).classes('min-w-40')
            ui.select(STATUS_FILTERS, value='', on_change=lambda e: self.filter(e.value)).props(
                'dense outlined options-dense data-testid=delivery-filter aria-label="Show deliveries"'
            ).classes('min-w-40')
        self.message = ui.column().classes('gap-0')
        self.box = ui.column().classes('w-full gap-2').props('role=list aria-label="Deliveries" data-testid=deliveries')
        self.more = ui.button('Load older deliveries', icon='expand_more', on_click=self.load_older).props(
            'flat data-testid=deliveries-older'
        )
        self.more.classes('rb-tap').set_visibility(False)
        ui.timer(REFRESH_SECONDS, self.refresh_in_flight)

    async def filter(self, status: str) -> None:
        self.status = status or ''
        await self.load()

    def set_rules(self, rules: list[dict]) -> None:
        """The webhooks the picker offers (the page read them); a picked one that was deleted falls back to all. Set
        only when they changed: the page reads its rules again on each change event and when its stream opens, and
        setting the options closes the picker's open menu under a person's choice."""
        names = {rule['id']: rule['name'] for rule in rules}
        if names == self.rule_names:
            return
        self.rule_names = names
        self.rule_pick.set_options(
            {'': 'All webhooks', **self.rule_names}, value=self.rule if self.rule in self.rule_names else ''
        )

    async def pick_rule(self, rule_id: str | None) -> None:
        self.rule = rule_id or ''
        name = self.rule_names.get(self.rule, '')
        attrs(self.bulk, {'aria-label': f'Redeliver all that gave up in the last 24 hours to {name}'})
        self.bulk.set_visibility(self.operator and bool(self.rule))
        await self.load()

    async def redeliver_gave_up(self) -> None:
        """This webhook's deliveries that gave up in the last 24 hours, sent again: counted first (a dry run), then
        confirmed with that count, then queued (the same window); the notice says what was queued and skipped."""
        rule_id, name = self.rule, self.rule_names.get(self.rule, self.rule)
        client = connection.client()
        try:
            preview = await client.redeliver_gave_up(self.project_id, rule_id, dry_run=True)
        except ApiError as exc:
            notify_error(exc, f'count the deliveries of {name} that gave up')
            return
        if not preview['queued']:
            ui.notify(bulk_result(preview, name), position='bottom')
            return
        sends = preview['queued']
        if not await confirm(bulk_question(preview, name), yes=f'Redeliver {sends}', color='primary'):
            return
        try:
            answer = await client.redeliver_gave_up(self.project_id, rule_id, since=preview['since'])
        except ApiError as exc:
            notify_error(exc, f'redeliver the deliveries of {name} that gave up')
            return
        ui.notify(bulk_result(answer, name), type='positive' if answer['queued'] else 'warning', position='bottom')
        await self.load()

    async def on_event(self, event: dict) -> None:
        reread = log_reread(event)
        if reread == 'soon':  # a run waits for approval: its deliveries come with the sender's next pass
            self.watch_until = time.monotonic() + WATCH_SECONDS
        elif reread == 'now':  # a run's deliveries are written with its end, a project's with its change
            await self.load()

    async def refresh_in_flight(self) -> None:
        if any_changing(self.items) or time.monotonic() < self.watch_until:
            await self.load()

    async def load(self) -> None:
        """The newest deliveries again, as many as are shown (older pages loaded stay)."""
        await self._read(None, limit=max(PAGE, len(self.items)), replace=True)

    async def load_older(self) -> None:
        await self._read(self.cursor, limit=PAGE, replace=False)

    async def _read(self, cursor: str | None, *, limit: int, replace: bool) -> None:
        """A page read for another webhook or status than the pickers say now is dropped: a refresh begun before the
        choice would otherwise answer after the new choice's read and show the old choice's deliveries under it."""
        chosen = (self.rule, self.status)
        try:
            page = await connection.client().deliveries(
                self.project_id, rule=self.rule or None, status=self.status or None, cursor=cursor, limit=limit
            )
        except ApiError as exc:
            if chosen == (self.rule, self.status):
                error_notice(self.message, exc, 'load the delivery log')
            return
        if chosen != (self.rule, self.status):
            return
        self.message.clear()
        self.items = page['items'] if replace else self.items + page['items']
        self.cursor = page['next_cursor']
        self.more.set_visibility(self.cursor is not None)
        if self.items != self.drawn:
            self.drawn = self.items
            self.render()
        for item in self.items:
            self.states[item['id']].text = delivery_state(item)
        self.box.props('data-loaded=true')

    def render(self) -> None:
        self.box.clear()
        self.states.clear()
        with self.box:
            if not self.items:
                list_note('No deliveries yet: they appear here when an event a rule subscribes to happens.')
            for item in self.items:
                self.row(item)

    def row(self, item: dict) -> None:
        card = ui.card().tight().classes('w-full')
        attrs(card.props('role=listitem'), {'data-delivery': str(item['id']), 'data-status': item['status']})
        with card, ui.column().classes('w-full gap-1 p-2'):
            with ui.row().classes('w-full items-center gap-x-3 gap-y-1 flex-wrap'):
                ui.badge(STATUS_LABELS.get(item['status'], item['status']), color=STATUS_COLORS.get(item['status']))
                ui.label(EVENT_LABELS.get(item['event_type'], item['event_type'])).classes('text-sm font-medium')
                if item.get('run_id'):
                    ui.link(item['run_id'], f'/runs/{item["run_id"]}').classes('font-mono text-sm rb-tap-link')
                ui.label(f'→ {item["rule_name"]}').classes('text-sm opacity-80').props('dir=auto')
                live_relative(ui.label().classes('text-xs opacity-70'), item['created_at'])
                ui.space()
                if self.operator and item['status'] != 'pending':
                    attrs(
                        ui.button('Redeliver', icon='replay', on_click=lambda d=item: self.redeliver(d)).props(
                            'flat dense no-caps data-testid=redeliver'
                        ),
                        {'aria-label': f'Redeliver {item["id"]}'},
                    ).classes('rb-tap')
            state = ui.label(delivery_state(item)).classes('text-sm').props('data-field=state aria-live=polite')
            self.states[item['id']] = state
            with ui.column().classes('w-full gap-0 pl-2').props('data-field=attempts'):
                for attempt in item['attempt_log']:
                    ok = attempt.get('status_code') is not None and 200 <= attempt['status_code'] < 300
                    with ui.row().classes('items-center gap-x-2 gap-y-0'):
                        label = ui.label(attempt_text(attempt)).classes(
                            'text-xs font-mono ' + ('text-positive' if ok else 'opacity-80')
                        )
                        attrs(label, {'data-attempt': str(attempt['number'])})
                        toggle = None
                        if self.operator and attempt.get('status_code') is not None:  # an HTTP answer came
                            toggle = ui.button('Answer', icon='expand_more').props(
                                'flat dense no-caps size=sm data-testid=attempt-answer aria-expanded=false'
                            )
                    if toggle is not None:
                        self.answer_panel(item['id'], attempt['number'], toggle)
            ui.label(f'delivery {item["id"]} · event {item["event_id"]}').classes('text-xs opacity-60 font-mono')

    def answer_panel(self, delivery_id: str, number: int, toggle: ui.button) -> None:
        """What the receiver answered to attempt `number`, shown under it when its Answer button is pressed (read
        then, from the delivery's detail: the log's list never carries answers)."""
        panel = ui.column().classes('w-full gap-1 pl-4 pb-1').props('role=region data-field=answer')
        attrs(panel, {'aria-label': f'Answer to attempt #{number}', 'data-answer': str(number)})
        panel.set_visibility(False)
        name = f'Answer to attempt #{number}: what the receiver said'
        attrs(toggle, {'aria-label': name, 'aria-controls': panel.html_id})

        async def flip() -> None:
            opening = not panel.visible
            if opening and not panel.default_slot.children:
                await self.fill_answer(panel, delivery_id, number)
            panel.set_visibility(opening)
            attrs(toggle, {'icon': 'expand_less' if opening else 'expand_more', 'aria-expanded': str(opening).lower()})

        toggle.on_click(flip)
        toggle.classes('rb-tap')

    async def fill_answer(self, panel: ui.column, delivery_id: str, number: int) -> None:
        try:
            detail = await connection.client().delivery(delivery_id)
        except ApiError as exc:
            error_notice(panel, exc, f'read the answer to attempt #{number}')
            return
        attempt = next((a for a in detail['attempt_log'] if a['number'] == number), None)
        answer = attempt.get('answer') if attempt else None
        with panel:
            ui.label(answer_heading(answer)).classes('text-xs opacity-70')
            if answer and answer['excerpt']:
                ui.label(answer['excerpt']).classes(
                    'text-xs font-mono whitespace-pre-wrap break-all w-full rb-answer'
                ).props('dir=auto data-field=excerpt')

    async def redeliver(self, item: dict) -> None:
        try:
            answer = await connection.client().redeliver(item['id'])
        except ApiError as exc:
            notify_error(exc, f'redeliver {item["id"]}')
            return
        delivered = answer['status'] == 'delivered'
        ui.notify(
            f'Redelivered: {delivery_state(answer)}',
            type='positive' if delivered else 'warning',
            position='bottom',
        )
        await self.load()
