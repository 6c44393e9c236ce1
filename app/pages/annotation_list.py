"""A run's annotations (`::error|warning|notice::` lines, app/core/workflow_commands.py) at the top of its page: one
row each with its level, title, message and `file:line`, linking to its line of the log (`#L<seq>`, which the
log viewer follows). The API answers them with the run (`annotations`, its first 50 in log order): a full list
says so, and where the rest are."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from nicegui import ui

from app.pages.attributes import attrs
from app.state.log_links import line_hash
from app.state.log_rows import LEVEL_WORDS, annotations_note

# level -> (icon, Quasar colour), GitHub's hues
LOOKS = {'error': ('error', 'negative'), 'warning': ('warning', 'warning'), 'notice': ('info', 'info')}
_drawn: WeakKeyDictionary[ui.element, tuple] = WeakKeyDictionary()  # box -> the annotations it shows


def place(annotation: dict[str, Any]) -> str:
    if not annotation.get('file'):
        return ''
    line = annotation.get('line')
    return f'{annotation["file"]}:{line}' if line is not None else annotation['file']


def draw_annotations(box: ui.element, run: dict[str, Any]) -> None:
    """Redrawn only when the run's annotations changed (a live run adds them as it prints them)."""
    annotations = run.get('annotations') or []
    shape = tuple((a['seq'], a['level']) for a in annotations)
    if _drawn.get(box) == shape:
        return
    _drawn[box] = shape
    box.clear()
    box.set_visibility(bool(annotations))
    with box:
        for annotation in annotations:
            level = annotation['level']
            icon, colour = LOOKS.get(level, LOOKS['notice'])
            with ui.link(target=line_hash(annotation['seq'])).classes(
                'flex items-center gap-2 w-full no-underline text-inherit rb-tap-link'
            ) as link:
                ui.icon(icon, color=colour).classes('text-lg').props('aria-hidden=true')
                ui.label(LEVEL_WORDS.get(level, level)).classes(f'text-{colour} font-bold text-sm')
                if annotation.get('title'):
                    ui.label(annotation['title']).classes('font-bold text-sm').props('dir=auto')
                ui.label(annotation['message']).classes('text-sm whitespace-pre-wrap min-w-0').props(
                    'dir=auto data-field=message'
                )
                where = place(annotation)
                if where:
                    ui.label(where).classes('font-mono text-sm opacity-70').props('data-field=place')
                ui.label(f'line {annotation["seq"]}').classes('text-xs opacity-60 ml-auto whitespace-nowrap')
            attrs(link.props('role=listitem data-testid=annotation'), {'data-level': level})
        note = annotations_note(len(annotations))
        if note:
            ui.label(note).classes('text-xs opacity-70').props('role=listitem data-testid=annotations-more')
