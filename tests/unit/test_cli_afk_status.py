"""`runboard afk status` (app/cli/render.py loop_state_text): a script or a person reading it in the morning learns
whether the loop launches, and when it is on but launches nothing, why and what ends it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from app.cli.render import afk_status, loop_state_text

TODAY = '2026-11-29'
ON = {'id': 'p', 'auto_enabled': True, 'paused': False, 'consecutive_failures': 0}
CAPPED = {'afk_cost_cap_usd_per_day': 1.0, 'afk_cost_capped_on': TODAY}
BROKEN = {'launch_error': 'launch_failed: could not start [Errno 2] No such file: agent'}


@pytest.mark.parametrize(
    ('project', 'said'),
    [
        (ON, 'on'),
        ({**ON, 'auto_enabled': False}, 'off'),
        # the failure pause holds the loop whether auto is on or off: only Reset (or a success) ends it
        (
            {**ON, 'paused': True, 'consecutive_failures': 3},
            'paused after 3 consecutive AFK failures: it waits for Reset',
        ),
        ({**ON, 'auto_enabled': False, 'paused': True, 'consecutive_failures': 3}, 'paused after 3 consecutive'),
        # on, but a command that could not start holds it until the project changes
        ({**ON, **BROKEN}, 'on, waiting: could not start [Errno 2] No such file: agent (fix the'),
        # on, but today's cost cap was reached
        ({**ON, **CAPPED}, 'on, waiting: the cost cap was reached today (resumes at 00:00 UTC or on Reset)'),
        # reached on another day: it counts from zero again
        ({**ON, **CAPPED, 'afk_cost_capped_on': '2026-11-28'}, 'on'),
        # a cap removed since: nothing to wait for
        ({**ON, **CAPPED, 'afk_cost_cap_usd_per_day': None}, 'on'),
        ({**ON, **CAPPED, 'auto_enabled': False}, 'off'),
    ],
)
def test_loop_state(project: dict, said: str) -> None:
    assert loop_state_text(project, TODAY).startswith(said)
    assert said != 'on' or loop_state_text(project, TODAY) == 'on'


def test_afk_status_says_the_loop_waits_on_the_cost_cap_today() -> None:
    today = datetime.now(UTC).date().isoformat()
    console = Console(width=200, record=True, color_system=None)
    console.print(afk_status({**ON, **CAPPED, 'afk_cost_capped_on': today}))
    assert 'on, waiting: the cost cap was reached today' in console.export_text()
