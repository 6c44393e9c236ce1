"""What a run shows of its source, on the run page and in the runs list: the commit it ran (short sha and title), and
for a push or pull-request run who pushed and a link to the pull request (docs/triggers.md, "On push and pull
requests")."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.client import ApiError
from app.state import connection
from app.state.push_rules import commit_line, pull_request_link, push_text, status_log_settled, status_log_text
from app.state.runs_store import ACTIVE
from app.state.text import shown

STATUS_LINE_SECONDS = 3.0  # the commit-status line reads the log again this often while a state is being posted
STATUS_LINE_READS = 100  # and gives up after this many reads (a forge retried with long backoff: reload the page)


def commit_facts(run: dict[str, Any], *, size: str = 'text-sm') -> None:
    """`abc1234 Fix the parser`: the sha, then the title cut to the row's room, whole with its author on hover."""
    line = commit_line(run)
    if line is None:
        return
    with ui.row().classes('items-baseline gap-1 no-wrap min-w-0').props('data-field=commit'):
        if line.url:  # to the commit on the forge, as a workflow run's commit is on GitHub
            ui.link(line.sha, line.url, new_tab=True).classes(f'{size} font-mono').props(
                'data-field=commit-sha rel=noopener'
            ).tooltip('The commit on its forge')
        else:
            ui.label(line.sha).classes(f'{size} font-mono').props('data-field=commit-sha')
        if line.title:
            title = ui.label(shown(line.title)).classes(f'{size} truncate rb-commit-title')
            title.props('dir=auto data-field=commit-title')
            if line.hint:
                title.tooltip(shown(line.hint))


def push_facts(run: dict[str, Any], *, size: str = 'text-sm') -> None:
    said = push_text(run)
    if said:
        ui.label(shown(said)).classes(size).props('data-field=push dir=auto')
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


def commit_status_line(run: dict[str, Any]) -> None:
    """The run page: what was posted to the forge for this run's commit (GET /projects/{id}/commit-statuses), read
    when the header is drawn and again every few seconds while a state is still being posted (for up to
    STATUS_LINE_READS reads); nothing for other kinds or a project without a forge token."""
    if run.get('kind') not in ('push', 'pull_request'):
        return
    line = ui.label('').classes('text-xs opacity-80').props('data-testid=commit-statuses')
    line.set_visibility(False)
    reads = 0

    async def load() -> None:
        nonlocal reads
        reads += 1
        try:
            rows = (
                await connection.client().request(
                    'GET', f'/projects/{run["project_id"]}/commit-statuses', params={'run': run['id']}
                )
            ).data
        except ApiError:
            return  # the page works without it; the next read tries again
        text = status_log_text(rows or [])
        if text:
            line.text = text
            line.set_visibility(True)
        ended = run.get('status') not in (*ACTIVE, 'delayed')
        if status_log_settled(rows or [], run_ended=ended) or reads >= STATUS_LINE_READS:
            timer.deactivate()

    timer = ui.timer(STATUS_LINE_SECONDS, load)
