"""The runs list's filter bar: project, status, kind, branch, person, text search and a date range, kept in
the URL query (RunFilters.query) so a reload or a shared link shows the same list."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlencode

from nicegui import ui

from app.models.vocabulary import AWAITING_APPROVAL
from app.pages.attributes import attrs
from app.pages.theme import STATUS_LABELS
from app.state.runs_store import RunFilters, RunsStore, filter_choices


class FilteredList(Protocol):
    """What the bar drives: the runs list view (pages/runs_list.py), its store, its place in the URL, a reload."""

    store: RunsStore
    url_path: str | None

    async def load(self) -> None: ...


STATUSES = [
    AWAITING_APPROVAL,
    'delayed',
    'queued',
    'running',
    'succeeded',
    'failed',
    'timed_out',
    'crashed',
    'stopped',
    'expired',
    'skipped',
    'cancelled',
]
KINDS = ['manual', 'retry', 'auto', 'scheduled', 'push', 'pull_request']
FILTER_WIDTHS = {
    'project': 'sm:w-48',
    'status': 'sm:w-40',
    'kind': 'sm:w-36',
    'branch': 'sm:w-48',
    'by': 'sm:w-36',
    'q': 'sm:w-64',
    'since': 'sm:w-40',
    'until': 'sm:w-40',
}


def filter_bar(view: FilteredList, projects: list[dict] | None) -> None:
    """`projects` is None on a project's own page (the project is fixed there and not in its URL)."""
    filters = view.store.filters

    def text(field: ui.input) -> str | None:
        return (field.value or '').strip() or None

    async def changed() -> None:
        new = RunFilters(
            project=project.value or None if project else filters.project,
            status=status.value or None,
            kind=kind.value or None,
            branch=text(branch),
            user=text(person),
            since=text(since),
            until=text(until),
            q=text(search),
        )
        clear.set_visibility(new.narrowed)
        if new == view.store.filters:
            return  # a blur without a change: no reload
        branch_changed = new.branch != view.store.filters.branch
        view.store.filters = new
        query = new.query()
        if projects is None:
            query.pop('project', None)
        url = f'{view.url_path}{"?" + urlencode(query) if query else ""}'
        if projects is None and branch_changed:
            ui.navigate.to(url)  # a project page draws the branch's history chart for `on=` (app/pages/charts.py)
            return
        ui.navigate.history.replace(url)
        await view.load()

    async def clear_all() -> None:
        for field in (status, kind, branch, person, since, until, search):
            field.value = ''
        await changed()

    with ui.row().classes('w-full items-center gap-2 flex-wrap').props('data-testid=run-filters'):
        project = None
        if projects is not None:
            project = filter_select(
                'project', {'': 'All projects', **{p['id']: p['name'] for p in projects}}, filters.project, changed
            )
        status = filter_select(
            'status', {'': 'Any status', **{s: STATUS_LABELS.get(s, s) for s in STATUSES}}, filters.status, changed
        )
        kind = filter_select('kind', {'': 'Any kind', **{k: k for k in KINDS}}, filters.kind, changed)
        branch = filter_text('branch', 'Branch', filters.branch, changed)
        person = filter_text('by', 'Person', filters.user, changed)
    with ui.row().classes('w-full items-center gap-2 flex-wrap'):
        search = filter_text('q', 'Search id, branch, title, sha', filters.q, changed).props('type=search')
        search.props('aria-label="Search runs by id, branch or issue title"')
        since = filter_date('since', 'From (UTC)', filters.since, changed)
        until = filter_date('until', 'To (UTC)', filters.until, changed)
        clear = (
            ui.button('Clear filters', icon='filter_alt_off', on_click=clear_all)
            .props('flat dense data-testid=clear-filters')
            .classes('rb-tap')
        )
        clear.set_visibility(filters.narrowed)


def filter_text(name: str, label: str, value: str | None, on_change: Any) -> ui.input:
    """A text filter, applied on Enter or when the field is left (not on every keystroke)."""
    field = attrs(
        ui.input(label, value=value or '').classes(f'w-full {FILTER_WIDTHS[name]}').props('dense clearable'),
        {'data-filter': name},
    )
    field.on('keydown.enter', on_change)
    field.on('blur', on_change)
    field.on('clear', on_change)
    return field


def filter_date(name: str, label: str, value: str | None, on_change: Any) -> ui.input:
    """A day (the browser's date picker), applied as soon as a whole date is chosen or the field cleared."""
    return attrs(
        ui.input(label, value=value or '', on_change=on_change)
        .classes(f'w-full {FILTER_WIDTHS[name]}')
        .props('dense clearable stack-label type=date'),
        {'data-filter': name},
    )


def filter_select(
    name: str, options: dict[str, str], value: str | None, on_change: Any, *, searchable: bool = False
) -> ui.select:
    """`searchable`: typing in the box narrows a long list to the choices whose label has the text."""
    return attrs(
        ui.select(
            filter_choices(options, value),
            value=value or '',
            label=name.capitalize(),
            on_change=on_change,
            with_input=searchable,
        ).classes(f'w-full {FILTER_WIDTHS[name]}'),
        {'data-filter': name},
    )
