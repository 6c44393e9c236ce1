"""The run page's log as the browser draws it (assets/logview.js, with the other browser files): rows
with a line-number gutter (links to #L123), times, a copy button, search marks and foldable stage groups.
The server decides which lines the tab holds (app/state/timeline.py); this element only carries rows and
commands to the browser, so a window of 1,000 lines is one message, not 1,000 elements."""

from __future__ import annotations

import json

import nicegui
from nicegui import ui

from app import package_files
from app.state.log_rows import rows
from app.state.timeline import Line

COMPONENT = package_files.asset('logview.js')  # (no dash: it names the component)
STYLESHEET = '<link rel="stylesheet" href="/assets/logview.css">'


def preload() -> None:
    """For a page that may draw a run's log in place (the project page's Run, pages/run_page.py open_in_place):
    the log's browser module and stylesheet come with that page, so the timeline does not wait for them."""
    component = LogView.component
    assert component is not None  # registered by the class statement
    module = f'/_nicegui/{nicegui.__version__}/components/{component.key}'  # as NiceGUI imports it
    ui.add_head_html(f'{STYLESHEET}<link rel="modulepreload" href="{module}">')


class LogView(ui.element, component=COMPONENT):
    def __init__(self) -> None:
        super().__init__()
        ui.add_head_html(STYLESHEET)
        self.classes('rb-logview w-full')
        self.props('data-testid=output role=log aria-label="Run output"')

    def replace(self, lines: list[Line], *, bottom: bool) -> None:
        """Show these lines instead (at the end of the log: scrolled to the bottom)."""
        self.run_method('replace', rows(lines), bottom)

    def append(self, lines: list[Line], *, stick: bool) -> None:
        """Add lines below; with stick, a view scrolled to its bottom stays there."""
        if lines:
            self.run_method('append', rows(lines), stick)

    def prepend(self, lines: list[Line]) -> None:
        if lines:
            self.run_method('prepend', rows(lines))

    def keep(self, first: int | None, last: int | None) -> None:
        """Drop the rows outside first..last (the window's range)."""
        if first is None or last is None:
            self.run_method('clear')
        else:
            self.run_method('keep', first, last)

    def search(self, query: str) -> None:
        """Mark the text in every line that holds it (any case); '' clears the marks."""
        self.run_method('search', query)

    def current(self, seq: int) -> None:
        """The current search match: highlighted, unfolded and scrolled to the middle."""
        self.run_method('current', seq)

    def select(self, seq: int) -> None:
        """The line a #L link points at: highlighted, unfolded and scrolled to the middle."""
        self.run_method('select', seq)

    def show_times(self, on: bool) -> None:
        self.run_method('setTimes', on)

    def copy_all_handler(self, url: str) -> str:
        """A click handler (JavaScript) that copies the whole raw log at url, inside the click's gesture."""
        return f'() => runMethod({self.id}, "copyAll", [{json.dumps(url)}])'
