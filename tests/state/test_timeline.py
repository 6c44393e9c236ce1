"""The text under the run page's log (table)."""

from __future__ import annotations

import pytest

from app.state.timeline import count_text, header_changed


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


@pytest.mark.parametrize(
    ('change', 'redraw'),
    [
        ({}, False),  # the same run read again
        ({'output_lines': 12, 'last_seq': 20}, False),  # more log: the log's own counts, not the header
        ({'stages': [{'name': 'test'}], 'stage_count': 2, 'heartbeat_at': 'later'}, False),  # the stage strip
        ({'annotations': [{'level': 'error', 'text': 'x'}]}, False),  # the stage strip's notes, not the header
        # each heartbeat's figures: their line is updated in place, the Stop button stays (and keeps the focus)
        ({'peak_memory_bytes': 2**20, 'cpu_seconds': 0.5, 'memory_max_bytes': 2**30}, False),
        ({'status': 'stopped'}, True),  # Stop gives way to Retry
        ({'exit_code': -15}, True),
        ({'usage': {'cost_usd': 0.02}}, True),
        ({'retried_by': ['run_2']}, True),  # a retry made elsewhere: the header links it
        ({'waiting': 'waiting for a free run slot'}, True),
    ],
)
def test_the_header_is_drawn_again_only_when_what_it_shows_changed(change: dict, redraw: bool) -> None:
    shown = {'id': 'run_1', 'status': 'running', 'exit_code': None, 'usage': None, 'output_lines': 3, 'last_seq': 5}
    assert header_changed(shown, {**shown, **change}) is redraw
