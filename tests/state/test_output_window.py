"""OutputWindow: what the timeline tab shows of a run's output (no I/O)."""

from __future__ import annotations

from app.state.timeline import EARLIER_PAGE, OutputWindow


def events(first: int, last: int, kind: str = 'output') -> list[dict]:
    return [{'seq': s, 'type': kind, 'text': f'line {s}'} for s in range(first, last + 1)]


def test_repeated_and_out_of_order_events_show_once_in_order() -> None:
    window = OutputWindow(window=100)
    assert [line.seq for line in window.accept(events(1, 3))] == [1, 2, 3]
    assert [line.seq for line in window.accept(list(reversed(events(2, 5))))] == [4, 5]
    assert window.accept(events(1, 5)) == []


def test_a_burst_larger_than_the_window_shows_only_its_tail() -> None:
    window = OutputWindow(window=1000)
    shown = window.accept(events(1, 100_000))
    assert len(shown) == 1000 and shown[-1].seq == 100_000 and window.first_shown_seq == 99_001


def test_paused_holds_at_most_a_window_and_counts_the_rest() -> None:
    window = OutputWindow(window=10)
    window.accept(events(1, 5))
    window.pause()
    assert window.accept(events(6, 30)) == []
    assert window.held_count == 25
    lines, skipped = window.resume()
    assert [line.seq for line in lines] == list(range(21, 31)) and skipped == 15
    assert window.held_count == 0 and window.following


def test_earlier_pages_walk_back_to_the_start() -> None:
    window = OutputWindow(window=1000)
    window.accept(events(99_001, 100_000))
    assert window.earlier_range() == (99_000 - EARLIER_PAGE, EARLIER_PAGE)
    window.loaded_earlier(events(98_001, 99_000))
    assert window.first_shown_seq == 98_001
    window.earliest_loaded = 500
    assert window.earlier_range() == (0, 499)
    window.loaded_earlier(events(1, 499))
    assert window.earlier_range() is None and not window.has_earlier


def test_stage_markers_are_collected() -> None:
    window = OutputWindow(window=2)
    window.accept(events(1, 1, 'stage') + events(2, 10))
    assert [line.seq for line in window.stages] == [1]
    assert window.stages[0].marker == '▶ '


def test_tail_start() -> None:
    assert OutputWindow(window=1000).tail_start(100_000) == 99_000
    assert OutputWindow(window=1000).tail_start(10) == 0


def test_the_tail_view_drops_its_oldest_lines_and_earlier_loads_before_what_is_still_shown() -> None:
    window = OutputWindow(window=10)
    window.accept(events(1, 5))
    window.accept(events(6, 30))  # the view keeps 21..30
    assert window.first_shown_seq == 21
    assert window.earlier_range() == (0, 20)


def test_jump_to_tail_forgets_what_was_shown() -> None:
    window = OutputWindow(window=10)
    window.accept(events(1, 5))
    window.loaded_earlier([])
    window.jump_to_tail(1000)
    assert window.last_seq == 990 and window.first_shown_seq is None
    assert [line.seq for line in window.accept(events(991, 1000))] == list(range(991, 1001))
    assert window.first_shown_seq == 991
