"""The bulk selection's key follows the body it is sent with: "all matching" under changed filters is another
request, so it gets another key (the server refuses a key reused for another body)."""

from __future__ import annotations

from app.state.bulk_selection import BulkSelection


def test_all_matching_gets_a_new_key_when_the_filters_change_and_keeps_it_for_a_resend() -> None:
    selection = BulkSelection(selecting=True)
    selection.pick_all_matching()
    bad = {'project': 'p', 'since': 'yesterday'}
    body, key = selection.request('stop', bad)
    assert body == {'action': 'stop', 'filter': bad}
    assert selection.request('stop', dict(bad))[1] == key  # resent unchanged after an error: the same key
    narrowed = {'project': 'p', 'since': '2024-01-01'}
    body, new_key = selection.request('stop', narrowed)
    assert body == {'action': 'stop', 'filter': narrowed} and new_key != key
    assert selection.request('stop', {**narrowed, 'kind': None})[1] == new_key  # an empty filter sends nothing


def test_picked_rows_keep_their_key_whatever_the_filters() -> None:
    selection = BulkSelection(selecting=True)
    selection.toggle('r1')
    _, key = selection.request('retry', {'project': 'p'})
    assert selection.request('retry', {'project': 'q'})[1] == key  # the body names the rows, not the filters
