from datetime import UTC, datetime, timedelta

from app.core.ids import new_run_id


def test_run_ids_sort_in_creation_order_and_are_unique() -> None:
    ids = [new_run_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.startswith('run_') and len(i) == 30 for i in ids)


def test_a_run_delayed_into_the_future_sorts_by_when_it_runs_and_leaves_the_sequence_alone() -> None:
    now = datetime.now(UTC)
    soon, later = new_run_id(at=now + timedelta(minutes=1)), new_run_id(at=now + timedelta(hours=1))
    after = new_run_id()
    assert after < soon < later  # an id minted now still sorts below both delayed ones
    assert new_run_id(at=now - timedelta(hours=1)) > after  # a moment already past is just "now"
