"""The state store: keyed records in tables, changed only by whole transactions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.services.store import DuplicateKeyError, MemoryStore, SimulatedCrash, StoreError


def test_the_store_scans_in_key_order_whatever_the_insertion_order() -> None:
    store = MemoryStore()
    with store.transaction() as tx:
        for k in (5, 1, 9, 3):
            tx.put("t", k, str(k))
    assert [k for k, _ in store.scan("t")] == [1, 3, 5, 9]
    assert [k for k, _ in store.scan("t", 2)] == [1, 3]
    with store.transaction() as tx:
        tx.delete("t", 1)
        tx.put("t", 0, "0")
        assert [k for k, _ in tx.scan("t")] == [0, 3, 5, 9], "a transaction sees its own writes in order"
        assert tx.get("t", 1) is None
    tx = store.transaction()
    tx.put("t", 100, "x")
    tx.rollback()
    assert store.get("t", 100) is None and store.count("t") == 4


def test_insert_refuses_an_existing_key_and_put_refuses_none() -> None:
    store = MemoryStore()
    with store.transaction() as tx:
        tx.insert("t", "a", 1)
        with pytest.raises(DuplicateKeyError, match=r"insert t\['a'\]: a record with this key already exists"):
            tx.insert("t", "a", 2)
        with pytest.raises(StoreError, match="None is not a record"):
            tx.put("t", "b", None)
    assert store.get("t", "a") == 1


def test_an_error_inside_a_transaction_writes_nothing() -> None:
    store = MemoryStore()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put("t", 1, "x")
        raise RuntimeError("the caller failed half-way")
    assert store.count("t") == 0


transactions = st.lists(
    st.tuples(st.lists(st.tuples(st.sampled_from(["put", "delete"]), st.integers(0, 6), st.integers()), max_size=5),
              st.booleans()),  # (writes, crash on commit)
    max_size=20,
)  # fmt: skip


@given(transactions)
def test_committed_state_is_exactly_the_transactions_that_committed(script: list) -> None:
    store, model = MemoryStore(), {}
    for writes, crash in script:
        expected = dict(model)
        if crash:
            store.crash_on_commit(0)
        try:
            with store.transaction() as tx:
                for op, k, v in writes:
                    if op == "put":
                        tx.put("t", k, v)
                        expected[k] = v
                    else:
                        tx.delete("t", k)
                        expected.pop(k, None)
        except SimulatedCrash:
            assert crash
        else:
            assert not crash
            model = expected
        assert dict(store.scan("t")) == model and [k for k, _ in store.scan("t")] == sorted(model)


def test_bulk_raises_the_young_collection_threshold_and_restores_it() -> None:
    import gc

    from twin.services.store import BULK_GC_THRESHOLD, bulk

    before = gc.get_threshold()
    with bulk():
        assert gc.get_threshold()[0] == max(before[0], BULK_GC_THRESHOLD)
        with bulk():  # nested: still raised
            assert gc.get_threshold()[0] == max(before[0], BULK_GC_THRESHOLD)
        assert gc.get_threshold()[0] == max(before[0], BULK_GC_THRESHOLD)
    assert gc.get_threshold() == before
    try:
        with bulk():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
