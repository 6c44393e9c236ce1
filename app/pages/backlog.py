"""Dialogs of a project card: the local backlog (add, edit, close/reopen) and the parked issues
(Requeue, Discard). Built from app.client calls only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import error_notice, notify_error
from app.state import connection
from app.state.projects_store import ProjectsStore
from app.state.text import shown

READY = 'ready-for-agent'


async def open_backlog(project: dict, on_change: Callable[[], Awaitable[None]] | None = None) -> None:
    client = connection.client()
    read_only = (project.get('issue_source') or {}).get('kind', 'local') != 'local'
    with ui.dialog() as dialog, attrs(ui.card().classes('w-full max-w-2xl'), {'data-backlog': project['id']}):
        with ui.row().classes('w-full items-center'):
            ui.label(f'Backlog · {project["name"]}').classes('text-lg font-bold')
            ui.space()
            ui.button(icon='close', on_click=dialog.close).props('flat round aria-label=Close').classes('rb-tap')
        rows = ui.column().classes('w-full gap-1')
        if read_only:
            ui.label('Issues come from the forge (open, labelled ready-for-agent); edit them there.').classes(
                'text-sm opacity-70'
            )
        else:
            with ui.column().classes('w-full gap-1'):
                title = ui.input('Title').classes('w-full').props('maxlength=300')
                body = ui.textarea('Body').classes('w-full').props('autogrow')
                ready = ui.checkbox('Ready for an agent (label ready-for-agent)', value=True)
                ui.button('Add issue', icon='add', on_click=lambda: add()).classes('rb-tap')

    async def render() -> None:
        issues = await _load_into(rows, lambda: client.list_issues(project['id']), 'No issues yet.')
        with rows:
            for issue in issues:
                with attrs(ui.row().classes('w-full items-center gap-2 no-wrap'), {'data-issue': str(issue['number'])}):
                    ui.label(f'#{issue["number"]}').classes('font-mono text-sm')
                    ui.label(shown(issue['title'])).classes(
                        'grow' + (' line-through opacity-60' if issue['state'] == 'closed' else '')
                    )
                    if issue['ready']:
                        ui.badge('ready', color='green-9')
                    if issue.get('claim'):
                        ui.badge(issue['claim']['state'], color='grey-7')
                        # still open though its AFK run is done (a forge's pull request closed unmerged) or it was
                        # discarded: the loop passes it over until a person puts it back
                        if issue['state'] == 'open' and issue['claim']['state'] in ('done', 'discarded'):
                            attrs(
                                ui.button('Requeue', on_click=lambda i=issue: requeue(i)).props('flat dense'),
                                {'aria-label': f'Requeue issue #{issue["number"]}'},
                            ).classes('rb-tap')
                    if not read_only:
                        ui.button(icon='edit', on_click=lambda i=issue: edit(i)).props(
                            'flat round aria-label=Edit'
                        ).classes('rb-tap')
                        closing = issue['state'] == 'open'
                        # "Close issue", not "Close": the dialog's own close is beside it
                        button = (
                            ui.button(
                                'Close issue' if closing else 'Reopen',
                                on_click=lambda i=issue, c=closing: set_state(i, 'closed' if c else 'open'),
                            )
                            .props('flat')
                            .classes('rb-tap')
                        )
                        attrs(button, {'aria-label': f'{"Close" if closing else "Reopen"} issue #{issue["number"]}'})

    async def changed() -> None:
        await render()
        if on_change is not None:
            await on_change()

    async def add() -> None:
        if not (title.value or '').strip():
            ui.notify('A title is needed', type='warning')
            return
        try:
            await client.add_issue(
                project['id'],
                {'title': title.value.strip(), 'body': body.value or '', 'labels': [READY] if ready.value else []},
            )
        except ApiError as exc:
            notify_error(exc, 'add the issue')
            return
        title.value, body.value = '', ''
        await changed()

    async def requeue(issue: dict) -> None:
        try:
            await client.requeue_issue(project['id'], issue['number'])
        except ApiError as exc:
            notify_error(exc, f'requeue issue #{issue["number"]}')
        await changed()

    def tell_if_stopped(before: dict, after: dict) -> None:
        was = before.get('claim') or {}
        now = after.get('claim') or {}
        if was.get('state') == 'active' and now.get('state') == 'released' and now.get('run_id') == was.get('run_id'):
            ui.notify(f'Stopped its AFK run {now["run_id"]}: {now["cause"]}.', type='warning')

    async def set_state(issue: dict, state: str) -> None:
        try:
            tell_if_stopped(issue, await client.update_issue(project['id'], issue['number'], {'state': state}))
        except ApiError as exc:
            notify_error(exc, f'change issue #{issue["number"]}')
        await changed()

    async def edit(issue: dict) -> None:
        with ui.dialog() as editor, ui.card().classes('w-full max-w-xl'):
            ui.label(f'Edit #{issue["number"]}').classes('text-lg font-bold')
            new_title = ui.input('Title', value=issue['title']).classes('w-full')
            new_body = ui.textarea('Body', value=issue['body']).classes('w-full').props('autogrow')
            is_ready = ui.checkbox('Ready for an agent', value=READY in issue['labels'])

            async def save() -> None:
                labels = [lb for lb in issue['labels'] if lb != READY] + ([READY] if is_ready.value else [])
                try:
                    updated = await client.update_issue(
                        project['id'],
                        issue['number'],
                        {'title': new_title.value, 'body': new_body.value or '', 'labels': labels},
                    )
                except ApiError as exc:
                    notify_error(exc, f'save issue #{issue["number"]}')
                    return
                editor.close()
                tell_if_stopped(issue, updated)
                await changed()

            with ui.row():
                ui.button('Save', on_click=save).classes('rb-tap')
                ui.button('Cancel', on_click=editor.close).props('flat').classes('rb-tap')
        editor.open()

    await render()
    dialog.open()


async def open_parked(store: ProjectsStore, project: dict) -> None:
    with ui.dialog() as dialog, attrs(ui.card().classes('w-full max-w-2xl'), {'data-parked': project['id']}):
        with ui.row().classes('w-full items-center'):
            ui.label(f'Parked issues · {project["name"]}').classes('text-lg font-bold')
            ui.space()
            ui.button(icon='close', on_click=dialog.close).props('flat round aria-label=Close').classes('rb-tap')
        ui.label('Their AFK run failed or was stopped; they are not retried until requeued.').classes(
            'text-sm opacity-70'
        )
        rows = ui.column().classes('w-full gap-1')

    async def render() -> None:
        parked = await _load_into(rows, lambda: store.parked(project['id']), 'Nothing parked.')
        with rows:
            for claim in parked:
                with attrs(
                    ui.row().classes('w-full items-center gap-2 no-wrap'),
                    {'data-parked-issue': str(claim['issue_number'])},
                ):
                    with ui.column().classes('grow gap-0'):
                        ui.label(f'#{claim["issue_number"]} {shown(claim["issue_title"])}').props('dir=auto')
                        if claim.get('cause'):
                            ui.label(claim['cause']).classes('text-xs text-negative')
                    ui.button('Requeue', on_click=lambda c=claim: act('requeue', c)).classes('rb-tap')
                    ui.button('Discard', on_click=lambda c=claim: act('discard', c)).props('flat').classes('rb-tap')

    async def act(action: str, claim: dict) -> None:
        try:
            await getattr(store, action)(project['id'], claim['issue_number'])
        except ApiError as exc:
            notify_error(exc, f'{action} issue #{claim["issue_number"]}')
        await render()

    await render()
    dialog.open()


async def _load_into(rows: ui.column, load: Callable[[], Awaitable[list[dict]]], empty_text: str) -> list[dict]:
    """Clear `rows` and fetch its items; the error, or `empty_text`, is shown there instead of items."""
    try:
        items = await load()
    except ApiError as exc:
        error_notice(rows, exc, 'load the issues')
        return []
    rows.clear()
    if not items:
        with rows:
            ui.label(empty_text).classes('opacity-70')
    return items
