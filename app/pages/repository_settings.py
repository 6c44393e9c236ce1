"""The project page's "Repository and credentials" panel: change the repository (a path or a clone URL)
and set, replace or remove its git credentials. The secret field is write-only: a stored secret is never
shown, only whether one is set. The server checks the repository (cloning a remote) before it saves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.widgets import correlation_chip
from app.state import connection
from app.state.repository_form import repository_changes

CHOICES = {'keep': 'Keep as they are', 'none': 'None', 'token': 'HTTPS token', 'ssh_key': 'SSH private key'}


def stored_text(kind: str | None) -> str:
    return f'Stored credentials: {CHOICES.get(kind, kind) if kind else "none"} (never shown again)'


def repository_settings(project: dict[str, Any], on_saved: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    state = {'repository': project['repository']}
    stored = project.get('credentials_kind') if project.get('has_credentials') else None
    with (
        ui.expansion('Repository and credentials', icon='settings')
        .classes('w-full')
        .props('dense data-testid=repository-settings')
    ):
        stored_label = ui.label(stored_text(stored)).classes('text-xs opacity-70')
        stored_label.props('data-testid=stored-credentials')
        repository = ui.input('Repository (path or clone URL)', value=project['repository']).classes('w-full')
        repository.props('data-testid=repository-input spellcheck=false')
        choice = ui.select(CHOICES, label='Credentials', value='keep').classes('w-64')
        choice.props('data-testid=credentials-choice')
        username = ui.input('User name', placeholder='git').classes('w-64').props('data-testid=credentials-username')
        token = ui.input('Token', password=True).classes('w-full').props('data-testid=credentials-token')
        token.props('autocomplete=new-password')
        key = ui.textarea('SSH private key').classes('w-full font-mono').props('data-testid=credentials-key')

        def show_fields() -> None:
            username.set_visibility(choice.value in ('token', 'ssh_key'))
            token.set_visibility(choice.value == 'token')
            key.set_visibility(choice.value == 'ssh_key')

        choice.on_value_change(lambda _: show_fields())
        show_fields()
        result = ui.column().classes('w-full gap-1').props('aria-live=polite data-testid=settings-result')

        async def save() -> None:
            result.clear()
            changes = repository_changes(
                current_repository=state['repository'],
                repository=repository.value or '',
                choice=choice.value,
                username=username.value or '',
                secret=(token.value if choice.value == 'token' else key.value) or '',
            )
            if isinstance(changes, str):
                with result:
                    ui.label(changes).classes('text-sm')
                return
            button.disable()
            try:
                saved = await connection.client().update_project(project['id'], changes)
            except ApiError as exc:
                with result, ui.element('div').classes('w-full rb-banner rb-banner-red').props('role=alert'):
                    ui.label(exc.detail).props('data-testid=settings-error')
                    correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')
                return
            finally:
                button.enable()
            token.value = key.value = ''  # never kept in the page once sent
            state['repository'] = saved['repository']
            stored_label.text = stored_text(saved.get('credentials_kind') if saved.get('has_credentials') else None)
            choice.value = 'keep'
            with result:
                ui.label('Saved.').classes('text-sm text-positive').props('data-testid=settings-saved')
            await on_saved(saved)

        button = ui.button('Save', icon='save', on_click=save).props('data-testid=settings-save').classes('rb-tap')
