"""A project's AFK loop controls and states, as the dashboard's card and the project page both show them: the Auto
chip, the status, the ⋯ menu (Start AFK run; for operators Auto on/off and Reset when held), the paused banner with
the causes of the failures that paused it and who may Reset, the banner of a loop held by its daily cost cap or a
launch failure, Backlog and Parked (N). Built from a ProjectsStore's CardView and updated in place from it."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from nicegui import background_tasks, context, ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.backlog import open_backlog, open_parked
from app.pages.theme import iso_utc
from app.pages.widgets import confirm, menu_item, notify_error
from app.state import connection, live
from app.state.me import controls_afk, who_am_i
from app.state.projects_store import (
    CardView,
    ProjectsStore,
    card_menu,
    held_banner,
    loop_status,
    reset_question,
    shows_auto_chip,
    who_resets_text,
)

AFK_CSS = """
.rb-form-button { padding: 0 16px; border-radius: 4px; background: #c62828; color: #fff; font-weight: 600;
  text-transform: uppercase; letter-spacing: .05em; border: 0; cursor: pointer; min-height: 44px; min-width: 44px; }
.rb-form-button:focus-visible { outline: 2px solid #1976d2; outline-offset: 2px; }
.rb-paused-banner { background: #ffebee; color: #b71c1c; }
.body--dark .rb-paused-banner { background: rgba(229, 57, 53, .18); color: #ffcdd2; }
.rb-launch-banner { background: #fff3e0; color: #8a3c00; }
.body--dark .rb-launch-banner { background: rgba(255, 152, 0, .18); color: #ffe0b2; }
"""
log = logging.getLogger(__name__)
# fills under white text with at least 4.5:1 (issue 42)
STATUS_COLOR = {'paused': 'red-9', 'running': 'blue-9', 'queued': 'grey-8', 'waiting': 'indigo-9', 'idle': 'grey-8'}
# a sweep that launched nothing sends no event: the status is read again this long after the moment it named
SWEEP_REREAD = timedelta(seconds=2)


def paused_text(failures: int) -> str:
    return f'Auto paused · {failures} fail' + ('' if failures == 1 else 's')


# The plain Reset form, on a page connected to its server, asks the page's own confirmation (AfkControls.reset) instead
# of posting; without the connection (what the form is there for) the browser asks with the same question.
RESET_FORM_SUBMIT = """(event) => {
  event.preventDefault();
  if (window.socket && window.socket.connected) emit();
  else if (window.confirm(event.target.dataset.confirm)) event.target.submit();
}"""


def reset_form(project_id: str, csrf_token: str, question: str = '') -> str:
    """A plain HTML form: Reset works without JavaScript (the server answers 303 back to the page it came from);
    `question`: what a page with JavaScript asks first (RESET_FORM_SUBMIT)."""
    return (
        f'<form method="post" action="/afk/reset/{html.escape(project_id)}" style="margin:0" '
        f'data-confirm="{html.escape(question)}">'
        f'<input type="hidden" name="csrf_token" value="{html.escape(csrf_token)}">'
        f'<button type="submit" class="rb-tap rb-form-button" data-reset-form="{html.escape(project_id)}">'
        f'Reset</button></form>'
    )


def form_posts_reach_api() -> bool:
    """The plain Reset form posts to this page's own origin: only useful when this server hosts the API."""
    try:
        own = context.client.request.url
        api = urlsplit(connection.client().base_url)
    except Exception:  # noqa: BLE001
        return False
    return api.port == own.port and api.hostname in ('127.0.0.1', 'localhost', own.hostname)


def follow_project_changes(
    store: ProjectsStore, *, project: str | None = None, on_event: Callable[[dict], None] | None = None
) -> None:
    """Re-read the store on each run or project change (of `project`, else of every project the person sees), and
    after a reconnect. on_event(event) sees each such change first."""

    async def changed(event: dict) -> None:
        if event.get('type') not in ('run', 'project'):
            return
        if on_event is not None:
            on_event(event)
        try:
            await store.refresh()
        except ApiError as exc:  # keep following: the next event or reconnect refreshes again
            log.warning('refreshing the AFK controls failed: %s', exc)
        except Exception:  # noqa: BLE001 - the same, but this one is a bug: keep its traceback
            log.exception('refreshing the AFK controls failed')

    live.follow(changed, project=project, on_reconnect=store.refresh)


class AfkControls:
    """One project's AFK controls and states. The caller places each part where its layout wants it (auto_chip,
    status, menu, banners, buttons: every one, before the first update), then update(view) redraws them all."""

    def __init__(self, store: ProjectsStore, project_id: str, *, form_posts: bool, operator: bool) -> None:
        self.store, self.id, self.form_posts, self.operator = store, project_id, form_posts, operator
        self.form_token: str | None = None
        self.form: ui.html | None = None
        self.sweep_due: datetime | None = None  # the next sweep the status names, until it was read again after it
        self.sweep_reread: datetime | None = None

    def auto_chip(self) -> None:
        self.auto_badge = ui.badge().classes('text-sm px-2 py-1')

    def status(self) -> None:
        # the text may wrap on a narrow card (a badge keeps it on one line by default)
        self.status_badge = ui.badge().classes('text-sm px-2 py-1 whitespace-normal')
        self.running = ui.label().classes('text-sm')
        ui.timer(1.0, self._reread_after_sweep)

    async def _reread_after_sweep(self) -> None:
        """Once the sweep a "Waiting …; next launch in 40 s" names is past (it launched, or found nothing it could
        take), what the loop does then is read again, once per sweep named; a launch's run event usually redraws it
        first."""
        due = self.sweep_due
        if due is None or datetime.now(UTC) < due + SWEEP_REREAD:
            return
        self.sweep_due, self.sweep_reread = None, due
        await self.store.refresh()

    def menu(self, label: str | None = None) -> None:
        """The ⋯ menu: an icon named "Project actions" on a card; where there is room, a button saying `label`."""
        button = self.menu_button = ui.button(label or '', icon='more_horiz').props('flat').classes('rb-tap')
        if label is None:
            button.props('round aria-label="Project actions"')
        with button:
            with ui.menu().props('data-menu=afk'):
                # menu items (role menuitem, as a menu's children must be; Quasar's QItem says listitem)
                with menu_item(self.start_afk) as self.start_item:
                    self.start_label = ui.item_section()
                # opened, the menu puts the focus here (QMenu focuses [autofocus]): the item always enabled
                # (a builder has no Auto item: the menu itself takes the focus)
                with menu_item(self.toggle_auto).props('autofocus') as self.auto_item:
                    self.auto_label = ui.item_section()
                self.menu_separator = ui.separator()
                with ui.item().classes('text-negative').props('role=menuitem aria-disabled=true') as self.menu_paused:
                    self.menu_paused_label = ui.item_section()
                with menu_item(self.reset_from_menu).classes('text-negative') as self.reset_item:
                    ui.item_section('Reset')

    def banners(self) -> None:
        with (
            ui.column()
            .classes('w-full gap-1 p-2 rounded rb-paused-banner')
            .props('data-paused-banner') as self.paused_banner
        ):
            self.banner_title = ui.label().classes('font-bold')
            self.causes = ui.column().classes('gap-0 text-xs')
            # the plain Reset form's submit, listened to before the form is there (a listener added to an element
            # already shown has the browser draw it again)
            self.form_box = ui.element('div').on('submit', self.reset, js_handler=RESET_FORM_SUBMIT)
        self.launch_banner = (
            ui.label().classes('w-full p-2 rounded text-sm rb-launch-banner').props('data-launch-banner role=status')
        )

    def buttons(self) -> None:
        ui.button('Backlog', icon='list', on_click=self.backlog).props('outline').classes('rb-tap')
        self.parked_button = ui.button(on_click=self.parked).props('outline color=negative').classes('rb-tap')

    def update(self, view: CardView) -> None:
        project = view.project
        self.view = view
        auto = bool(project.get('auto_enabled'))
        self.auto_badge.text = 'Auto' if auto else 'Auto off'
        attrs(self.auto_badge, {'color': 'green-9' if auto else 'grey-8', 'data-auto': 'on' if auto else 'off'})
        self.auto_badge.set_visibility(shows_auto_chip(view))
        status = loop_status(view)
        self.status_badge.text = status.said(datetime.now(UTC))
        attrs(self.status_badge, {'color': STATUS_COLOR[status.key], 'data-card-status': status.key})
        if status.next_at is not None:  # the browser counts it down (assets/live-time.js)
            moment = status.next_at.isoformat()
            attrs(self.status_badge, {'data-rb-until': iso_utc(moment), 'data-rb-prefix': status.next_prefix})
            attrs(self.status_badge, {'title': status.title or ''})
        else:
            self.status_badge.props(remove='data-rb-until data-rb-prefix title')
        self.sweep_due = status.next_at if status.next_at != self.sweep_reread else None
        self.running.text = f'{view.running} running' + (
            f' · {project["active_runs"] - view.running} queued' if project.get('active_runs', 0) > view.running else ''
        )
        ready = view.ready
        self.start_label.text = f'Start AFK run ({ready if ready is not None else "?"} ready)'
        self.start_item.set_enabled(ready is None or ready > 0)
        self.auto_label.text = f'Auto AFK runs: {"On" if auto else "Off"}'
        paused_line = paused_text(view.failures)
        menu = card_menu(view, operator=self.operator)  # a builder's: no Auto on/off, no Reset (403 for them)
        self.auto_item.set_visibility(menu.auto)
        for element in (self.menu_separator, self.menu_paused):
            element.set_visibility(menu.paused_line)
        self.menu_paused_label.text = paused_line
        self.reset_item.set_visibility(menu.reset)
        self.paused_banner.set_visibility(view.paused)
        self.banner_title.text = paused_line + ('' if auto else ' (auto is off)')
        self.causes.clear()
        with self.causes:
            for cause in view.failure_causes:
                ui.label(cause)
            if who := who_resets_text(view, operator=self.operator):
                ui.label(who).props('data-testid=paused-who-resets')
        blocked = held_banner(view, datetime.now(UTC), may_reset=self.operator)  # Reset: said to those who may
        self.launch_banner.text = blocked or ''
        self.launch_banner.set_visibility(blocked is not None)
        parked = int(project.get('parked_count') or 0)
        self.parked_button.text = f'Parked ({parked})'
        self.parked_button.set_visibility(parked > 0)
        if view.paused and self.form_posts and self.operator and self.form_token is None:  # operators' form
            self.form_token = ''  # loading; update() also runs from live events, outside any slot
            background_tasks.create(self._load_form(), name='reset-form-token')
        elif self.form is not None and self.form_token:
            self.form.content = reset_form(self.id, self.form_token, reset_question(view, datetime.now(UTC)))

    async def _load_form(self) -> None:
        self.form_token = await self.store.form_token(self.id)
        if self.form_token and not self.form_box.is_deleted:
            self.form_box.clear()
            with self.form_box:
                question = reset_question(self.view, datetime.now(UTC))
                self.form = ui.html(reset_form(self.id, self.form_token, question), sanitize=False)

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
        """Reset lets a held loop launch AFK runs again: asked first, Cancel focused (widgets.confirm)."""
        if not await confirm(reset_question(self.view, datetime.now(UTC)), yes='Reset', color='positive'):
            return
        await self._act(lambda: self.store.reset(self.id), 'reset the project')

    async def reset_from_menu(self) -> None:
        await self.reset()
        # closed, the confirmation gives the focus back to what had it when it opened: the menu's item, gone with the
        # menu by then; the ⋯ button the menu came from takes it instead
        button = self.menu_button
        if not button.is_deleted:
            button.client.run_javascript(f'getHtmlElement({button.id})?.focus()')

    async def backlog(self) -> None:
        await open_backlog(self.view.project, on_change=self.store.refresh)

    async def parked(self) -> None:
        await open_parked(self.store, self.view.project)


async def afk_controls_section(project_id: str) -> ProjectsStore:
    """The project page's AFK section: the card's controls and states for this one project, following its
    changes live; returns the store that follows them (the page's other AFK parts listen to it too)."""
    ui.add_css(AFK_CSS)
    store = ProjectsStore(connection.client(), project_id=project_id)
    operator = controls_afk(await who_am_i())  # Auto on/off and Reset: the rule the API refuses builders by
    controls = AfkControls(store, project_id, form_posts=form_posts_reach_api(), operator=operator)
    with ui.column().classes('w-full gap-2').props('data-testid=afk-controls'):
        ui.label('AFK auto-loop').classes('text-lg font-medium').props('role=heading aria-level=2')
        # hidden until the project was read: the page may be sent to the browser while it is read (a part awaits the
        # browser's connection), and the controls have no words before their first update
        with ui.column().classes('w-full gap-2') as shown:
            with ui.row().classes('w-full items-center gap-2'):
                controls.auto_chip()
                controls.status()
                controls.menu('AFK actions')  # a card's ⋯, named: the page has room
                controls.buttons()
            controls.banners()
        shown.set_visibility(False)
        error = ui.label().classes('text-negative')

    def render() -> None:
        error.text = store.error or ''
        error.set_visibility(store.error is not None)
        view = store.card(project_id)
        shown.set_visibility(view is not None)
        if view is not None:
            controls.update(view)

    store.listeners.append(render)
    await store.load()
    follow_project_changes(store, project=project_id)
    return store
