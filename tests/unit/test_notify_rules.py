"""Pure notification rules as tables: which events a run's end raises, what an attempt makes of its delivery
(delivered, retry after the backoff or the receiver's Retry-After, give up), and reading Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.services.notifications.rules import (
    MAX_RETRY_AFTER_SECONDS,
    AttemptVerdict,
    after_attempt,
    backoff_seconds,
    bulk_outcome,
    delivered,
    retry_after_seconds,
    run_end_events,
)

SCHEDULE = [10.0, 30.0, 120.0, 600.0, 3600.0]


@pytest.mark.parametrize(
    ('kind', 'status', 'launch_failed', 'failures_after', 'events'),
    [
        # pipeline runs: only the run's own event, whatever the counter says
        ('manual', 'failed', False, None, ['run.failed']),
        ('manual', 'succeeded', False, None, ['run.succeeded']),
        ('retry', 'timed_out', False, None, ['run.timed_out']),
        ('manual', 'crashed', False, None, ['run.crashed']),
        ('scheduled', 'stopped', False, None, ['run.stopped']),
        ('manual', 'failed', False, 3, ['run.failed']),
        # statuses no rule subscribes to
        ('manual', 'expired', False, None, []),
        ('manual', 'skipped', False, None, []),
        # AFK: a failure parks the issue; the one that reaches the threshold also pauses the loop, once
        ('auto', 'failed', False, 1, ['run.failed', 'issue.parked']),
        ('auto', 'failed', False, 3, ['run.failed', 'issue.parked', 'project.auto_paused']),
        ('auto', 'timed_out', False, 3, ['run.timed_out', 'issue.parked', 'project.auto_paused']),
        ('auto', 'failed', False, 4, ['run.failed', 'issue.parked']),  # already paused
        # AFK: a person's Stop parks the issue but is neutral for the counter
        ('auto', 'stopped', False, 3, ['run.stopped', 'issue.parked']),
        # AFK: infrastructure loss and launch failures release the issue: nothing parked, nothing paused
        ('auto', 'crashed', False, 3, ['run.crashed']),
        ('auto', 'failed', True, 3, ['run.failed']),
        # AFK: success
        ('auto', 'succeeded', False, 0, ['run.succeeded']),
    ],
)
def test_run_end_events(kind: str, status: str, launch_failed: bool, failures_after: int | None, events: list) -> None:
    assert (
        run_end_events(kind=kind, status=status, launch_failed=launch_failed, failures_after=failures_after) == events
    )


def test_an_afk_run_whose_issue_was_closed_meanwhile_parks_nothing() -> None:
    """A person closed the issue while its run worked on it: the claim was released then, so its Stop parks nothing
    and no `issue.parked` is told (it was, with `issue: null`)."""
    events = run_end_events(kind='auto', status='stopped', failures_after=0, claim_active=False)
    assert events == ['run.stopped']


@pytest.mark.parametrize(
    ('code', 'ok'), [(200, True), (201, True), (204, True), (299, True), (301, False), (400, False), (None, False)]
)
def test_only_2xx_delivers(code: int | None, ok: bool) -> None:
    assert delivered(code) is ok


@pytest.mark.parametrize(
    ('failed', 'wait'),
    [(1, 10.0), (2, 30.0), (3, 120.0), (4, 600.0), (5, 3600.0), (6, 3600.0), (40, 3600.0)],
)
def test_backoff_schedule(failed: int, wait: float) -> None:
    assert backoff_seconds(failed, SCHEDULE) == wait


@pytest.mark.parametrize(
    ('code', 'attempt', 'max_attempts', 'retry_after', 'verdict'),
    [
        (200, 1, 6, None, AttemptVerdict('delivered', None)),
        (204, 6, 6, None, AttemptVerdict('delivered', None)),  # the last allowed attempt may still deliver
        (500, 1, 6, None, AttemptVerdict('failed', 10.0)),
        (None, 2, 6, None, AttemptVerdict('failed', 30.0)),  # no answer (timeout, refused)
        (302, 3, 6, None, AttemptVerdict('failed', 120.0)),  # redirects are not followed
        (500, 6, 6, None, AttemptVerdict('gave_up', None)),
        (500, 1, 1, None, AttemptVerdict('gave_up', None)),
        # the receiver asks for longer: it gets it, up to an hour
        (429, 1, 6, 90.0, AttemptVerdict('failed', 90.0)),
        (503, 1, 6, 86400.0, AttemptVerdict('failed', MAX_RETRY_AFTER_SECONDS)),
        # or shorter: the backoff still holds
        (429, 2, 6, 1.0, AttemptVerdict('failed', 30.0)),
    ],
)
def test_after_attempt(code: int | None, attempt: int, max_attempts: int, retry_after: float | None, verdict) -> None:  # noqa: ANN001
    assert (
        after_attempt(
            status_code=code,
            attempt_in_round=attempt,
            max_attempts=max_attempts,
            schedule=SCHEDULE,
            retry_after=retry_after,
        )
        == verdict
    )


NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('value', 'seconds'),
    [
        ('120', 120.0),
        (' 5 ', 5.0),
        ('Wed, 01 Jan 2025 12:02:00 GMT', 120.0),
        ('Wed, 01 Jan 2025 11:00:00 GMT', 0.0),  # in the past: now
        ('soon', None),
        ('', None),
        (None, None),
        ('-3', None),
    ],
)
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


@pytest.mark.parametrize(
    ('status', 'claimed', 'outcome'),
    [
        # still given up, nobody sending it: queued in a new round
        ('gave_up', False, 'queued'),
        # a server holds it this moment (a Redeliver's attempt, the first bulk call's): never a second send
        ('gave_up', True, 'in_flight'),
        ('pending', True, 'in_flight'),
        # queued again already (by a first call, a Redeliver) and waiting, or retrying: the second call skips it
        ('pending', False, 'redelivery_pending'),
        ('failed', False, 'redelivery_pending'),
        ('held', False, 'redelivery_pending'),
        # a redelivery got it through since it gave up
        ('delivered', False, 'delivered_since'),
        # anything else is not what gave up any more
        ('skipped', False, 'changed'),
    ],
)
def test_what_redeliver_all_that_gave_up_does_with_each(status: str, claimed: bool, outcome: str) -> None:
    assert bulk_outcome(status=status, claimed=claimed) == outcome
