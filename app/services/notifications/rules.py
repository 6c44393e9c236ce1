"""Pure notification decisions (no I/O): which events a run's end raises, whether an attempt delivered, when the
next attempt is due (exponential backoff, or the receiver's Retry-After when it asks for longer), and what "redeliver
all that gave up" does with each delivery of its window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from app.models import DUE_STATUSES, BulkOutcome
from app.models.vocabulary import RUN_EVENTS
from app.services.afk.rules import AFK_PAUSE_THRESHOLD, feeds_counter, settle_afk_run

MAX_RETRY_AFTER_SECONDS = 3600.0  # a receiver asking for longer waits this long


def run_end_events(
    *,
    kind: str,
    status: str,
    launch_failed: bool = False,
    failures_after: int | None = None,
    claim_active: bool = True,
) -> list[str]:
    """The events one run's end raises, in the order they happened.

    - `run.<status>` for the statuses a rule can subscribe to;
    - AFK runs only (afk_rules.feeds_counter): `issue.parked` when the end parks its issue (`claim_active`: the run
      still held its claim; a person closing the issue released it first, and then nothing is parked), and
      `project.auto_paused` when it moved the project's failure counter onto the pause threshold
      (`failures_after`: the counter after this run; the loop pauses on reaching it, once)."""
    events = [f'run.{status}'] if f'run.{status}' in RUN_EVENTS else []
    if not feeds_counter(kind):
        return events
    settlement = settle_afk_run(status, launch_failed=launch_failed)
    if settlement.claim == 'park' and claim_active:
        events.append('issue.parked')
    if settlement.counter == 'add' and failures_after == AFK_PAUSE_THRESHOLD:
        events.append('project.auto_paused')
    return events


def delivered(status_code: int | None) -> bool:
    """A 2xx answer delivers; anything else (3xx too: redirects are not followed) is a failed attempt."""
    return status_code is not None and 200 <= status_code < 300


def backoff_seconds(failed_in_round: int, schedule: Sequence[float]) -> float:
    """The wait after the n-th failed attempt of a round (1-based): the schedule's n-th step, its last one after."""
    if not schedule:
        return 0.0
    return float(schedule[min(max(failed_in_round, 1), len(schedule)) - 1])


@dataclass(frozen=True)
class AttemptVerdict:
    status: Literal['delivered', 'failed', 'gave_up']
    retry_in: float | None  # seconds until the next attempt (status 'failed' only)


def after_attempt(
    *,
    status_code: int | None,
    attempt_in_round: int,
    max_attempts: int,
    schedule: Sequence[float],
    retry_after: float | None = None,
) -> AttemptVerdict:
    """What one attempt makes of its delivery. `attempt_in_round`: 1 for a round's first attempt."""
    if delivered(status_code):
        return AttemptVerdict('delivered', None)
    if attempt_in_round >= max_attempts:
        return AttemptVerdict('gave_up', None)
    wait = backoff_seconds(attempt_in_round, schedule)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return AttemptVerdict('failed', wait)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP date) as seconds from `now`; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def bulk_outcome(*, status: str, claimed: bool) -> BulkOutcome:
    """What "redeliver all that gave up" does with a delivery that gave up within its window, as it stands now.
    Only one that still stands given up is queued (a new round, as Redeliver starts); every other one is skipped,
    with why, so a second call while the first one's redeliveries wait or are sent sends nothing twice."""
    if claimed:  # a server is sending it this moment (a Redeliver's or the first call's attempt)
        return 'in_flight'
    if status == 'gave_up':
        return 'queued'
    if status in DUE_STATUSES or status == 'held':  # a redelivery of it waits for its attempt, or retries
        return 'redelivery_pending'
    if status == 'delivered':  # a redelivery got it through since
        return 'delivered_since'
    return 'changed'
