"""The live runs list (dashboard and project page), drawn from a RunsStore."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from nicegui import background_tasks, ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.bulk_bar import BulkBar
from app.pages.instant_row import InstantRow
from app.pages.run_filters_bar import filter_bar
from app.pages.run_row import run_row
from app.pages.widgets import confirm, error_notice, list_note, notify_error
from app.state import connection, live
from app.state.live_pause import LiveState
from app.state.me import is_operator, who_am_i
from app.state.runs_store import RunsStore

WAITING_REFRESH_TICKS = 5  # seconds between re-reads of the queued rows' waiting reasons
WAITING_REFRESH_ROWS = 20
OLDER_PAGE = 50
MAX_PAGE = 500  # the API's largest page: a reload after "load older" re-reads at most this many


LIVE_WORDS: dict[LiveState, str] = {'live': '● live', 'paused': '‖ live updates paused', 'down': '○ reconnecting…'}


class RunsListView:
    def __init__(
        self,
        store: RunsStore,
        *,
        url_path: str | None = None,
        show_project: bool = True,
        instant_row: bool = False,
        operator: bool = False,
    ) -> None:
        self.store = store
        self.operator = operator  # offers Approve on the runs waiting for an operator (the server decides anyway)
        self.url_path = url_path  # where the filters live in the URL (None: no filter bar)
        self.show_project = show_project
        self.tickers: dict[str, tuple[dict, ui.label, ui.label]] = {}  # row key -> (run, started, duration)
        self.shown: list[tuple[str, dict]] = []  # (row key, run) as drawn, top to bottom
        self.cards: list[ui.element] = []
        self.dirty: dict[str, None] = {}  # run ids changed since we last read them (insertion-ordered)
        self.draining = False
        self.on_run_update: list[Any] = []  # called with each run read after a live change (the form's 409 banner)
        # called after the list read again when its stream opens (changes it missed: the form's busy marks)
        self.on_read_again: list[Callable[[], Awaitable[None]]] = []
        self.opened_before = False
        self.ticks = 0
        with ui.row().classes('w-full items-center gap-2'):
            self.message = ui.column().classes('gap-0')
            ui.space()
            self.bulk = BulkBar(
                lambda: self.store.filters.api_params(),
                lambda: self._rebuild(self.store.rows),
                lambda: (len([r for r in self.store.rows if not r.get('optimistic')]), self.store.has_more),
                operator=operator,
            )
            self.live_label = (
                ui.label('○ connecting…').classes('text-xs opacity-70').props('data-testid=live aria-live=polite')
            )
        self.bulk.draw_bar()
        self.instant = InstantRow() if instant_row else None  # the Run form's `Submitting…` row, drawn ahead
        self.box = ui.column().classes('w-full gap-2').props('role=list aria-label="Runs" data-testid=runs')
        with ui.row().classes('w-full items-center gap-2'):
            self.older_button = (
                ui.button('Load older runs', icon='expand_more', on_click=self.load_older)
                .props('flat data-testid=load-older')
                .classes('rb-tap')
            )
            self.shown_label = ui.label().classes('text-xs opacity-70').props('data-testid=runs-shown')
        ui.timer(1.0, self.tick)

    # -- data
    async def load(self) -> None:
        filters = self.store.filters
        try:
            page = await connection.client().list_runs(limit=min(self.store.limit, MAX_PAGE), **filters.api_params())
        except ApiError as exc:
            if filters != self.store.filters:  # the read for the filters chosen since answers for the list
                return
            error_notice(self.message, exc, 'load the runs')
            if exc.status == 422:  # the filters themselves were refused: the rows shown were read for other ones
                self.store.load([])
                self._rebuild([], note='No runs shown: the server refused these filters (said above).')
            return
        if not self.store.load(page['items'], has_more=page['next_cursor'] is not None, read_for=filters):
            return
        self.message.clear()
        self.render()
        self.box.props('data-loaded=true')

    async def load_older(self) -> None:
        """The next page below the oldest row shown (keyset: flat however many runs there are)."""
        filters, cursor = self.store.filters, self.store.older_cursor
        if cursor is None:
            return
        self.older_button.props('loading')
        try:
            page = await connection.client().list_runs(limit=OLDER_PAGE, cursor=cursor, **filters.api_params())
        except ApiError as exc:
            if filters == self.store.filters:
                error_notice(self.message, exc, 'load older runs')
            return
        finally:
            self.older_button.props(remove='loading')
        if self.store.append_older(page['items'], has_more=page['next_cursor'] is not None, read_for=filters):
            self.render()

    def on_event(self, event: dict) -> None:
        """Mark the run dirty; one drain task fetches each dirty run once (a burst of changes costs one read
        per run, always of its latest state)."""
        changed = event.get('type') == 'run' or (event.get('type') == 'run.output' and event.get('stage'))
        if not changed or not event.get('id') or self.box.is_deleted:  # (run.output with stage: a stage began)
            return  # (deleted: the person left the page while an update was on its way)
        self.dirty[event['id']] = None
        if not self.draining:
            self.draining = True
            background_tasks.create(self.drain(), name='runs-list-drain')

    async def drain(self) -> None:
        try:
            while self.dirty:
                run_id = next(iter(self.dirty))
                del self.dirty[run_id]
                try:
                    run = await connection.client().get_run(run_id, events_limit=0)
                except ApiError:
                    continue
                run.pop('events', None)
                if self.box.is_deleted:  # the page went away while the run was read
                    return
                self.store.apply_event(run)
                for listener in self.on_run_update:
                    listener(run)
                if not self.dirty:
                    self.render()
        finally:
            self.draining = False

    def follow(self, *, project: str | None) -> None:
        live.follow(self.on_event, project=project, on_reconnect=self.read_again, on_state=self.set_live)

    async def read_again(self) -> None:
        """The stream opened (first, or after a drop or a pause): what changed meanwhile, here and beside the list.
        Live events wait for this read (an older answer must not undo a newer event). On the first open the parts
        beside the list were read a moment ago, as the page was built: they read again beside the events (each
        guards its own answer against a change made during its read), so the first live change is not held back.
        After a drop or a pause they are awaited: the banner goes only once every part has read again."""
        await self.load()
        first, self.opened_before = not self.opened_before, True
        for listener in self.on_read_again:
            if first:
                background_tasks.create(listener(), name='read-again-beside')
            else:
                await listener()

    def set_live(self, state: LiveState) -> None:
        # paused: the server's live updates, not this page's connection (the banner above says what that means)
        self.live_label.text = LIVE_WORDS[state]
        self.live_label.classes(replace='text-xs ' + ('text-positive' if state == 'live' else 'rb-text-caution'))
        attrs(self.box, {'data-live': 'true' if state == 'live' else 'false'})

    # -- view
    @staticmethod
    def row_key(run: dict) -> str:
        return run.get('optimistic') or run['id']

    def render(self) -> None:
        """Draw the store's rows, keyed by run id (or optimistic token): unchanged rows are kept, changed
        ones redrawn, new ones created, gone ones deleted; so a live update or a `Submitting…` row costs
        one row, not the whole list."""
        rows = self.store.rows
        if not rows or not self.shown:
            self._rebuild(rows)
            return
        previous = {key: (card, run) for (key, run), card in zip(self.shown, self.cards, strict=False)}
        cards = []
        for run in rows:
            key = self.row_key(run)
            card, drawn = previous.pop(key, (None, None))
            if card is None or drawn != run:
                if card is not None:
                    card.delete()
                with self.box:
                    card = self._row(run)
            cards.append(card)
        for key, (card, _) in previous.items():
            card.delete()
            self.tickers.pop(key, None)
        for index, card in enumerate(cards):
            if self.box.default_slot.children[index] is not card:
                card.move(self.box, target_index=index)
        self.cards = cards
        self.shown = [(self.row_key(r), dict(r)) for r in rows]
        self.update_footer()

    def update_footer(self) -> None:
        real = len([r for r in self.store.rows if not r.get('optimistic')])
        self.older_button.set_visibility(self.store.older_cursor is not None)
        self.shown_label.text = (
            f'{real} run{"" if real == 1 else "s"} shown' + (', older ones below' if self.store.older_cursor else '')
            if real
            else ''
        )

    def _rebuild(self, rows: list[dict], note: str | None = None) -> None:
        """`note`: what an empty list says instead of "No runs match these filters." """
        self.box.clear()
        self.tickers = {}
        self.cards = []
        with self.box:
            if not rows:
                f = self.store.filters
                list_note(note or ('No runs match these filters.' if f.narrowed else 'No runs yet.'))
            for run in rows:
                self.cards.append(self._row(run))
        self.shown = [(self.row_key(r), dict(r)) for r in rows]
        self.update_footer()

    def _row(self, run: dict) -> ui.element:
        card, started, took = run_row(
            run,
            show_project=self.show_project,
            on_stop=self.stop,
            on_retry=retry,
            operator=self.operator,
            extra=self.bulk.row_controls,
        )
        self.tickers[self.row_key(run)] = (run, started, took)
        if run.get('optimistic') and self.instant is not None:
            self.instant.answered()  # in the same update as the server's own row: the two never show together
        return card

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % WAITING_REFRESH_TICKS == 0:  # why a run waits changes without an event of its own
            queued = [
                run['id'] for run, _, _ in self.tickers.values() if run.get('status') == 'queued' and run.get('id')
            ]
            for run in queued[:WAITING_REFRESH_ROWS]:
                self.on_event({'type': 'run', 'id': run})

    async def stop(self, run: dict) -> None:
        await stop_run(run['id'])


async def retry(run: dict) -> None:
    """Retry opens the Run form pre-filled from the run (with a new idempotency key). An AFK run's is sent at once:
    it works its issue again as it was (its branch, depth and framework are not to be chosen), and its page opens."""
    if run.get('kind') == 'auto':
        try:
            answer = await connection.client().retry_run(run['id'], key=f'retry-{uuid.uuid4()}')
        except ApiError as exc:
            notify_error(exc, f'retry {run["id"]}')
            return
        ui.navigate.to(f'/runs/{answer.data["id"]}')
        return
    query = urlencode(
        {
            'retry_of': run['id'],
            'branch': run['branch_name'],
            'depth': run['depth_level'],
            'framework': run['target_framework'],
        }
    )
    ui.navigate.to(f'/projects/{run["project_id"]}?{query}')


async def stop_run(run_id: str) -> None:
    if not await confirm(f'Stop run {run_id}? Its process will be terminated.', yes='Stop run'):
        return
    try:
        await connection.client().stop_run(run_id)
        ui.notify(f'Stop requested for {run_id}', position='bottom')
    except ApiError as exc:
        notify_error(exc, f'stop {run_id}')


async def runs_list(
    *,
    store: RunsStore,
    project: str | None = None,
    url_path: str | None = None,
    projects: list[dict] | None = None,
    instant_row: bool = False,
) -> RunsListView:
    """The list of `store`'s filters; `project` pins it to one project's page (no project column), `url_path`
    puts the filter bar above it and keeps the filters in that page's URL."""
    placeholder = ui.column().classes('w-full')
    operator = is_operator(await who_am_i())
    view = RunsListView(
        store, url_path=url_path, show_project=project is None, instant_row=instant_row, operator=operator
    )
    if url_path is not None:
        with placeholder:
            filter_bar(view, projects)
    await view.load()
    view.follow(project=project if projects is None else None)
    return view
