"""Small shared widgets: the CorrelationChip, a confirm dialog, a menu's item, a trigger's variables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import binding, ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.state.error_text import in_words, technical
from app.state.markdown import fenced_code
from app.state.text import shown


def correlation_chip(correlation_id: str | None, failure: str = '', *, details: str = '') -> ui.element:
    """Shows the correlation id (and what failed); a click or Enter copies the id. `details`: the technical
    part of an error, kept here rather than in the message a person reads."""
    text = correlation_id or 'no correlation id'
    shows = f'{failure} · {text}' if failure else text  # its name starts with what it shows (label in name)

    def copy() -> None:
        if correlation_id:
            ui.clipboard.write(correlation_id)
            ui.notify(f'Copied correlation id {correlation_id}', position='bottom', timeout=1500)

    chip = attrs(
        ui.button(on_click=copy).props('flat dense no-caps outline icon=content_copy').classes('rb-tap rb-chip'),
        {'aria-label': f'{shows}: copy the correlation id', 'data-correlation-id': correlation_id or ''},
    )
    with chip:
        ui.label(f'{failure} · ' if failure else '').classes('text-xs')
        ui.label(text).classes('font-mono text-xs')
    hint = 'Copy the correlation id (quote it when reporting the problem)'
    chip.tooltip(f'{details}. {hint}' if details else hint)
    if details:
        attrs(chip, {'data-details': details})
    return chip


def reload_button(on_click: Callable[[], Awaitable[None]], testid: str) -> ui.button:
    """Reload, beside the words of an edit refused because someone else changed the thing since the form read it
    (409 edit_conflict; state/edit_conflict.py): it fills the form with the thing as it is now, and its version."""
    button = ui.button('Reload', icon='refresh', on_click=on_click).props('outline dense no-caps')
    return attrs(button.classes('rb-tap'), {'data-testid': testid})


def variable_chips(variables: dict[str, str], testid: str) -> None:
    """A trigger's own variables (a run's, a batch's, a schedule's runs'; docs/pipelines.md) as NAME=value chips
    after a dim "variables"."""
    with attrs(ui.row().classes('gap-1 items-baseline'), {'data-testid': testid}):
        ui.label('variables').classes('opacity-60')
        for name, value in variables.items():
            ui.label(shown(f'{name}={value}')).classes('font-mono text-xs rounded border border-slate-300 px-1').props(
                'dir=auto data-field=variable'
            )


def list_note(text: str) -> ui.label:
    """What an empty list (an element with role=list) says instead of rows: a list item itself, since a list may
    hold nothing else (WAI-ARIA; axe's aria-required-children)."""
    return ui.label(text).classes('text-sm opacity-70').props('role=listitem')


def menu_item(on_click: Callable[..., Any]) -> ui.menu_item:
    """An item of a `ui.menu`: a menuitem to assistive technology (Quasar's QItem says listitem, which a menu may not
    hold), a 44 px tap target, reached with the arrow keys as well as Tab inside the open menu."""
    return ui.menu_item(on_click=on_click).classes('rb-tap').props('role=menuitem')


def error_notice(box: ui.element, error: ApiError, doing: str) -> None:
    """Replace `box`'s content with the failure in words and the chip with its details."""
    box.clear()
    with box, ui.row().classes('items-center gap-2 flex-wrap').props('role=alert data-testid=error-notice'):
        ui.label(in_words(error, doing)).classes('text-negative text-sm')
        correlation_chip(error.correlation_id, details=technical(error))


def notify_error(error: ApiError, doing: str) -> None:
    """A toast with the failure in words; the correlation id as its caption."""
    caption = f'correlation id {error.correlation_id}' if error.correlation_id else None
    ui.notify(in_words(error, doing), type='negative', position='bottom', multi_line=True, caption=caption)


async def confirm(question: str, *, yes: str = 'Yes', no: str = 'Cancel', color: str = 'negative') -> bool:
    """`color`: of the Yes button, negative for what ends or undoes something (Stop), positive for what lets it go."""
    # in the page's layout, not beside the button that asked: a live redraw of the button's row (the run page's
    # header when its run changes) would delete the dialog under the person's pointer
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().props('role=alertdialog'):
        ui.label(question)
        with ui.row().classes('justify-end w-full'):
            # the focus goes into the dialog, on the harmless answer (Quasar's dialog focuses [autofocus]); closed,
            # the dialog gives it back to what had it
            ui.button(no, on_click=lambda: dialog.submit(False)).props('flat autofocus').classes('rb-tap')
            ui.button(yes, on_click=lambda: dialog.submit(True), color=color).classes('rb-tap')
    result = await dialog
    if not dialog.is_deleted and not dialog.client.is_deleted:  # the tab may have closed while it asked
        dialog.delete()
    return bool(result)


def code_block(text: str, *, language: str | None, name: str, max_height: str | None = None) -> ui.code:
    """ui.code as everyone can use it: its scrolling box takes the keyboard focus (arrow keys scroll it) and is
    named `name`, its copy button says what it does (NiceGUI leaves both unnamed). The text is fenced so that nothing
    in it ends its code block (state/markdown.fenced_code): ui.code's own ``` fence would let a file holding ``` put
    the rest of it on the page as HTML. `max_height` (CSS) caps the text, which then scrolls inside the block: the
    block itself never scrolls, so its copy button stays in its corner (runboard.css `.rb-code`)."""
    block = ui.code(text, language=language).classes('rb-code')
    if max_height:
        block.markdown.style(f'max-height: {max_height}')
    binding.remove([block.markdown])  # ui.code's: content -> a ```-fenced block
    block.markdown.bind_content_from(block, 'content', lambda content: fenced_code(content, language))
    attrs(block.markdown.props('tabindex=0 role=region'), {'aria-label': name})
    attrs(block.copy_button, {'aria-label': f'Copy {name}'})
    return block
