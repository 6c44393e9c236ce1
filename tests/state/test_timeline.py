"""The text under the run page's log (table)."""

from __future__ import annotations

import pytest

from app.state.timeline import count_text


@pytest.mark.parametrize(
    ('last_seq', 'output_lines', 'text'),
    [
        (17, 10, '17 lines · 10 printed by the run'),
        (1, 0, '1 line · 0 printed by the run'),
        (120_000, 100_000, '120,000 lines · 100,000 printed by the run'),
    ],
)
def test_count_text(last_seq, output_lines, text) -> None:  # noqa: ANN001
    assert count_text(last_seq, output_lines) == text
