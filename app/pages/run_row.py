"""One row of the runs list, in two lines: its status, id, commit, stages and what can be done (Retry, Stop and,
for an operator on a run waiting for one, Approve); then its parameters, why a queued run waits, who and when."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.pages.afk_review import afk_facts
from app.pages.attributes import attrs
from app.pages.push_facts import commit_facts, push_facts
from app.pages.run_timing import approve_button, cancel_button, timing_bits
from app.pages.stage_strip import row_strip
from app.pages.theme import live_duration, live_relative, status_badge
from app.state.retry_offer import retry_offer, taken_up_text
from app.state.run_timing import approved_text, started_by
from app.state.runs_store import ACTIVE
from app.state.text import shown


def run_row(
    run: dict, *, show_project: bool, on_stop: Any, on_retry: Any, operator: bool = False, extra: Any = None
) -> tuple[ui.element, ui.label, ui.label]:
    """One row of the runs list; returns the card and the labels the list's clock updates. extra(run) draws
    more at the row's start (the bulk selection's checkbox and outcome)."""
    marker = {'data-optimistic': run['optimistic']} if run.get('optimistic') else {'data-run': run['id']}
    with attrs(
        ui.card().tight().classes('w-full rb-row').props('role=listitem'), {**marker, 'data-status': run['status']}
    ) as card:
        # two lines, every row alike: what ran and how it ended, with what can be done about it; then its facts
        with ui.row().classes('w-full items-center gap-x-3 gap-y-1 px-2 pt-1 flex-wrap'):
            if extra is not None:
                extra(run)
            if run.get('optimistic'):
                with ui.row().classes('items-center gap-1 rb-tap'):
                    ui.spinner(size='sm')
                    ui.badge('Submitting…', color='grey-8').classes('text-sm px-2 py-1')
            else:
                status_badge(run['status'])
                ui.link(run['id'], f'/runs/{run["id"]}').classes('font-mono text-sm rb-tap-link')
            commit_facts(run, size='text-sm')  # what it ran: `abc1234 Fix the parser`
            ui.space()
            row_strip(run)
            # the actions keep one width on wide screens, so the rows' stage strips line up
            with ui.row().classes('items-center justify-end gap-1 sm:min-w-[6rem]'):
                if not run.get('optimistic'):
                    approve_button(run, operator=operator)
                    offer = retry_offer(run)
                    if offer.retry:
                        attrs(
                            ui.button('Retry', icon='replay', on_click=lambda r=run: on_retry(r)).props('flat dense'),
                            {'aria-label': f'Retry run {run["id"]}'},
                        ).classes('rb-tap')
                    if offer.taken_up_by:  # its Retry would be refused (409 issue_busy): the newer run is the one
                        ui.link(taken_up_text(run, offer.taken_up_by), f'/runs/{offer.taken_up_by}').classes(
                            'text-xs rb-tap-link'
                        ).props('data-field=issue-taken-up-by')
                    if run['status'] in ACTIVE and run['status'] != 'stopping':
                        attrs(
                            ui.button('Stop', icon='stop', on_click=lambda r=run: on_stop(r)).props(
                                'flat dense color=negative'
                            ),
                            {'aria-label': f'Stop run {run["id"]}'},
                        ).classes('rb-tap')
                    cancel_button(run)
        with ui.row().classes('w-full items-center gap-x-3 gap-y-0 px-2 pb-1 flex-wrap'):
            parts = [
                run.get('project_id') if show_project else None,
                run.get('branch_name'),
                run.get('depth_level'),
                run.get('target_framework'),
                run.get('kind'),
            ]
            ui.label(' · '.join(shown(p) for p in parts if p)).classes('text-sm').props('data-field=params dir=auto')
            if run['status'] == 'queued' and run.get('waiting'):
                ui.label(f'#{run.get("queue_position")} in line · {run["waiting"]}').classes(
                    'text-xs rb-text-caution'
                ).props('data-field=waiting')
            timing_bits(run)  # delayed: when it runs; queued with a TTL: when it expires; why it never started
            if approved := approved_text(run):  # due, or held back by its branch's lock or a limit (timing_bits)
                ui.label(approved).classes('text-xs text-positive').props('data-field=approved')
            push_facts(run, size='text-xs')  # a push or pull-request run: who pushed, the pull request
            afk_facts(run)  # an AFK run: its issue (its pull request above); any run: what its agent spent
            if run.get('retry_of'):
                ui.link(f'retry of {run["retry_of"]}', f'/runs/{run["retry_of"]}').classes('text-xs rb-tap-link')
            if run.get('retried_by'):
                latest = run['retried_by'][-1]
                ui.link(f'retried by {latest}', f'/runs/{latest}').classes('text-xs rb-tap-link').props(
                    'data-field=retried-by'
                )
            # the name alone: the row's kind says push or scheduled, and the row has no room for '(push rules)'
            person = ui.label(started_by(run, through=False)).classes('text-xs opacity-70').props('data-field=by')
            if started_by(run) != person.text:
                person.tooltip(f'by {started_by(run)}')
            started = live_relative(
                ui.label().classes('text-xs opacity-70').props('data-field=started'),
                run.get('started_at') or run.get('created_at'),
            )
            took = live_duration(ui.label().classes('text-xs opacity-70 font-mono').props('data-field=duration'), run)
    return card, started, took
