"""The audit log (operators): who did what and when, from which token; filters in the URL, older entries
paged in below (keyset). Builders are told it is for operators."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.run_filters_bar import filter_date, filter_select, filter_text
from app.pages.signin import signed_in
from app.pages.theme import frame, live_relative
from app.pages.widgets import error_notice, list_note
from app.state import connection
from app.state.audit_view import AuditFilters, action_choices, details_text, sentence, target_link
from app.state.me import is_operator, who_am_i

PAGE = 50


class AuditView:
    def __init__(self, filters: AuditFilters) -> None:
        self.filters = filters
        self.cursor: str | None = None
        self.count = 0
        self.reads = 0  # loads begun: only the latest one's pages are shown
        self.message = ui.column().classes('gap-0')
        self.box = ui.column().classes('w-full gap-1').props('role=list aria-label="Audit log" data-testid=audit')
        self.more = (
            ui.button('Load older entries', icon='expand_more', on_click=self.load_older)
            .props('flat data-testid=audit-older')
            .classes('rb-tap')
        )

    async def load(self) -> None:
        self.reads += 1
        await self._read(None, self.reads)

    async def load_older(self) -> None:
        await self._read(self.cursor, self.reads)

    async def _read(self, cursor: str | None, read: int) -> None:
        """`read`: which load this page belongs to. A page of an earlier load (the filters changed, or the person field
        was left while Enter's read was on its way) is dropped, as is an older page already below the list: two
        answers in one list would show entries twice, or other filters' entries."""
        try:
            page = await connection.client().audit_log(**self.filters.query(), cursor=cursor, limit=PAGE)
        except ApiError as exc:
            if read != self.reads:
                return
            error_notice(self.message, exc, 'read the audit log')
            self.more.set_visibility(False)
            if cursor is None:  # the entries shown were read for other filters (or before the server failed)
                self.box.clear()
                self.count = 0
                if exc.status == 422:
                    with self.box:
                        list_note('No entries shown: the server refused these filters (said above).')
            return
        if read != self.reads or (cursor is not None and cursor != self.cursor):
            return
        self.message.clear()
        if cursor is None:
            self.box.clear()
            self.count = 0
        with self.box:
            for entry in page['items']:
                self.row(entry)
            if not page['items'] and self.count == 0:
                list_note('No entries match these filters.')
        self.count += len(page['items'])
        self.cursor = page['next_cursor']
        self.more.set_visibility(self.cursor is not None)
        self.box.props('data-loaded=true')

    @staticmethod
    def row(entry: dict) -> None:
        with attrs(
            ui.row().classes('w-full items-baseline gap-x-2 gap-y-0 flex-wrap rb-row px-2 py-1').props('role=listitem'),
            {'data-action': entry['action'], 'data-entry': str(entry['id'])},
        ):
            live_relative(ui.label().classes('text-xs opacity-70 w-20 shrink-0'), entry['at'])  # the moment on hover
            ui.label(sentence(entry)).classes('text-sm').props('dir=auto')
            text, link = target_link(entry)
            if link:
                ui.link(text, link).classes('font-mono text-sm rb-tap-link')
            elif text:
                ui.label(text).classes('font-mono text-sm')
            if details := details_text(entry):
                ui.label(details).classes('text-xs opacity-80').props('dir=auto')
            ui.space()
            token = f'token {entry["token_id"]}' if entry.get('token_id') else 'no token (Runboard itself)'
            ui.label(token).classes('text-xs opacity-60 font-mono')


@ui.page('/audit')
@signed_in
async def audit_page(request: Request) -> None:
    filters = AuditFilters.from_query(request.query_params)
    me = await who_am_i(fresh=True)
    with frame('Audit log'):
        ui.label('Audit log').classes('text-xl font-bold').props('role=heading aria-level=1')
        if not is_operator(me):
            with ui.element('div').classes('rb-banner rb-banner-amber').props('role=note data-testid=readonly-note'):
                ui.label('The audit log is for operators. Ask an operator of your team what happened.')
            return
        ui.label('Who triggered, retried, stopped, reset, switched auto, changed a project or a token.').classes(
            'text-sm opacity-80'
        )
        try:
            projects = await connection.client().list_projects()
        except ApiError:
            projects = []
        view: AuditView

        async def changed() -> None:
            chosen = AuditFilters(
                action=action.value or None,
                actor=(actor.value or '').strip() or None,
                project=project.value or None,
                since=(since.value or '').strip() or None,
                until=(until.value or '').strip() or None,
            )
            if chosen == view.filters:
                return  # a blur without a change: no reload
            view.filters = chosen
            query = urlencode(view.filters.query())
            ui.navigate.history.replace('/audit' + (f'?{query}' if query else ''))
            await view.load()

        with ui.row().classes('w-full items-center gap-2 flex-wrap').props('data-testid=audit-filters'):
            # 47 actions and groups: typing `stop` narrows them to what was stopped
            action = filter_select('kind', action_choices(), filters.action, changed, searchable=True).props(
                'label=Action data-filter=action'
            )
            action.classes(remove='sm:w-36', add='sm:w-64')  # room for "Projects › variable › removed"
            actor = filter_text('by', 'Person', filters.actor, changed).props('data-filter=actor')
            options = {'': 'All projects', **{p['id']: p['name'] for p in projects}}
            project = filter_select('project', options, filters.project, changed)
            since = filter_date('since', 'From (UTC)', filters.since, changed)
            until = filter_date('until', 'To (UTC)', filters.until, changed)
        view = AuditView(filters)
        await view.load()
