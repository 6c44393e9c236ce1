"""The log search as a person steps through it (app/state/log_search.py; no I/O)."""

from __future__ import annotations

import pytest

from app.state.log_search import LogSearch, key_action, query_problem


def answer(q: str, matches: list[int], total: int | None = None, truncated: bool = False) -> dict:
    return {'q': q, 'matches': matches, 'total': len(matches) if total is None else total, 'truncated': truncated}


# typed, searched before, shift, the log grew since -> what Enter does
KEYS = [
    ('error', None, False, False, 'search'),  # a first search
    ('error', 'error', False, False, 'next'),  # the same text: step on
    ('error', 'error', True, False, 'previous'),  # Shift+Enter: step back
    ('error', 'error', False, True, 'search'),  # the log grew: search again
    ('errors', 'error', False, False, 'search'),  # new text
    (' error', 'error', False, False, 'search'),  # spaces count in a log
    ('', 'error', False, False, 'clear'),
    ('   ', None, False, False, 'nothing'),
]


@pytest.mark.parametrize(('typed', 'searched', 'shift', 'stale', 'action'), KEYS)
def test_what_enter_does(typed: str, searched: str | None, shift: bool, stale: bool, action: str) -> None:
    assert key_action(typed, searched, shift=shift, stale=stale) == action


def test_too_long_text_is_refused_before_asking() -> None:
    assert query_problem('x' * 200) is None
    assert query_problem('x' * 201) == 'Search for at most 200 characters.'


def test_steps_wrap_around_when_every_match_is_listed() -> None:
    search = LogSearch()
    assert search.label() == '' and not search.can_go_on and not search.can_go_back
    assert search.start(answer('ok', [10, 20, 30]), run_last_seq=100) == 10
    assert search.label() == '1 of 3 matching lines' and search.can_go_back and search.can_go_on
    assert [search.step(True) for _ in range(3)] == [20, 30, 10]
    assert search.step(False) == 30 and search.label() == '3 of 3 matching lines'


def test_a_search_again_starts_from_where_one_was() -> None:
    search = LogSearch()
    search.start(answer('ok', [10, 20, 30]), run_last_seq=100)
    search.step(True)
    assert search.start(answer('ok', [10, 20, 30, 120]), run_last_seq=130, near=search.current) == 20
    assert search.label() == '2 of 4 matching lines'
    assert search.start(answer('ok', [10, 20]), run_last_seq=130, near=25) == 10  # nothing after: the first


def test_past_the_listed_matches_the_next_page_is_asked_for() -> None:
    search = LogSearch()
    search.start(answer('x', [1, 2], total=5, truncated=True), run_last_seq=100)
    assert search.label() == '1 of 5 matching lines'
    assert not search.can_go_back  # the last match is not listed yet: no wrap backwards
    assert search.step(False) is None and search.current == 1
    assert search.step(True) == 2
    assert search.step(True) == 'more' and search.current == 2 and search.after_seq() == 2
    search.extend(answer('x', [3, 4, 5], total=3))
    assert search.step(True) == 3 and search.label() == '3 of 5 matching lines'
    search.step(True)
    search.step(True)
    assert search.step(True) == 1  # all listed now: wraps around


def test_no_matches_and_one_match() -> None:
    search = LogSearch()
    assert search.start(answer('zzz', []), run_last_seq=5) is None
    assert search.label() == 'No matching lines' and search.step(True) is None and not search.can_go_on
    search.start(answer('a', [3]), run_last_seq=5)
    assert search.label() == '1 of 1 matching line' and not search.can_go_on and search.can_go_back
    assert search.step(True) == 3


def test_thousands_are_grouped_and_clear_forgets() -> None:
    search = LogSearch()
    search.start(answer('line', list(range(1, 1001)), total=90_000, truncated=True), run_last_seq=100_000)
    assert search.label() == '1 of 90,000 matching lines'
    assert search.stale(100_001) and not search.stale(100_000)
    search.clear()
    assert search.query is None and search.label() == '' and not search.stale(200_000)
