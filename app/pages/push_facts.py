"""What a push or pull-request run shows of its trigger, on the run page and in the runs list: the commit, who
pushed, and a link to the pull request (docs/triggers.md, "On push and pull requests")."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.state.push_rules import pull_request_link, push_text
from app.state.text import shown


def push_facts(run: dict[str, Any], *, size: str = 'text-sm') -> None:
    said = push_text(run)
    if said:
        ui.label(shown(said)).classes(f'{size} font-mono').props('data-field=push dir=auto')
    link = pull_request_link(run)
    if link is None:
        return
    text, href = link
    if href:
        ui.link(f'PR {shown(text)}', href, new_tab=True).classes(f'{size} rb-tap-link').props(
            'data-testid=pull-request dir=auto rel=noopener'
        )
    else:
        ui.label(f'PR {shown(text)}').classes(size).props('data-testid=pull-request dir=auto')
