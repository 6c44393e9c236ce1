"""OutputWindow beyond the tail (app/state/timeline.py): jumps to a far line (#L123, a search match),
later and earlier pages around it, the bound on lines in the tab, and following again (no I/O)."""

from __future__ import annotations

import pytest

from app.state.timeline import JUMP_LINES, MAX_VIEW_LINES, OutputWindow, run_title


def events(first: int, last: int, kind: str = 'output') -> list[dict]:
    return [{'seq': s, 'type': kind, 'text': f'line {s}', 'at': '2026-01-01T00:00:00Z'} for s in range(first, last + 1)]


def shown(window: OutputWindow) -> tuple[int | None, int | None]:
    return window.first_shown_seq, window.last_shown_seq


@pytest.mark.parametrize(
    ('target', 'newest', 'span'),
    [
        (50_000, 100_000, (50_000 - JUMP_LINES // 2 - 1, JUMP_LINES)),  # the line in the middle
        (10, 100_000, (0, JUMP_LINES)),  # near the start: from the first line
        (99_900, 100_000, (100_000 - JUMP_LINES, JUMP_LINES)),  # near the end: the tail
        (100, 120, (0, JUMP_LINES)),  # a short log: all of it
    ],
)
def test_the_window_around_a_line(target: int, newest: int, span: tuple[int, int]) -> None:
    assert OutputWindow().around(target, newest) == span


def test_a_jump_far_from_the_tail_anchors_the_view_and_pauses_following() -> None:
    window = OutputWindow()
    window.accept(events(99_001, 100_000))  # following the tail
    after, limit = window.around(500, 100_000)
    lines = window.show_around(events(after + 1, after + limit), 100_000)
    assert lines[0].seq == after + 1 and lines[-1].seq == after + limit and lines[0].at
    assert window.is_shown(500) and not window.is_shown(100_000)
    assert window.anchored and not window.following and window.has_later
    assert window.accept(events(100_001, 100_005)) == []  # new lines are held, the view stays put
    assert window.held_count == 5
    assert window.must_reload_to_follow()  # the held lines do not join the view: reload the tail


def test_a_jump_near_the_tail_is_not_anchored_and_following_again_appends_the_held_lines() -> None:
    window = OutputWindow()
    window.accept(events(1, 800))
    window.show_around(events(301, 800), 800)
    assert not window.anchored and not window.following and not window.has_later
    window.accept(events(801, 810))
    assert window.held_count == 10 and not window.must_reload_to_follow()
    lines, skipped = window.resume()
    assert [line.seq for line in lines] == list(range(801, 811)) and skipped == 0
    assert shown(window) == (301, 810) and window.following


def test_later_pages_walk_to_the_tail_and_then_the_held_lines_are_shown() -> None:
    window = OutputWindow()
    window.show_around(events(1, 500), 1600)
    window.accept(events(1601, 1610))  # arrive while anchored
    assert window.later_range() == (500, 1000)
    assert [line.seq for line in window.loaded_later(events(501, 1500))][-1] == 1500
    assert window.anchored and window.later_range() == (1500, 1000)
    window.loaded_later(events(1501, 1610))
    assert not window.anchored and not window.has_later and shown(window) == (1, 1610)
    assert window.held_count == 0 and window.held == [] and window.last_seq == 1610
    assert not window.following  # still where the person put it, until they follow again


def test_the_tab_never_holds_more_than_max_view_lines() -> None:
    window = OutputWindow(window=1000, max_view=MAX_VIEW_LINES)
    window.accept(events(9_001, 10_000))
    for _ in range(2):
        window.loaded_earlier(events(*(window.earlier_range()[0] + 1, window.first_shown_seq - 1)))
    assert shown(window) == (7_001, 10_000) and not window.anchored and window.following
    window.loaded_earlier(events(6_001, 7_000))  # one page too many: the newest lines are let go
    assert shown(window) == (6_001, 9_000) and window.anchored and not window.following
    window.loaded_later(events(9_001, 10_000))  # and walking down again lets the top go
    assert shown(window) == (7_001, 10_000) and window.size == MAX_VIEW_LINES


def test_while_following_the_view_slides_keeping_what_was_loaded_above() -> None:
    window = OutputWindow(window=10)
    window.accept(events(1, 30))
    window.loaded_earlier(events(11, 20))
    assert shown(window) == (11, 30)
    window.accept(events(31, 35))  # the view keeps its 20 lines, sliding down
    assert shown(window) == (16, 35)


def test_a_gap_while_held_means_following_again_reloads() -> None:
    window = OutputWindow(window=10)
    window.accept(events(1, 10))
    window.pause()
    window.accept(events(11, 40))  # only the newest 10 are held
    assert window.must_reload_to_follow()
    window.jump_to_tail(40)
    assert window.last_seq == 30 and shown(window) == (None, None) and window.following
    assert window.held_count == 0


def test_later_pages_only_continue_the_view() -> None:
    window = OutputWindow()
    assert window.loaded_later(events(1, 5)) == []  # nothing shown yet
    window.show_around(events(1, 500), 2000)
    assert window.loaded_later(events(600, 700)) == []  # not adjacent: ignored
    assert shown(window) == (1, 500)


@pytest.mark.parametrize(
    ('run', 'title'),
    [
        ({'id': 'run_1', 'status': 'running'}, 'run_1 · running · Runboard'),
        ({'id': 'run_1', 'status': 'timed_out'}, 'run_1 · timed out · Runboard'),
        ({'id': 'run_1'}, 'run_1 · unknown · Runboard'),
    ],
)
def test_the_page_title_says_the_run_and_its_status(run: dict, title: str) -> None:
    assert run_title(run) == title
