"""Project cards on the dashboard: status, running count, last run, auto badge, the ⋯ menu
(Start AFK run; for operators Auto on/off and Reset when paused), the paused banner with the causes of the last
failures, and Parked (N). Updated in place from live change events."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from nicegui import background_tasks, context, ui

from app.client import ApiError
from app.models.vocabulary import AWAITING_APPROVAL
from app.pages.attributes import attrs
from app.pages.backlog import open_backlog, open_parked
from app.pages.charts import Debounced
from app.pages.run_timing import show_next_schedule
from app.pages.theme import iso_utc, relative, status_badge
from app.pages.widgets import menu_item, notify_error
from app.state import connection, live
from app.state.history import SPARKLINE_RUNS, is_finish_event, sparkline_svg
from app.state.me import controls_afk, who_am_i
from app.state.projects_store import (
    CardView,
    ProjectsStore,
    awaiting_approval_text,
    card_menu,
    held_banner,
    shows_auto_chip,
    who_resets_text,
)
from app.state.run_timing import parse, start_fact, until_text
from app.state.text import shown

CARD_CSS = """
.rb-form-button { padding: 0 16px; border-radius: 4px; background: #c62828; color: #fff; font-weight: 600;
  text-transform: uppercase; letter-spacing: .05em; border: 0; cursor: pointer; min-height: 44px; min-width: 44px; }
