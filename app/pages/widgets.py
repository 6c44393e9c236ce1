"""Small shared widgets: the CorrelationChip and a confirm dialog."""

from __future__ import annotations

from nicegui import ui


def correlation_chip(correlation_id: str | None, failure: str = '') -> ui.element:
    """Shows the correlation id (and what failed); a click or Enter copies the id."""
    text = correlation_id or 'no correlation id'

    def copy() -> None:
        if correlation_id:
            ui.clipboard.write(correlation_id)
            ui.notify(f'Copied correlation id {correlation_id}', position='bottom', timeout=1500)

    chip = (
        ui.button(on_click=copy)
        .props(
            f'flat dense no-caps outline icon=content_copy aria-label="Copy correlation id {text}" '
            f'data-correlation-id="{correlation_id or ""}"'
        )
        .classes('rb-tap rb-chip')
    )
    with chip:
        ui.label(f'{failure} · ' if failure else '').classes('text-xs')
        ui.label(text).classes('font-mono text-xs')
    chip.tooltip('Copy the correlation id (quote it when reporting the problem)')
    return chip


async def confirm(question: str, *, yes: str = 'Yes', no: str = 'Cancel') -> bool:
    with ui.dialog() as dialog, ui.card().props('role=alertdialog'):
        ui.label(question)
        with ui.row().classes('justify-end w-full'):
            ui.button(no, on_click=lambda: dialog.submit(False)).props('flat').classes('rb-tap')
            ui.button(yes, on_click=lambda: dialog.submit(True), color='negative').classes('rb-tap')
    result = await dialog
    dialog.delete()
    return bool(result)
