"""Whether a run's row and page offer Retry. Pure: no I/O, no NiceGUI.

An AFK run's Retry works its issue again, and the server refuses it while another run works on that issue (409
issue_busy). When the loop took the issue up again by itself (a crash, an expiry or a launch failure released it),
or a person retried it, the older run's Retry could only be refused while that run goes on, and after it ends the
newest run is the one whose Retry means something. So such a run offers no Retry: it says which run took its issue up
instead, and links to it."""

from __future__ import annotations

from dataclasses import dataclass

from app.models.vocabulary import RETRYABLE_STATUSES


@dataclass(frozen=True)
class RetryOffer:
    retry: bool  # the Retry button shows
    taken_up_by: str | None = None  # instead of Retry: the later AFK run that took this run's issue up


def retry_offer(run: dict) -> RetryOffer:
    """Pure: what a run's row and page offer to retry it."""
    if run.get('status') not in RETRYABLE_STATUSES:
        return RetryOffer(retry=False)
    later = run.get('issue_taken_up_by') if run.get('kind') == 'auto' else None
    if later:
        return RetryOffer(retry=False, taken_up_by=later)
    return RetryOffer(retry=True)


def taken_up_text(run: dict, later: str) -> str:
    """The words in place of Retry: 'issue #4 taken up again by run_…'."""
    return f'issue #{run.get("issue_number")} taken up again by {later}'
