"""Project cards on the dashboard: name, last run, runs awaiting approval, next schedule, the sparkline, and the
project's AFK controls and states (pages/afk_controls.py, shared with the project page). Updated in place from live
change events."""

from __future__ import annotations

from datetime import UTC, datetime

from nicegui import ui

from app.client import ApiError
from app.models.vocabulary import AWAITING_APPROVAL
from app.pages.afk_controls import AFK_CSS, AfkControls, follow_project_changes, form_posts_reach_api
from app.pages.attributes import attrs
from app.pages.charts import Debounced
from app.pages.run_timing import show_next_schedule
from app.pages.theme import iso_utc, relative, status_badge
from app.state import connection
from app.state.history import SPARKLINE_RUNS, is_finish_event, sparkline_svg
from app.state.me import controls_afk, who_am_i
from app.state.projects_store import (
    CardView,
    ProjectsStore,
    awaiting_approval_text,
)
from app.state.run_timing import parse, start_fact, until_text
from app.state.text import shown

CARD_CSS = """
.rb-spark-succeeded { fill: #2e7d32; } .rb-spark-failed { fill: #c62828; } .rb-spark-stopped { fill: #8a8a8a; }
.body--dark .rb-spark-succeeded { fill: #66bb6a; } .body--dark .rb-spark-failed { fill: #ef5350; }
.body--dark .rb-spark-stopped { fill: #9e9e9e; }
"""


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
        self.id = view.id
        self.afk = AfkControls(store, view.id, form_posts=form_posts, operator=operator)
        with attrs(ui.card().classes('w-full sm:w-96 gap-2'), {'data-project': view.id}) as self.element:
            with ui.row().classes('w-full items-center no-wrap gap-2'):
                self.name = ui.link('', f'/projects/{view.id}').classes('text-lg font-bold grow rb-tap-link')
                self.name.props('data-field=project-name')
                self.afk.auto_chip()
                self.afk.menu()
            with ui.row().classes('w-full items-center gap-2'):
                self.afk.status()
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
            self.afk.banners()
            with ui.row().classes('w-full gap-2'):
                ui.button('Run', icon='play_arrow', on_click=lambda: ui.navigate.to(f'/projects/{self.id}')).classes(
                    'rb-tap'
                )
                self.afk.buttons()
        self.update(view)

    def update(self, view: CardView) -> None:
        project = view.project
        self.name.text = shown(project['name'])
        self.afk.update(view)
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

    def show_recent(self, runs: list[dict] | None) -> None:
        """The sparkline of the project's newest finished runs (None: not read yet)."""
        if runs is None:
            return
        self.sparkline.content = sparkline_svg(runs) if runs else ''
        self.recent_row.set_visibility(bool(runs))


async def project_cards() -> None:
    ui.add_css(AFK_CSS + CARD_CSS)
    store = ProjectsStore(connection.client())
    box = ui.row().classes('w-full gap-4')
    cards: dict[str, ProjectCard] = {}
    recent: dict[str, list[dict]] = {}  # project id -> its newest finished runs, for the sparklines
    form_posts = form_posts_reach_api()
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

    def on_change(event: dict) -> None:
        if is_finish_event(event):
            refresh_recent()

    follow_project_changes(store, on_event=on_change)
