"""Pure AFK decisions (no I/O).

Which runs feed the safety counter: AFK runs only (kind `auto`, started by the loop or by hand with
"Start AFK run"). The counter exists to stop the loop from burning runs on a recurring AFK failure;
a pipeline run from the Run form (kind `manual`, or a `retry` of one) says nothing about that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

AFK_PAUSE_THRESHOLD = 3  # consecutive failures that pause a project's auto-loop until Reset or a success
LAUNCH_FAILED = 'launch_failed'  # the run's `error` starts with this when its command could not start

CounterMove = Literal['reset', 'add', 'keep']
ClaimMove = Literal['done', 'park', 'release']


@dataclass(frozen=True)
class Settlement:
    counter: CounterMove  # the project's consecutive_failures: to 0, +1, or unchanged
    claim: ClaimMove  # the issue: done (closed), parked (a person decides), released (ready again)


def is_paused(consecutive_failures: int) -> bool:
    return consecutive_failures >= AFK_PAUSE_THRESHOLD


def feeds_counter(kind: str) -> bool:
    """Does a run of this kind move the AFK counter? Only AFK runs do."""
    return kind == 'auto'


def settle_afk_run(status: str, *, launch_failed: bool = False) -> Settlement:
    """What an ended AFK run does to the counter and to its issue's claim.

    - succeeded (exit 0, or its afk/<N> pull request exists): counter to 0, issue done.
    - failed / timed_out (the agent's own failure): counter +1, issue parked.
    - launch failed (the command or the checkout could not start): nothing ran, so nothing counts and
      the issue is ready again; the project's launch error keeps the loop from spinning on it.
    - crashed (server restart, lost worker: infrastructure, not the agent): neutral, issue ready again.
    - stopped (a person's Stop): neutral, issue parked so it is not retried by itself.
    - expired (its queue TTL passed before it started), skipped (a delayed run refused when due) or cancelled
      (a newer push replaced it while queued): nothing ran, so neutral, issue ready again.
    """
    if status == 'succeeded':
        return Settlement('reset', 'done')
    if launch_failed or status in ('crashed', 'expired', 'skipped', 'cancelled'):
        return Settlement('keep', 'release')
    if status in ('failed', 'timed_out'):
        return Settlement('add', 'park')
    return Settlement('keep', 'park')


def should_launch_auto(
    *,
    auto_enabled: bool,
    paused: bool,
    loop_run_in_flight: bool,
    under_global_cap: bool,
    claimable_issue: bool,
    launch_blocked: bool = False,
    cost_capped: bool = False,
) -> bool:
    """The sweep's only gate: launch one loop run for this project now?

    `loop_run_in_flight`: the loop is serial per project; hand-started AFK runs do not count here.
    `launch_blocked`: the project's last loop launch could not start its command; the loop waits for
    the project to change (edit, Reset or a hand-started run that starts) instead of spinning.
    `cost_capped`: the day's AFK cost reached the project's cap (`is_cost_capped`); the loop waits for the next
    UTC day or a Reset. Hand-started runs are not gated by it.
    """
    return (
        auto_enabled
        and not paused
        and not loop_run_in_flight
        and under_global_cap
        and claimable_issue
        and not launch_blocked
        and not cost_capped
    )


ClosedGate = Literal['global_cap', 'in_flight', 'paused', 'cost_cap', 'launch_failed', 'auto_off']


def closed_gate(
    *,
    auto_enabled: bool,
    paused: bool,
    loop_run_in_flight: bool,
    under_global_cap: bool,
    launch_blocked: bool,
    cost_capped: bool = False,
) -> ClosedGate | None:
    """Pure: which gate keeps a loop launch from happening (None: every gate is open), in the order the
    sweep acts on them (a full global cap stops the whole sweep; the others skip one project)."""
    if not under_global_cap:
        return 'global_cap'
    if loop_run_in_flight:
        return 'in_flight'
    if paused:
        return 'paused'
    if cost_capped:
        return 'cost_cap'
    if launch_blocked:
        return 'launch_failed'
    if not auto_enabled:
        return 'auto_off'
    return None


# ---------------------------------------------------------------- the daily cost cap (docs/afk.md, "Cost")
def cost_window_start(now: datetime, reset_at: datetime | None) -> datetime:
    """Since when the day's AFK cost counts: 00:00 UTC today, or the last Reset if that is later today."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if reset_at is None:
        return midnight
    reset_at = reset_at if reset_at.tzinfo else reset_at.replace(tzinfo=UTC)
    return max(midnight, reset_at)


def is_cost_capped(*, cap_usd: float | None, spent_usd: float) -> bool:
    """Has the day's AFK cost reached the cap? No cap: never. Reaching it exactly counts (a $1.00 cap and
    $1.00 spent launches nothing more)."""
    return cap_usd is not None and round(spent_usd, 6) >= round(cap_usd, 6)


def cap_stops_run(*, cap_usd: float | None, spent_usd: float, spent_by_others_usd: float, by_a_person: bool) -> bool:
    """With `afk_cost_cap_stops_runs`: is the AFK run whose `::usage::` line brought the day's cost to `spent_usd` to
    be stopped? The loop's own runs: once the cap is reached. A run a person started: only when its own spending
    reached the cap; one started when the others had reached it already is what that person decided to spend."""
    if not is_cost_capped(cap_usd=cap_usd, spent_usd=spent_usd):
        return False
    return not by_a_person or not is_cost_capped(cap_usd=cap_usd, spent_usd=spent_by_others_usd)


def utc_day(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()


def capped_today(capped_on: str | None, now: datetime) -> bool:
    """The project's record of reaching the cap (`afk_cost_capped_on`) still holds today."""
    return capped_on is not None and capped_on == utc_day(now)
