"""Pure AFK decisions (no I/O)."""
from __future__ import annotations

AFK_PAUSE_THRESHOLD = 3  # consecutive failures that pause a project's auto-loop until Reset or a success


def is_paused(consecutive_failures: int) -> bool:
    return consecutive_failures >= AFK_PAUSE_THRESHOLD


def should_launch_auto(*, auto_enabled: bool, paused: bool, auto_run_in_flight: bool, under_global_cap: bool,
                       claimable_issue: bool) -> bool:
    """The sweep's only gate: launch one auto run for this project now?"""
    return auto_enabled and not paused and not auto_run_in_flight and under_global_cap and claimable_issue
