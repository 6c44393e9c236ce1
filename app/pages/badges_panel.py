"""The project Settings page's "Badges" panel: the README status and coverage badges (docs/triggers.md, "Badges"),
seen as they are drawn now, with the Markdown to paste and a copy button; operators turn them on, give them new
addresses (the old ones stop working) or turn them off."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import correlation_chip
from app.state import connection


class BadgesPanel:
    def __init__(self, project_id: str, *, readonly: bool) -> None:
        self.project_id, self.readonly = project_id, readonly
        with ui.column().classes('w-full gap-2 mt-4').props('data-testid=badges-panel'):
            ui.label('Badges').classes('text-lg font-medium').props('role=heading aria-level=2')
            ui.label(
                "A README's build and coverage badges for the base branch (add ?branch=NAME for another, "
                '&depth=NAME or &framework=NAME for one kind of run). Their addresses carry a key instead of a '
                'token, so anyone with an address sees those two pictures and nothing else.'
            ).classes('text-xs opacity-80')
            self.body = ui.column().classes('w-full gap-2').props('aria-live=polite data-testid=badges-body')

    async def load(self) -> None:
        try:
            answer = await connection.client().request('GET', f'/projects/{self.project_id}/badges')
        except ApiError as exc:
            self.failed(exc, 'read the badges')
            return
        self.draw(answer.data)

    def draw(self, badges: dict[str, Any], note: str = '') -> None:
        self.body.clear()
        with self.body:
            if note:
                ui.label(note).classes('text-sm text-positive').props('data-testid=badges-said')
            if not badges['enabled']:
                ui.label('Badges are off.').classes('text-sm').props('data-testid=badges-state')
            else:
                with ui.row().classes('items-center gap-2'):
                    # the pictures as a README shows them
                    for kind in ('status', 'coverage'):
                        attrs(
                            ui.element('img').props('height=20'),
                            {'src': badges[kind + '_url'], 'alt': f'{kind} badge', 'data-testid': f'badge-{kind}'},
                        )
                markdown = badges['markdown']
                ui.label(markdown).classes('font-mono text-xs break-all select-all').props(
                    'data-testid=badges-markdown'
                )
                ui.button('Copy Markdown', icon='content_copy', on_click=lambda: ui.clipboard.write(markdown)).props(
                    'flat dense no-caps data-testid=badges-copy'
                ).classes('rb-tap self-start')
            if self.readonly:
                return
            with ui.row().classes('items-center gap-2'):
                label = 'New addresses' if badges['enabled'] else 'Turn badges on'
                ui.button(label, icon='key', on_click=self.renew).props('outline data-testid=badges-new').classes(
                    'rb-tap'
                )
                if badges['enabled']:
                    ui.button('Turn off', icon='block', on_click=self.turn_off).props(
                        'flat color=negative data-testid=badges-off'
                    ).classes('rb-tap')

    async def renew(self) -> None:
        try:
            made = await connection.client().request('POST', f'/projects/{self.project_id}/badges')
        except ApiError as exc:
            self.failed(exc, 'make badge addresses')
            return
        self.draw(made.data, 'New addresses: the earlier ones no longer work.')

    async def turn_off(self) -> None:
        try:
            await connection.client().request('DELETE', f'/projects/{self.project_id}/badges')
        except ApiError as exc:
            self.failed(exc, 'turn the badges off')
            return
        self.draw({'enabled': False}, 'Badges are off: their addresses no longer work.')

    def failed(self, exc: ApiError, doing: str) -> None:
        self.body.clear()
        with self.body, ui.element('div').classes('w-full rb-banner rb-banner-red').props('role=alert'):
            ui.label(f'Could not {doing}: {exc.detail}').props('data-testid=badges-error')
            correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')


async def badges_panel(project_id: str, *, readonly: bool) -> None:
    await BadgesPanel(project_id, readonly=readonly).load()
