"""User text with bidirectional controls is shown with the controls visible."""

from __future__ import annotations

import pytest

from app.state.text import shown


@pytest.mark.parametrize(
    'raw, display',
    [
        ('feature/login', 'feature/login'),
        ('fix/\u202egnp.exe', 'fix/[U+202E]gnp.exe'),  # right-to-left override
        ('a\u2066b\u2069c', 'a[U+2066]b[U+2069]c'),  # isolates
        ('\u200fmark\u200e', '[U+200F]mark[U+200E]'),  # implicit marks
        ('\u202a\u202b\u202c\u202d', '[U+202A][U+202B][U+202C][U+202D]'),
        ('שלום/branch', 'שלום/branch'),  # right-to-left letters stay as they are
        ('', ''),
        (None, ''),
    ],
)
def test_shown(raw: str | None, display: str) -> None:
    assert shown(raw) == display
