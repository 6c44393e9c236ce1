"""Whether a run that ended is retried automatically under its project's rule (services/runs/auto_retry.py)."""

from __future__ import annotations

import pytest

from app.services.runs.retry_rule import should_retry

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
