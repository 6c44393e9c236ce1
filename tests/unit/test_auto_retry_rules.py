"""Whether a run that ended is retried automatically under its project's rule (services/runs/auto_retry.py)."""

from __future__ import annotations

import pytest

from app.services.runs.retry_rule import lasting_reason, should_retry
from app.state.run_timing import retry_planned_text

DEFAULT = ['crashed', 'timed_out']


@pytest.mark.parametrize(
    ('status', 'retry_on', 'attempt', 'retries', 'retried'),
    [
        ('crashed', DEFAULT, 1, 1, True),  # its worker was lost: tried again
        ('timed_out', DEFAULT, 1, 2, True),
        ('failed', DEFAULT, 1, 3, False),  # the code's fault: not unless asked
        ('failed', ['failed'], 1, 1, True),
        ('crashed', DEFAULT, 2, 1, False),  # its one retry made already
        ('crashed', DEFAULT, 3, 3, True),  # the third retry (the fourth attempt)
        ('crashed', DEFAULT, 4, 3, False),
        ('crashed', DEFAULT, 1, 0, False),  # off
        ('stopped', ['crashed', 'timed_out', 'failed'], 1, 3, False),  # a person's stop stands
        ('succeeded', ['crashed', 'timed_out', 'failed'], 1, 3, False),
    ],
)
def test_should_retry(status: str, retry_on: list[str], attempt: int, retries: int, retried: bool) -> None:
    assert should_retry(status, retry_on, attempt, retries) is retried


@pytest.mark.parametrize(
    ('detail', 'kept'),
    [
        ('Run limit reached: 1 run per 10 s. Retry in 7 s.', 'Run limit reached: 1 run per 10 s.'),  # not a moment
        ("Branch 'main' is locked by active run run_1.", "Branch 'main' is locked by active run run_1."),
        ('This repository is at maximum concurrency (2 active). Wait for an active run to complete and retry.', None),
    ],
)
def test_lasting_reason(detail: str, kept: str | None) -> None:
    assert lasting_reason(detail) == (kept or detail)


def test_the_page_says_why_a_planned_retry_waits() -> None:
    assert retry_planned_text({'attempt': 2, 'of': 3}) == 'to be retried automatically (attempt 2 of 3)'
    waiting = {'attempt': 2, 'of': 3, 'waits': 'Run limit reached: 1 run per 10 s.'}
    assert retry_planned_text(waiting) == (
        'to be retried automatically (attempt 2 of 3); it waits: Run limit reached: 1 run per 10 s.'
    )
