"""The log viewer's tools: timestamps on/off (remembered by this browser), Copy all (the whole raw log,
fetched by the browser from the UI's own /run-logs/{id}.log inside the click, so the clipboard write is
the click's), and Download log (the same address, saved as a file)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.pages.attributes import attrs
from app.pages.log_view import LogView
from app.state.log_links import download_name, download_path


class LogTools:
    def __init__(self, view: LogView, run_id: str, *, log_kept: bool = True) -> None:
        self.view = view
        url = download_path(run_id)
        with ui.row().classes('items-center gap-1 flex-wrap'):
            self.times = (
                ui.switch('Timestamps', on_change=lambda e: view.show_times(bool(e.value)))
                .props('data-testid=timestamps')
                .classes('rb-tap')
            )
            if not log_kept:  # the log retention removed the output: nothing to copy or download (the API: 410)
                return
            copy_all = (
                ui.button(icon='content_copy')
                .props('flat dense no-caps data-testid=copy-all aria-label="Copy all: the whole log"')
                .classes('rb-tap')
                .on('click', js_handler=view.copy_all_handler(url))
            )
            download = attrs(
                ui.button(icon='download')
                .props('flat dense no-caps data-testid=download aria-label="Download log"')
                .classes('rb-tap'),
                {'href': url, 'download': download_name(run_id)},
            )
            for button, words in ((copy_all, 'Copy all'), (download, 'Download log')):
                with button:  # on a phone, the icon alone (its name stays in aria-label)
                    ui.label(words).classes('gt-xs ml-2')  # Quasar: shown above the phone breakpoint
        view.on('times', self.remembered)
        view.on('copied', self.copied)
        view.on('copy_failed', lambda e: ui.notify(f'Could not copy: {e.args.get("message")}', type='negative'))

    def remembered(self, event: Any) -> None:
        """The browser's stored choice, reported when the log is first drawn."""
        self.times.value = bool((event.args or {}).get('on'))

    def copied(self, event: Any) -> None:
        args = event.args or {}
        if args.get('what') == 'all':
            lines = int(args.get('lines') or 0)
            ui.notify(f'Copied the whole log ({lines:,} line{"" if lines == 1 else "s"})', type='positive')
        else:
            ui.notify(f'Copied {args.get("what")}', type='positive')