.rb-form-button:focus-visible { outline: 2px solid #1976d2; outline-offset: 2px; }
.rb-paused-banner { background: #ffebee; color: #b71c1c; }
.body--dark .rb-paused-banner { background: rgba(229, 57, 53, .18); color: #ffcdd2; }
.rb-launch-banner { background: #fff3e0; color: #8a3c00; }
.body--dark .rb-launch-banner { background: rgba(255, 152, 0, .18); color: #ffe0b2; }
.rb-spark-succeeded { fill: #2e7d32; } .rb-spark-failed { fill: #c62828; } .rb-spark-stopped { fill: #8a8a8a; }
.body--dark .rb-spark-succeeded { fill: #66bb6a; } .body--dark .rb-spark-failed { fill: #ef5350; }
.body--dark .rb-spark-stopped { fill: #9e9e9e; }
"""
log = logging.getLogger(__name__)
STATUS_TEXT = {'paused': 'Auto paused', 'running': 'Running', 'queued': 'Queued', 'idle': 'Idle'}
# fills under white text with at least 4.5:1 (issue 42)
STATUS_COLOR = {'paused': 'red-9', 'running': 'blue-9', 'queued': 'grey-8', 'idle': 'grey-8'}


def paused_text(failures: int) -> str:
    return f'Auto paused · {failures} fail' + ('' if failures == 1 else 's')


def reset_form(project_id: str, csrf_token: str) -> str:
    """A plain HTML form: Reset works without JavaScript (the server answers 303 back here)."""
    return (
        f'<form method="post" action="/afk/reset/{html.escape(project_id)}" style="margin:0">'
        f'<input type="hidden" name="csrf_token" value="{html.escape(csrf_token)}">'
        f'<button type="submit" class="rb-tap rb-form-button" data-reset-form="{html.escape(project_id)}">'
        f'Reset</button></form>'
    )


def _last_run_link(last: dict) -> None:
    """'finished 3 min ago', 'started 12 s ago', 'created …' (queued), or a delayed run's 'runs in 5 min': it
    lies ahead, so it counts down to when it will run, not up from when it was asked for."""
    run_at = parse(last.get('run_at')) if last['status'] == 'delayed' else None
    if run_at is not None:
        link = ui.link(f'runs {until_text(run_at, datetime.now(UTC))}', f'/runs/{last["id"]}').classes('text-sm')
        attrs(
            link.props('data-field=last-run-time'),
            {'data-rb-until': iso_utc(last['run_at']), 'data-rb-prefix': 'runs '},
        )
        return
    if last.get('finished_at'):  # when it ended, not when it was asked for
        name, moment = 'finished', last['finished_at']
    else:  # started, or created when it has not (queued)
        name, moment = start_fact(last)
    link = ui.link(f'{name} {relative(moment)}', f'/runs/{last["id"]}').classes('text-sm')
    attrs(link.props('data-field=last-run-time'), {'data-rb-time': iso_utc(moment), 'data-rb-prefix': f'{name} '})


class ProjectCard:
    def __init__(self, store: ProjectsStore, view: CardView, *, form_posts: bool, operator: bool) -> None:
        self.store, self.id, self.form_posts, self.operator = store, view.id, form_posts, operator
        self.form_token: str | None = None
        with attrs(ui.card().classes('w-full sm:w-96 gap-2'), {'data-project': view.id}) as self.element:
            with ui.row().classes('w-full items-center no-wrap gap-2'):
                self.name = ui.link('', f'/projects/{view.id}').classes('text-lg font-bold grow rb-tap-link')
                self.name.props('data-field=project-name')
                self.auto_badge = ui.badge().classes('text-sm px-2 py-1')
                with (
                    ui.button(icon='more_horiz')
                    .props('flat round aria-label="Project actions"')
                    .classes('rb-tap') as self.menu_button
                ):
                    with ui.menu().props('data-menu=afk') as self.menu:
                        # menu items (role menuitem, as a menu's children must be; Quasar's QItem says listitem)
                        with menu_item(self.start_afk) as self.start_item:
                            self.start_label = ui.item_section()
                        # opened, the menu puts the focus here (QMenu focuses [autofocus]): the item always enabled
                        # (a builder has no Auto item: the menu itself takes the focus)
                        with menu_item(self.toggle_auto).props('autofocus') as self.auto_item:
                            self.auto_label = ui.item_section()
                        self.menu_separator = ui.separator()
                        with (
                            ui.item()
                            .classes('text-negative')
                            .props('role=menuitem aria-disabled=true') as self.menu_paused
                        ):
                            self.menu_paused_label = ui.item_section()
                        with menu_item(self.reset).classes('text-negative') as self.reset_item:
                            ui.item_section('Reset')
            with ui.row().classes('w-full items-center gap-2'):
                self.status = ui.badge().classes('text-sm px-2 py-1')
                self.running = ui.label().classes('text-sm')
            with ui.row().classes('w-full items-center gap-2 text-sm'):
                ui.label('Last run:').classes('opacity-70')
                self.last_run = ui.row().classes('items-center gap-2')
            # the runs an operator has to approve: the runs list filtered to them (approved there, one by one or all)
            self.awaiting = ui.link('', f'/?project={view.id}&status={AWAITING_APPROVAL}')
            self.awaiting.classes('text-sm rb-tap-link rb-text-caution').props('data-field=awaiting-approval')
            self.next_schedule = ui.link('', f'/projects/{view.id}/schedules').classes('text-sm rb-tap-link')
            self.next_schedule.props('data-field=next-schedule')
            # the last runs' durations and outcomes: one inline SVG (state/history.py), no chart per card
            with ui.row().classes('w-full items-end gap-2 text-sm') as self.recent_row:
                ui.label('Recent:').classes('opacity-70')
                self.sparkline = ui.html('', sanitize=False).classes('leading-none').props('data-testid=sparkline')
            self.recent_row.set_visibility(False)
            with (
                ui.column()
                .classes('w-full gap-1 p-2 rounded rb-paused-banner')
                .props('data-paused-banner') as self.banner
            ):
                self.banner_title = ui.label().classes('font-bold')
                self.causes = ui.column().classes('gap-0 text-xs')
                self.form_box = ui.element('div')
            self.launch_banner = (
                ui.label()
                .classes('w-full p-2 rounded text-sm rb-launch-banner')
                .props('data-launch-banner role=status')
            )
            with ui.row().classes('w-full gap-2'):
                ui.button('Run', icon='play_arrow', on_click=lambda: ui.navigate.to(f'/projects/{self.id}')).classes(
                    'rb-tap'
                )
                ui.button('Backlog', icon='list', on_click=self.backlog).props('outline').classes('rb-tap')
                self.parked_button = ui.button(on_click=self.parked).props('outline color=negative').classes('rb-tap')
        self.update(view)

    def update(self, view: CardView) -> None:
        project = view.project
        self.view = view
        self.name.text = shown(project['name'])
        auto = bool(project.get('auto_enabled'))
        self.auto_badge.text = 'Auto' if auto else 'Auto off'
        attrs(self.auto_badge, {'color': 'green-9' if auto else 'grey-8', 'data-auto': 'on' if auto else 'off'})
        self.auto_badge.set_visibility(shows_auto_chip(view))
        ready = view.ready
        self.start_label.text = f'Start AFK run ({ready if ready is not None else "?"} ready)'
        self.start_item.set_enabled(ready is None or ready > 0)
        self.auto_label.text = f'Auto AFK runs: {"On" if auto else "Off"}'
        paused_line = paused_text(view.failures)
        menu = card_menu(view, operator=self.operator)  # a builder's: no Auto on/off, no Reset (403 for them)
        self.auto_item.set_visibility(menu.auto)
        for element in (self.menu_separator, self.menu_paused):
            element.set_visibility(menu.paused_line)
        self.banner.set_visibility(view.paused)
        self.menu_paused_label.text = paused_line
        blocked = held_banner(view, datetime.now(UTC), may_reset=self.operator)  # Reset: said to those who may
        self.launch_banner.text = blocked or ''
        self.launch_banner.set_visibility(blocked is not None)
        self.reset_item.set_visibility(menu.reset)
        self.banner_title.text = paused_line + ('' if auto else ' (auto is off)')
        self.status.text = STATUS_TEXT[view.status]
        attrs(self.status, {'color': STATUS_COLOR[view.status], 'data-card-status': view.status})
        self.running.text = f'{view.running} running' + (
            f' · {project["active_runs"] - view.running} queued' if project.get('active_runs', 0) > view.running else ''
        )
        self.last_run.clear()
        with self.last_run:
            if view.last_run:
                status_badge(view.last_run['status'])
                last = view.last_run
                _last_run_link(last)
            else:
                ui.label('none yet').classes('opacity-70')
        awaiting = awaiting_approval_text(project)
        self.awaiting.text = awaiting or ''
        self.awaiting.set_visibility(awaiting is not None)
        show_next_schedule(self.next_schedule, project)  # "next run in 4 min · nightly"
        self.causes.clear()
        with self.causes:
            for cause in view.failure_causes:
                ui.label(cause)
            if who := who_resets_text(view, operator=self.operator):
                ui.label(who).props('data-testid=paused-who-resets')
        parked = int(project.get('parked_count') or 0)
        self.parked_button.text = f'Parked ({parked})'
        self.parked_button.set_visibility(parked > 0)
        if view.paused and self.form_posts and self.operator and self.form_token is None:  # operators' form
            self.form_token = ''  # loading; update() also runs from live events, outside any slot
            background_tasks.create(self._load_form(), name='reset-form-token')

    def show_recent(self, runs: list[dict] | None) -> None:
        """The sparkline of the project's newest finished runs (None: not read yet)."""
        if runs is None:
            return
        self.sparkline.content = sparkline_svg(runs) if runs else ''
        self.recent_row.set_visibility(bool(runs))

    async def _load_form(self) -> None:
        self.form_token = await self.store.form_token(self.id)
        if self.form_token and not self.element.is_deleted:
            self.form_box.clear()
            with self.form_box:
                ui.html(reset_form(self.id, self.form_token), sanitize=False)

    async def _act(self, action: Callable[[], Awaitable[str]], doing: str) -> None:
        try:
            ui.notify(await action(), type='positive')
        except ApiError as exc:
            notify_error(exc, doing)

    async def start_afk(self) -> None:
        await self._act(lambda: self.store.start_afk(self.id), 'start an AFK run')

    async def toggle_auto(self) -> None:
        enabled = not bool(self.view.project.get('auto_enabled'))
        await self._act(lambda: self.store.set_auto(self.id, enabled), f'switch auto {"on" if enabled else "off"}')

    async def reset(self) -> None:
        await self._act(lambda: self.store.reset(self.id), 'reset the project')

    async def backlog(self) -> None:
        await open_backlog(self.view.project, on_change=self.store.refresh)

    async def parked(self) -> None:
        await open_parked(self.store, self.view.project)


def _form_posts_reach_api() -> bool:
    """The plain Reset form posts to this page's own origin: only useful when this server hosts the API."""
    try:
        own = context.client.request.url
        api = urlsplit(connection.client().base_url)
    except Exception:  # noqa: BLE001
        return False
    return api.port == own.port and api.hostname in ('127.0.0.1', 'localhost', own.hostname)


async def project_cards() -> None:
    ui.add_css(CARD_CSS)
    store = ProjectsStore(connection.client())
    box = ui.row().classes('w-full gap-4')
    cards: dict[str, ProjectCard] = {}
    recent: dict[str, list[dict]] = {}  # project id -> its newest finished runs, for the sparklines
    form_posts = _form_posts_reach_api()
    operator = controls_afk(await who_am_i())  # Auto on/off and Reset: the rule the API refuses builders by

    async def load_recent() -> None:
        """Every card's sparkline from one request (GET /history?project=a,b,c), not one per card."""
        try:
            found = await connection.client().recent_runs([c.id for c in store.cards], limit=SPARKLINE_RUNS)
        except ApiError:
            return  # the sparklines keep what they show; the next finished run reads again
        recent.clear()
        recent.update(found)
        for project_id, card in list(cards.items()):
            if not card.element.is_deleted:
                card.show_recent(recent.get(project_id, []))

    refresh_recent = Debounced(load_recent)

    def render() -> None:
        if store.error:
            box.clear()
            cards.clear()
            with box:
                ui.label(store.error).classes('text-negative')
            return
        ids = [c.id for c in store.cards]
        if ids != list(cards) or not ids:  # none: the empty state is drawn (no card list compares unequal to it)
            box.clear()
            cards.clear()
            with box:
                if not ids:
                    ui.label('No projects yet.').classes('opacity-70')
                for view in store.cards:
                    cards[view.id] = ProjectCard(store, view, form_posts=form_posts, operator=operator)
                    cards[view.id].show_recent(recent.get(view.id))
            if recent and set(ids) - set(recent):  # a project appeared: read its runs too
                refresh_recent()
            return
        for view in store.cards:
            cards[view.id].update(view)

    store.listeners.append(render)
    await store.load()
    await load_recent()

    async def on_event(event: dict) -> None:
        if event.get('type') not in ('run', 'project'):
            return
        if is_finish_event(event):
            refresh_recent()
        try:
            await store.refresh()
        except ApiError as exc:  # keep following: the next event or reconnect refreshes again
            log.warning('refreshing project cards failed: %s', exc)
        except Exception:  # noqa: BLE001 - the same, but this one is a bug: keep its traceback
            log.exception('refreshing project cards failed')

    live.follow(on_event, on_reconnect=store.refresh)
