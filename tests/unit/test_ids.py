from app.core.ids import new_run_id


def test_run_ids_sort_in_creation_order_and_are_unique() -> None:
    ids = [new_run_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.startswith('run_') and len(i) == 30 for i in ids)
