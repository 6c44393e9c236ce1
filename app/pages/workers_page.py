"""Workers (executor=celery): who executes runs, with what labels and slots, how busy, when last heard
from; a deployment administrator drains and undrains them here, and removes stopped and lost ones (others see who
can; gone workers also leave by themselves after RUNBOARD_WORKER_RETENTION_DAYS). Re-read every few seconds
(heartbeats are not events)."""

from __future__ import annotations

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.signin import signed_in
from app.pages.theme import frame, live_relative, relative
from app.pages.widgets import confirm, error_notice, notify_error
from app.state import connection
from app.state.me import who_am_i

# fills under white text with at least 4.5:1 (issue 42: Quasar's amber `warning` has 1.7:1)
STATE_COLORS = {'live': 'positive', 'draining': 'brown-7', 'lost': 'negative', 'stopped': 'grey-8'}
REFRESH_SECONDS = 3.0
RUNNING_RUNS = '/?status=running'  # the dashboard's runs list, filtered (state/runs_store.py RunFilters)


class WorkersView:
    def __init__(self) -> None:
        self.summary = ui.label().classes('text-sm').props('data-testid=capacity aria-live=polite')
        # executor=local: no worker to list, but what a runners page is opened for, the runs under way, is one link off
        self.running = ui.link('The runs running now', RUNNING_RUNS).classes('text-sm rb-tap-link')
        self.running.props('data-testid=running-runs').set_visibility(False)
        self.message = ui.column().classes('gap-0')
        self.box = ui.column().classes('w-full gap-2').props('role=list aria-label="Workers" data-testid=workers')
        self.drawn: object = None
        self.local = False  # executor=local: no workers to start
        self.admin = False  # a deployment administrator: the only one a drain is not refused for (403 admin_required)
        ui.timer(REFRESH_SECONDS, self.load)

    async def load(self) -> None:
        try:
            page = await connection.client().list_workers()
        except ApiError as exc:
            error_notice(self.message, exc, 'load the workers')
            return
        self.message.clear()
        live = [w for w in page['items'] if w['state'] in ('live', 'draining')]
        self.local = page['executor'] != 'celery'
        me = await who_am_i(fresh=self.drawn is None)  # the page's first read asks the server, not the cache
        self.admin = bool((me or {}).get('is_admin'))
        if self.local:
            self.summary.text = (
                'This server runs every run itself (RUNBOARD_EXECUTOR=local): it has no workers to list. Workers, '
                'other machines that take runs off a team server, need RUNBOARD_EXECUTOR=celery on it: see '
                'docs/team.md.'
            )
        else:
            self.summary.text = (
                f'{len(live)} live worker{"" if len(live) == 1 else "s"} · {page["busy"]} of {page["capacity"]} '
                'slots busy'
                + (f' · {page["finishing"]} finishing on draining workers' if page.get('finishing') else '')
                + ' (draining workers finish their runs but take no new ones)'
                + ('' if self.admin else '. A deployment administrator drains, undrains and removes them.')
            )
        self.running.set_visibility(self.local)
        shown = (self.admin, [{**w, 'heard': relative(w['heartbeat_at'])} for w in page['items']])
        if shown != self.drawn:
            self.drawn = shown
            self.render(page['items'])
        self.box.props('data-loaded=true')

    def render(self, items: list[dict]) -> None:
        self.box.clear()
        with self.box:
            if not items and not self.local:
                with ui.row().classes('items-baseline gap-1 text-sm').props('role=listitem'):
                    ui.label('No worker has registered yet: start one with')
                    ui.label('runboard worker --slots 4').classes('font-mono').props('data-testid=worker-command')
                    ui.label("on a machine that reaches this server's database and Redis.")
            for worker in items:
                self.row(worker)

    def row(self, worker: dict) -> None:
        with attrs(ui.card().tight().classes('w-full').props('role=listitem'), {'data-worker': worker['name']}):
            with ui.row().classes('w-full items-center gap-x-4 gap-y-1 p-2 flex-wrap'):
                attrs(
                    ui.badge(worker['state'], color=STATE_COLORS.get(worker['state'], 'grey')),
                    {'data-state': worker['state']},
                ).classes('text-sm px-2 py-1')
                ui.label(worker['name']).classes('font-mono text-sm')
                ui.label(f'{worker["host"]} · pid {worker["pid"]}').classes('text-xs opacity-70')
                with ui.row().classes('gap-1'):
                    for label in worker['labels'] or ['no labels']:
                        ui.chip(label).props('dense outline')
                ui.label(f'{worker["busy"]} / {worker["slots"]} busy').classes('text-sm font-mono').props(
                    'data-field=busy'
                )
                live_relative(ui.label().classes('text-xs opacity-70'), worker['heartbeat_at'], prefix='heartbeat ')
                ui.label(f'v{worker["version"]}').classes('text-xs opacity-70')
                if worker.get('sandbox'):  # how its runs execute: its own environment decides (docs/security.md)
                    runs = f'runs {worker["sandbox"]} · limits: {worker.get("limits") or "none"}'
                    ui.label(runs).classes('text-xs opacity-70').props('data-field=runs')
                ui.space()
                # only an administrator's drain is not refused (403 admin_required): no button that can only fail
                if self.admin and worker['state'] == 'live':
                    attrs(
                        ui.button('Drain', icon='pause_circle', on_click=lambda w=worker: self.drain(w, True)).props(
                            'flat dense'
                        ),
                        {'aria-label': f'Drain worker {worker["name"]}'},
                    ).classes('rb-tap')
                elif self.admin and worker['state'] == 'draining':
                    attrs(
                        ui.button('Undrain', icon='play_circle', on_click=lambda w=worker: self.drain(w, False)).props(
                            'flat dense'
                        ),
                        {'aria-label': f'Undrain worker {worker["name"]}'},
                    ).classes('rb-tap')
                # a lost worker's runs still running are ended by run recovery first (409 worker_busy until then)
                elif self.admin and worker['state'] in ('stopped', 'lost') and not worker['busy']:
                    attrs(
                        ui.button('Remove', icon='delete_outline', on_click=lambda w=worker: self.remove(w)).props(
                            'flat dense'
                        ),
                        {'aria-label': f'Remove worker {worker["name"]}', 'data-testid': 'remove-worker'},
                    ).classes('rb-tap')
            for warning in worker.get('warnings') or []:  # runs unsandboxed, refused or unbounded there
                ui.label(warning).classes('text-xs rb-text-caution px-2 pb-2').props('data-field=warning')

    async def drain(self, worker: dict, drain: bool) -> None:
        try:
            await connection.client().drain_worker(worker['name'], drain=drain)
        except ApiError as exc:
            notify_error(exc, f'{"drain" if drain else "undrain"} {worker["name"]}')
            return
        await self.load()

    async def remove(self, worker: dict) -> None:
        question = (
            f'Remove worker {worker["name"]} ({worker["state"]}) from the list? If it starts again it registers again.'
        )
        if not await confirm(question, yes='Remove'):
            return
        try:
            await connection.client().remove_worker(worker['name'])
        except ApiError as exc:
            notify_error(exc, f'remove {worker["name"]}')
            return
        await self.load()


@ui.page('/workers')
@signed_in
async def workers_page() -> None:
    with frame('Workers'):
        ui.label('Workers').classes('text-lg font-medium').props('role=heading aria-level=1')
        view = WorkersView()
        await view.load()
