"""Whether a run's row and page offer Retry (app/state/retry_offer.py): an AFK run whose issue a later AFK run took
up offers no Retry the server would refuse (409 issue_busy), and names that run instead."""

from __future__ import annotations

import pytest

from app.state.retry_offer import RetryOffer, retry_offer, taken_up_text


def run(status: str, kind: str = 'auto', **fields: object) -> dict:
    return {'id': 'run_a', 'status': status, 'kind': kind, 'issue_number': 4, **fields}


@pytest.mark.parametrize(
    ('shown', 'offer'),
    [
        (run('failed'), RetryOffer(retry=True)),  # its issue parked: Retry works it again
        (run('crashed'), RetryOffer(retry=True)),  # not taken up yet (the loop is off, or the sweep has not come)
        # the loop took the crashed run's issue up again: that run works on it, so no Retry here, a link there
        (run('crashed', issue_taken_up_by='run_b'), RetryOffer(retry=False, taken_up_by='run_b')),
        (run('expired', issue_taken_up_by='run_b'), RetryOffer(retry=False, taken_up_by='run_b')),
        # retried by a person: the newest attempt is the one to retry
        (run('failed', issue_taken_up_by='run_b', retried_by=['run_b']), RetryOffer(retry=False, taken_up_by='run_b')),
        (run('running', issue_taken_up_by='run_b'), RetryOffer(retry=False)),  # not ended: nothing to retry yet
        (run('succeeded'), RetryOffer(retry=False)),
        # a pipeline run has no issue: a later run never holds its Retry back
        (run('failed', kind='manual', issue_taken_up_by='run_b'), RetryOffer(retry=True)),
        (run('stopped', kind='retry'), RetryOffer(retry=True)),
        (run('queued', kind='manual'), RetryOffer(retry=False)),
    ],
)
def test_a_retry_that_can_only_be_refused_is_not_offered(shown: dict, offer: RetryOffer) -> None:
    assert retry_offer(shown) == offer


def test_what_shows_in_place_of_retry() -> None:
    assert taken_up_text(run('crashed'), 'run_b') == 'issue #4 taken up again by run_b'
