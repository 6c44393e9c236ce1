"""Which of the UI's answers NiceGUI's gzip may compress (api/compression.py): not the artifact downloads."""

from __future__ import annotations

import pytest

from app.api.compression import compresses


@pytest.mark.parametrize(
    ('path', 'compressed'),
    [
        ('/runs/run_1', True),  # a page
        ('/run-logs/run_1.log', True),  # a log is text: gzip saves most of it
        ('/_nicegui/3.18.0/static/quasar.js', True),
        ('/run-artifacts/run_1/dist/app.whl', False),  # a file as stored: its size known, its ranges answerable
        ('/run-artifacts/run_1.zip', False),
    ],
)
def test_what_the_ui_compresses(path: str, compressed: bool) -> None:
    assert compresses(path) is compressed
