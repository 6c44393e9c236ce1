"""A run's stages drawn: the run page's chips (`install · 2.1 s`, icon and colour by result, the running
one counting every second) and the runs list's compact strip (one coloured segment per stage).
The words come from app/state/stages.py; results and durations from the API (a run's `stages`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from nicegui import ui

from app.state.stages import (
    RUNNING,
    chip_text,
    hidden_stages,
    more_text,
    outcome_text,
    segment_label,
    stage_label,
    stage_shape,
    strip_label,
)

# result -> (icon, Quasar colour of the icon, Tailwind colours of the chip border and the list segment);
# the same hues as the status badges (pages/theme.py), readable on light and dark
LOOKS = {
    'succeeded': ('check_circle', 'green-8', 'border-green-600', 'bg-green-600'),
    'failed': ('cancel', 'red-8', 'border-red-600', 'bg-red-600'),
    'timed_out': ('timer_off', 'orange-9', 'border-orange-500', 'bg-orange-500'),
    'crashed': ('report', 'deep-purple-7', 'border-purple-600', 'bg-purple-600'),
    'stopped': ('stop_circle', 'blue-grey-7', 'border-slate-500', 'bg-slate-500'),
    RUNNING: ('', 'blue-7', 'border-blue-500', 'bg-blue-500 animate-pulse'),
}
HIDDEN_LOOK = 'bg-slate-300'
_drawn: WeakKeyDictionary[ui.element, tuple] = WeakKeyDictionary()  # box -> the stages it shows


def _look(result: str) -> tuple[str, str, str, str]:
    return LOOKS.get(result, LOOKS['stopped'])


def _name(element: ui.element, **attributes: str) -> None:
    """Attributes set as values, never parsed as a props string (stage names are the command's text)."""
    for key, value in attributes.items():
        element.props[key.replace('_', '-')] = value


def draw_stages(box: ui.element, run: dict[str, Any]) -> None:
    """The run page's stage chips, as a list; the running stage's duration counts every second. Redrawn
    only when a stage began or ended (a running stage's clock is the chip's own timer)."""
    shape = stage_shape(run)
    if _drawn.get(box) == shape:
        return
    _drawn[box] = shape
    box.clear()
    box.props('role=list')
    ticking: list[tuple[dict[str, Any], ui.element, ui.label]] = []
    with box:
        for stage in run.get('stages') or []:
            chip, text = _chip(stage)
            if stage.get('result') == RUNNING:
                ticking.append((stage, chip, text))
        hidden = hidden_stages(run)
        if hidden:
            ui.label(more_text(hidden)).classes('text-sm opacity-70 self-center').props(
                'role=listitem data-testid=more-stages'
            )
        if ticking:

            def tick() -> None:
                now = datetime.now(UTC)
                for stage, chip, text in ticking:
                    text.text = chip_text(stage, now)
                    _name(chip, aria_label=stage_label(stage, now), title=outcome_text(stage, now))

            ui.timer(1.0, tick)


def _chip(stage: dict[str, Any]) -> tuple[ui.element, ui.label]:
    result = stage.get('result') or RUNNING
    now = datetime.now(UTC)
    icon, colour, border, _ = _look(result)
    with ui.element('div').classes(
        f'inline-flex items-center gap-1 rounded-full border-2 {border} px-2 py-0.5 text-sm max-w-full'
    ) as chip:
        if result == RUNNING:
            ui.spinner(size='1em', color=colour).props('aria-hidden=true')
        else:
            ui.icon(icon, color=colour).classes('text-base').props('aria-hidden=true')
        # a long stage name ellipsizes rather than widen a 360 px page (the full name is the chip's title)
        text = ui.label(chip_text(stage, now)).classes('font-mono whitespace-nowrap truncate min-w-0')
        text.props('dir=auto data-field=stage')
    chip.props('role=listitem')
    _name(
        chip,
        data_stage=stage['name'],
        data_result=result,
        aria_label=stage_label(stage, now),
        title=outcome_text(stage, now),
    )
    return chip, text


def row_strip(run: dict[str, Any]) -> None:
    """The runs list's strip: one equal-width segment per stage, coloured by result; nothing without stages."""
    stages = run.get('stages') or []
    if not stages:
        return
    with ui.element('div').classes('flex gap-px h-2 w-24 sm:w-40 rounded-sm overflow-hidden shrink-0') as strip:
        for stage in stages:
            result = stage.get('result') or RUNNING
            label = segment_label(stage)
            segment = ui.element('div').classes(f'flex-1 min-w-[2px] {_look(result)[3]}').props('role=img')
            _name(segment, data_stage=stage['name'], data_result=result, aria_label=label, title=label)
        hidden = hidden_stages(run)
        if hidden:
            segment = ui.element('div').classes(f'flex-1 min-w-[2px] {HIDDEN_LOOK}').props('role=img')
            _name(segment, aria_label=more_text(hidden), title=more_text(hidden))
    strip.props('role=group data-testid=stage-strip')
    _name(strip, aria_label=strip_label(run))
