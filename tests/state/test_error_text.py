"""Failed requests in words (table)."""

from __future__ import annotations

import pytest

from app.client import ApiError
from app.state.error_text import in_words, technical

NETWORK = ApiError(0, 'network', 'Could not reach the Runboard server at http://127.0.0.1:8412: RemoteProtocolError')


@pytest.mark.parametrize(
    'error, said',
    [
        (
            NETWORK,
            'Could not load runs: the Runboard server is not answering (it may be restarting or offline). '
            'Try again in a moment.',
        ),
        (
            ApiError(0, 'timeout', 'timed out'),
            'Could not load runs: the server did not answer in time. Try again in a moment.',
        ),
        (
            ApiError(401, 'unauthorized', 'bad token'),
            'Could not load runs: your sign-in is no longer valid. Sign in again.',
        ),
        (
            ApiError(404, 'not_found', "run 'x' not found"),
            'Could not load runs: it does not exist, or it is not visible to you.',
        ),
        (
            ApiError(500, 'internal', 'KeyError'),
            'Could not load runs: the server hit a problem. Quote the correlation id when you report it.',
        ),
        # a problem detail written for people is kept as it is
        (
            ApiError(422, 'validation', 'The end of the time range is before its start.'),
            'Could not load runs: The end of the time range is before its start.',
        ),
    ],
)
def test_errors_in_words(error: ApiError, said: str) -> None:
    assert in_words(error, 'load runs') == said
    assert 'RemoteProtocolError' not in said and 'http://' not in said  # internals stay behind the chip


def test_the_internals_are_behind_the_chip() -> None:
    assert technical(NETWORK) == f'no answer · network · {NETWORK.detail}'
    assert (
        technical(ApiError(503, 'dependency_unavailable', 'db down')) == 'HTTP 503 · dependency_unavailable · db down'
    )
