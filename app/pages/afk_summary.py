"""The project page's "AFK in the last 24 hours" section (docs/afk.md, "The summary"): what the loop did overnight,
per issue with a link to each run, its cost against the daily cap, when it paused or reached the cap, and where it
stands now. Read from GET /api/projects/{id}/afk/summary (state/afk_summary.py) when the page opens and again when
the project changes; shown when the window holds AFK runs or the loop is on or paused."""

from __future__ import annotations

import asyncio

from nicegui import background_tasks, ui

from app.pages.attributes import attrs
from app.pages.theme import live_relative
from app.state import connection
from app.state.afk_summary import (
    cap_replay_text,
    changes_text,
    claim_text,
    cost_text,
    event_text,
    load,
    loop_state_text,
    money,
    outcome_word,
    outcomes_text,
    pull_request_href,
    run_text,
    untried_text,
)
from app.state.projects_store import ProjectsStore
from app.state.text import shown

WAITING_STATES = ('paused', 'cost_cap', 'launch_failed')
REREAD_SECONDS = 2.0
BAD_OUTCOMES = ('failed', 'timed_out', 'crashed', 'launch_failed')


async def afk_summary_section(project_id: str, *, changes: ProjectsStore | None = None) -> None:
    """`changes`: the project's store the page already follows (afk_controls); each change of it reads the summary
    again, at most once every REREAD_SECONDS, so the loop's state here agrees with the controls above."""

    @ui.refreshable
    async def section() -> None:
        await _summary(project_id)

    await section()
    if changes is None:
        return
    reread_due = False

    async def reread() -> None:
        nonlocal reread_due
        await asyncio.sleep(REREAD_SECONDS)  # a burst of changes (a run's start, its end, the pause) is read once
        reread_due = False
        await section.refresh()

    def changed() -> None:
        nonlocal reread_due
        if not reread_due:
            reread_due = True
            background_tasks.create(reread(), name=f'afk summary of {project_id}')

    changes.listeners.append(changed)


async def _summary(project_id: str) -> None:
    summary, problem = await load(connection.client(), project_id)
    if summary is None:
        ui.label(f'The AFK summary could not be read: {problem}').classes('text-sm text-negative')
        return
    if not summary['runs'] and not summary['auto_enabled'] and not summary['paused']:
        return
    with ui.column().classes('w-full gap-1').props('data-testid=afk-summary'):
        ui.label('AFK in the last 24 hours').classes('text-lg font-medium').props('role=heading aria-level=2')
        ui.label(f'{outcomes_text(summary)} · {cost_text(summary)}').classes('text-sm').props('data-field=summary-runs')
        ui.label(loop_state_text(summary)).classes(
            'text-sm font-bold text-negative' if summary['loop_state'] in WAITING_STATES else 'text-sm'
        ).props('data-field=loop-state')
        if summary['events']:
            with ui.element('ul').classes('text-sm list-none').props('aria-label="What happened to the loop"'):
                for event in summary['events']:
                    with ui.element('li').props('data-field=loop-event'):
                        # as the page's other times: how long ago, kept true by the browser, the moment on hover
                        live_relative(ui.label().classes('inline').props('data-field=loop-event-time'), event['at'])
                        ui.label(f' — {event_text(event)}').classes('inline')
        if replay := cap_replay_text(summary):
            ui.label(replay).classes('text-xs opacity-80').props('data-field=cap-replay')
        if summary['issues']:
            with ui.element('ul').classes('w-full list-none').props('aria-label="Issues the loop worked on"'):
                for issue in summary['issues']:
                    _issue_item(issue)
        ui.label(untried_text(summary)).classes('text-sm').props('data-field=untried')
        for line in summary.get('problems') or []:
            ui.label(shown(line)).classes('text-xs rb-text-caution')


def _issue_item(issue: dict) -> None:
    with attrs(ui.element('li').classes('py-1'), {'data-issue': str(issue['number'])}):
        with ui.row().classes('items-baseline gap-x-2 gap-y-0'):
            ui.label(f'#{issue["number"]}').classes('font-mono text-sm')
            ui.label(shown(issue['title'])).classes('text-sm font-medium').props('dir=auto')
            ui.label(outcome_word(issue['outcome'])).classes(
                'text-sm font-bold ' + ('text-negative' if issue['outcome'] in BAD_OUTCOMES else '')
            ).props('data-field=outcome')
            ui.label(f'now {claim_text(issue)} · {money(issue["cost_usd"])}').classes('text-sm opacity-80')
            changes = changes_text(issue)
            if changes and (href := pull_request_href(issue)):
                ui.link(changes, href, new_tab=True).classes('text-sm rb-tap-link').props('rel=noopener')
            elif changes:
                ui.label(changes).classes('text-sm')
        for run in issue['runs']:
            with ui.row().classes('items-baseline gap-x-2 gap-y-0 pl-6 text-xs'):
                ui.link(run['id'], f'/runs/{run["id"]}').classes('font-mono rb-tap-link').props('data-field=run-link')
                ui.label(shown(run_text(run)))
