"""The project Settings page's "Variables and secrets" panel: what the project's runs receive in their
environment, which of them only the protected branches' runs receive, and the sandbox's network. A secret's value
is write-only: once saved it is never shown again, only its name, who set it and when. Builders see the names;
operators add, replace and remove."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import correlation_chip, list_note
from app.state import connection

NETWORKS = {'default': "The host's network (default)", 'none': 'No network (a private loopback only)'}


def _when(stamp: str | None) -> str:
    return (stamp or '')[:16].replace('T', ' ')


Saved = Callable[[dict[str, Any]], None]


def variables_panel(project: dict[str, Any], *, readonly: bool, saved: Saved | None = None) -> None:
    """`saved`: told the project as the server answers each change of the protected branches, approvals or network
    made here (the page's form then knows the edit version its own page moved)."""
    project_id = project['id']
    told = saved or (lambda _: None)
    with ui.column().classes('w-full gap-2 mt-4').props('data-testid=variables-panel'):
        ui.label('Variables and secrets').classes('text-lg font-medium').props('role=heading aria-level=2')
        ui.label(
            'Runs receive these as environment variables. Secret values are encrypted, never shown again, and '
            'replaced by *** wherever a run prints them. Protected ones go only to runs of the protected branches '
            "(never to a pull request's run)."
        ).classes('text-sm')
        rows = ui.column().classes('w-full gap-0').props('role=list data-testid=variables-list')
        result = ui.column().classes('w-full gap-1').props('aria-live=polite data-testid=variables-result')

        def failed(exc: ApiError, doing: str) -> None:
            result.clear()
            with result, ui.element('div').classes('w-full rb-banner rb-banner-red').props('role=alert'):
                ui.label(f'Could not {doing}: {exc.detail}').props('data-testid=variables-error')
                correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')

        def said(text: str) -> None:
            result.clear()
            with result:
                ui.label(text).classes('text-sm text-positive').props('data-testid=variables-saved')

        async def refresh() -> None:
            client = connection.client()
            try:
                items = [
                    *(await client.list_variables(project_id, 'variables')),
                    *(await client.list_variables(project_id, 'secrets')),
                ]
            except ApiError as exc:
                failed(exc, 'list the variables')
                return
            rows.clear()
            with rows:
                if not items:
                    list_note('None yet.')
                for item in sorted(items, key=lambda i: i['name']):
                    kind = 'secrets' if item['secret'] else 'variables'
                    with attrs(
                        ui.row().classes('w-full items-center gap-3 rb-row px-2').props('role=listitem'),
                        {'data-variable': item['name']},
                    ):
                        ui.label(item['name']).classes('font-mono font-medium')
                        if item.get('protected'):
                            ui.badge('protected', color='grey-8').props('data-testid=variable-protected')
                        if item['secret']:
                            ui.label('secret · ********').classes('text-sm')
                        else:
                            ui.label(item.get('value') or '').classes('font-mono text-sm').props('dir=auto')
                        ui.space()
                        ui.label(f'set by {item.get("set_by") or "?"} · {_when(item["updated_at"])}').classes('text-xs')
                        if not readonly:
                            attrs(
                                ui.button('Remove', on_click=lambda _, n=item['name'], k=kind: remove(n, k)).props(
                                    'flat dense'
                                ),
                                {'data-testid': f'remove-{item["name"]}'},
                            ).classes('rb-tap')

        async def remove(name: str, kind: str) -> None:
            try:
                await connection.client().remove_variable(project_id, kind, name)
            except ApiError as exc:
                failed(exc, f'remove {name}')
                return
            said(f'Removed {name}.')
            await refresh()

        if not readonly:
            with ui.row().classes('w-full items-end gap-2'):
                name = ui.input('Name', placeholder='DEPLOY_TOKEN').classes('w-56')
                name.props('data-testid=variable-name spellcheck=false')
                value = ui.input('Value', password=True, password_toggle_button=True).classes('grow')
                value.props('data-testid=variable-value autocomplete=new-password')
                secret = ui.checkbox('Secret', value=True).props('data-testid=variable-secret')
                protected = ui.checkbox('Protected', value=False).props('data-testid=variable-protected-choice')
                protected.tooltip('Given only to runs of the protected branches')

                async def add() -> None:
                    kind = 'secrets' if secret.value else 'variables'
                    try:
                        saved = await connection.client().set_variable(
                            project_id, kind, (name.value or '').strip(), value.value or '', protected=protected.value
                        )
                    except ApiError as exc:
                        failed(exc, 'save it')
                        return
                    value.value = ''  # never kept in the page once sent
                    name.value = ''
                    said(f'Saved {saved["name"]}.')
                    await refresh()

                ui.button('Save', icon='save', on_click=add).props('data-testid=variable-save').classes('rb-tap')

            with ui.row().classes('w-full items-end gap-2'):
                branches = (
                    ui.input(
                        'Protected branches',
                        value=', '.join(project.get('protected_branches') or []),
                        placeholder=project.get('base_branch') or 'main',
                    )
                    .classes('grow')
                    .props('data-testid=protected-branches spellcheck=false')
                )
                branches.tooltip('Globs, comma-separated (release/*, !release/old); empty: the base branch alone')

                async def save_branches() -> None:
                    patterns = [part.strip() for part in (branches.value or '').split(',') if part.strip()]
                    try:
                        answer = await connection.client().update_project(
                            project_id, {'protected_branches': patterns or None}
                        )
                    except ApiError as exc:
                        failed(exc, 'save the protected branches')
                        return
                    told(answer)
                    said(
                        f'Protected branches: {", ".join(patterns)}.'
                        if patterns
                        else f'Protected branch: {project.get("base_branch") or "main"} (the base branch).'
                    )

                approval = ui.checkbox(
                    "Builders' runs of these branches wait for an operator's approval",
                    value=bool(project.get('approval_required')),
                ).props('data-testid=approval-required')

                async def approval_changed() -> None:
                    try:
                        answer = await connection.client().update_project(
                            project_id, {'approval_required': approval.value}
                        )
                    except ApiError as exc:
                        failed(exc, 'change the approvals')
                        return
                    told(answer)
                    said(
                        "A builder's run of a protected branch now waits for an operator's approval."
                        if approval.value
                        else 'Runs of protected branches no longer wait for an approval.'
                    )

                approval.on_value_change(lambda _: approval_changed())
                ui.button('Save', icon='save', on_click=save_branches).props(
                    'outline data-testid=protected-branches-save aria-label="Save the protected branches"'
                ).classes('rb-tap')

            network = ui.select(NETWORKS, label='Run network', value=project.get('network') or 'default')
            network.classes('w-96').props('data-testid=network-choice')

            async def network_changed() -> None:
                try:
                    answer = await connection.client().update_project(project_id, {'network': network.value})
                except ApiError as exc:
                    failed(exc, 'change the network')
                    return
                told(answer)
                said(f'Runs start with {NETWORKS[network.value].lower()} from now on.')

            network.on_value_change(lambda _: network_changed())
        ui.timer(0.01, refresh, once=True)
