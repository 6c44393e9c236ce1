"""A tab's live updates paused by the server (503 live_updates_paused): which refusals pause it, since when, and
that the pause ends only when every paused stream of the tab has read again what it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.client import ApiError
from app.state.live_pause import LivePause, paused_since, since_text

NOW = datetime(2024, 5, 1, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    'error, since',
    [
        # the server says since when its listener lost Redis
        (
            ApiError(503, 'live_updates_paused', 'paused', body={'paused_since': '2024-05-01T14:03:12+00:00'}),
            datetime(2024, 5, 1, 14, 3, 12, tzinfo=UTC),
        ),
        # an older server (or a failure before any drop) does not: from now on
        (ApiError(503, 'live_updates_paused', 'paused'), NOW),
        (ApiError(503, 'live_updates_paused', 'paused', body={'paused_since': 'yesterday'}), NOW),
        # a clock ahead of ours does not put the pause in the future
        (ApiError(503, 'live_updates_paused', 'paused', body={'paused_since': '2024-05-01T15:00:00Z'}), NOW),
        # anything else is no pause: the network, a restart, another 503, a revoked token
        (ApiError(0, 'network', 'Lost the event stream'), None),
        (ApiError(503, 'dependency_unavailable', 'redis'), None),
        (ApiError(401, 'unauthorized', 'revoked'), None),
    ],
)
def test_which_refusals_pause_and_since_when(error: ApiError, since: datetime | None) -> None:
    assert paused_since(error, NOW) == since


def test_since_text_names_the_utc_clock() -> None:
    assert since_text(datetime(2024, 5, 1, 16, 3, 12, tzinfo=timezone(timedelta(hours=2)))) == 'since 14:03:12 UTC'


def test_the_pause_lasts_until_every_paused_stream_has_read_again() -> None:
    pause, heard = LivePause(), []
    pause.watch(heard.append)
    runs, cards = object(), object()
    pause.paused(runs, NOW)
    pause.paused(cards, NOW + timedelta(seconds=1))  # a later refusal of another stream: the time shown stays
    pause.paused(runs, NOW + timedelta(seconds=3))  # the same stream refused again: no second start
    assert heard == [NOW] and pause.is_paused(runs) and pause.since == NOW
    pause.resumed(runs)  # the runs list read again; the cards have not: still paused, since the same time
    assert heard == [NOW] and pause.since == NOW and not pause.is_paused(runs)
    pause.resumed(cards)
    assert heard == [NOW, None] and pause.since is None
    pause.resumed(cards)  # a stream that was not paused (every open reads again): nothing to say
    assert heard == [NOW, None]


def test_an_earlier_start_moves_the_time_and_a_late_listener_hears_it_at_once() -> None:
    pause, heard = LivePause(), []
    pause.paused('a', NOW)
    pause.watch(heard.append)  # a banner drawn during the pause (a page opened in place)
    pause.paused('b', NOW - timedelta(seconds=5))
    assert heard == [NOW, NOW - timedelta(seconds=5)]


def test_a_failing_listener_does_not_keep_the_others_in_the_dark() -> None:
    pause, heard = LivePause(), []

    def gone(_: datetime | None) -> None:
        raise RuntimeError('the element was deleted')

    pause.watch(gone)
    pause.watch(heard.append)
    pause.paused('a', NOW)
    assert heard == [NOW]
