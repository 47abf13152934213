"""The store contract, asked of every implementation: MemoryStore, SQLite and PostgreSQL behave alike."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.services.store import DuplicateKeyError, StoreError


def test_scans_run_in_key_order_ints_then_strings_then_tuples(make_store) -> None:
    store = make_store()
    with store.transaction() as tx:
        for k in (5, "b", (2, "x"), -3, "a", (1, 9), 10**12):
            tx.put("t", k, str(k))
    assert [k for k, _ in store.scan("t")] == [-3, 5, 10**12, "a", "b", (1, 9), (2, "x")]
    assert [k for k, _ in store.scan("t", 4)] == [-3, 5, 10**12, "a"]
    with store.transaction() as tx:
        tx.delete("t", 5)
        tx.put("t", 0, "0")
        assert [k for k, _ in tx.scan("t", 2)] == [-3, 0], "a transaction sees its own writes in order"
        assert tx.get("t", 5) is None
    assert store.count("t") == 7 and store.count("nothing") == 0


def test_insert_refuses_an_existing_key_and_put_refuses_none(make_store) -> None:
    store = make_store()
    with store.transaction() as tx:
        tx.insert("t", "a", 1)
        with pytest.raises(DuplicateKeyError, match=r"insert t\['a'\]: a record with this key already exists"):
            tx.insert("t", "a", 2)
        with pytest.raises(StoreError, match="None is not a record"):
            tx.put("t", "b", None)
    assert store.get("t", "a") == 1


def test_insert_many_loads_in_bulk_and_a_taken_key_rolls_the_whole_load_back(make_store) -> None:
    store = make_store()
    rows = [((f"ins-{i:05d}", "00"), ("record", i)) for i in range(25_000)]  # more than one SQL chunk
    with store.transaction() as tx:
        assert tx.insert_many("bulk", iter(rows)) == 25_000
    assert store.count("bulk") == 25_000 and store.get("bulk", ("ins-12345", "00")) == ("record", 12345)
    clash = [(("new", "00"), ("record", -1)), (("ins-00007", "00"), ("record", -2))]
    with pytest.raises(DuplicateKeyError, match=r"insert bulk\[\('ins-00007', '00'\)\]: a record with this key"), \
            store.transaction() as tx:  # fmt: skip
        tx.insert_many("bulk", clash)
    assert store.get("bulk", ("new", "00")) is None, "the rows before the taken key were rolled back"
    with pytest.raises(DuplicateKeyError), store.transaction() as tx:  # the same key twice in one load
        tx.insert_many("twice", [(1, "a"), (1, "b")])
    assert store.count("twice") == 0
    with store.transaction() as outer, store.transaction() as inner:  # nested: through the write buffer
        inner.insert_many("nested", [(1, "a"), (2, "b")])
        assert outer.get("nested", 2) == "b" or store.count("nested") == 0


def test_an_error_inside_a_transaction_writes_nothing_and_rollback_discards(make_store) -> None:
    store = make_store()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put("t", 1, "x")
        raise RuntimeError("the caller failed half-way")
    tx = store.transaction()
    tx.put("t", 2, "y")
    tx.rollback()
    assert store.count("t") == 0


def test_committed_records_survive_reopening_the_store(make_store) -> None:
    from twin.services.payout import Channel, Programme

    store = make_store()
    record = (Programme(channels=frozenset({Channel.MAIL, Channel.PUSH})), dt.date(2020, 5, 1), "ア", 1.5)
    with store.transaction() as tx:
        tx.put("meta", "terms", record)
    again = make_store()
    assert again.get("meta", "terms") == record


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8) | st.floats(allow_nan=False)
    | st.dates(),
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.frozensets(st.integers(), max_size=3),
    max_leaves=8,
).filter(lambda v: v is not None)  # fmt: skip
keys = st.integers(-(2**63), 2**63 - 1) | st.text(max_size=6) | st.tuples(st.integers(0, 5), st.text(max_size=3))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(st.tuples(st.lists(st.tuples(st.booleans(), keys, values), max_size=4), st.booleans()),
                       max_size=6))  # fmt: skip
def test_committed_state_is_exactly_the_transactions_that_committed(make_store, script: list) -> None:
    store = make_store()
    table = f"h{threading.get_ident()}-{len(store.tables()) if hasattr(store, 'tables') else 0}"
    with store.transaction() as tx:  # start from an empty table each example
        for k, _ in list(tx.scan(table)):
            tx.delete(table, k)
    model: dict = {}
    for writes, commit in script:
        tx = store.transaction()
        staged = dict(model)
        for is_put, k, v in writes:
            if is_put:
                tx.put(table, k, v)
                staged[k] = v
            else:
                tx.delete(table, k)
                staged.pop(k, None)
        assert dict(tx.scan(table)) == staged
        if commit:
            tx.commit()
            model = staged
        else:
            tx.rollback()
        assert dict(store.scan(table)) == model
        assert store.count(table) == len(model)


def test_nested_transactions_land_with_the_outer_one_or_not_at_all(make_sql_store) -> None:
    store = make_sql_store()
    with store.transaction() as outer:
        outer.put("t", 1, "outer")
        with store.transaction() as inner:
            assert inner.get("t", 1) == "outer"
            inner.put("t", 2, "kept")
        with pytest.raises(KeyError), store.transaction() as failed:
            failed.put("t", 3, "dropped")
            raise KeyError("one application of a batch failed")
    assert dict(store.scan("t")) == {1: "outer", 2: "kept"}
    with pytest.raises(RuntimeError), store.transaction() as outer:
        with store.transaction() as inner:
            inner.put("t", 4, "lost with the outer transaction")
        raise RuntimeError("the batch failed")
    assert store.get("t", 4) is None
    with store.transaction() as outer:
        with store.transaction() as middle:
            middle.put("t", 5, "middle")
            with store.transaction() as inner:
                inner.delete("t", 1)
                inner.insert("t", 6, "inner")
                assert [k for k, _ in inner.scan("t")] == [2, 5, 6]
            with pytest.raises(DuplicateKeyError):
                middle.insert("t", 6, "again")
            assert middle.get("t", 1) is None and outer.get("t", 1) == "outer", "not handed down before commit"
        assert [k for k, _ in outer.scan("t")] == [2, 5, 6]
        with pytest.raises(ValueError), store.transaction():
            with store.transaction() as inner:
                inner.put("t", 7, "committed into a transaction that then fails")
            raise ValueError("the middle one fails")
        assert outer.get("t", 7) is None
    assert dict(store.scan("t")) == {2: "kept", 5: "middle", 6: "inner"}


def test_keys_and_values_a_sql_store_cannot_hold_are_refused_by_name(make_sql_store) -> None:
    store = make_sql_store()
    with store.transaction() as tx:
        with pytest.raises(StoreError, match=r"key 1\.5: keys must be ints, strings or tuples"):
            tx.put("t", 1.5, "x")
        with pytest.raises(StoreError, match="int keys must fit in 64 bits"):
            tx.put("t", 2**64, "x")
        with pytest.raises(ValueError, match="cannot store a value of type builtins.object"):
            tx.put("t", 1, object())
        tx.put("arrays", 1, np.arange(6, dtype=np.int32).reshape(2, 3))
    a = store.get("arrays", 1)
    assert a.dtype == np.int32 and a.tolist() == [[0, 1, 2], [3, 4, 5]] and not a.flags.writeable


def test_a_sql_store_hands_back_what_it_wrote_only_while_the_row_still_holds_that_text(make_sql_store) -> None:
    """The written-records memo (decoding was 40 % of a SQLite batch) must be invisible to a reader."""
    from twin.services.payout import Outcome
    from twin.services.payout.records import HouseholdFile, Status

    store, other = make_sql_store(), make_sql_store()  # two connections on one database
    first = HouseholdFile(Status.APPLIED, 3, None, -1, None, 0)
    with store.transaction() as tx:
        tx.put("t", 1, first)
        tx.put("t", 2, (np.int64(5), Outcome.VERIFIED))  # reads back as an int: never handed out as written
    assert store.get("t", 1) == first and type(store.get("t", 1)) is HouseholdFile
    back = store.get("t", 2)
    assert back == (5, Outcome.VERIFIED) and type(back[0]) is int  # type: ignore[index]
    second = first._replace(status=Status.VERIFIED)
    with other.transaction() as tx:
        tx.put("t", 1, second)
    assert store.get("t", 1) == second, "another connection's write is seen, not the value this one wrote"
    assert dict(store.scan("t"))[1] == second
    with pytest.raises(RuntimeError), store.transaction(), store.transaction() as inner:
        inner.put("t", 1, first._replace(status=Status.PAID))  # flushed into the database transaction ...
        inner.commit()
        raise RuntimeError("... which then rolls back")
    assert store.get("t", 1) == second and store.get_many("t", [1]) == {1: second}  # type: ignore[attr-defined]
    with store.transaction() as tx:
        tx.delete("t", 1)
    assert store.get("t", 1) is None


def test_get_many_reads_int_string_and_tuple_keys_and_leaves_absent_ones_out(make_sql_store) -> None:
    store = make_sql_store()
    keys = [7, -(2**63), 2**63 - 1, "a", "日本", "", (1, "x"), ("b", (2, 3))]
    with store.transaction() as tx:
        for i, k in enumerate(keys):
            tx.put("t", k, ("v", i))
        tx.put("other", 7, "another table")
    wanted = [*keys, 8, "b", (1, "y"), np.int64(7)]
    got = store.get_many("t", wanted)  # type: ignore[attr-defined]
    assert got == {k: ("v", i) for i, k in enumerate(keys)} | {np.int64(7): ("v", 0)}
    assert store.get_many("t", range(1000, 1700)) == {}  # type: ignore[attr-defined]  # more than one query
    with store.transaction() as tx:
        assert [tx.get("t", k) for k in keys] == [("v", i) for i in range(len(keys))]
        tx.delete("t", (1, "x"))
        tx.delete("t", "日本")
    assert store.count("t") == len(keys) - 2 and store.get("t", (1, "x")) is None


def test_a_sqlite_file_of_the_earlier_layout_is_migrated_on_open(tmp_path) -> None:
    """Files written before the rows were keyed by their scan order (primary key (tbl, k) and an index)."""
    import sqlite3

    from real_backends.stores import SqliteStore
    from real_backends.stores.codec import encode

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE records (
            tbl TEXT NOT NULL, k TEXT NOT NULL, kind INTEGER NOT NULL, ik INTEGER NOT NULL, sk TEXT NOT NULL,
            v TEXT NOT NULL, PRIMARY KEY (tbl, k)
        ) WITHOUT ROWID;
        CREATE INDEX records_order ON records (tbl, kind, ik, sk);
    """)
    old = [(10, "10", 0, 10, ""), (-2, "-2", 0, -2, ""), ("é", '"é"', 1, 0, "é".encode().hex()),
           ((1, "x"), '[1,"x"]', 2, 0, ""), ((0, "y"), '[0,"y"]', 2, 0, "")]  # fmt: skip
    conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                     [("t", k, kind, ik, sk, encode(("old", k))) for _, k, kind, ik, sk in old])  # fmt: skip
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    assert [k for k, _ in store.scan("t")] == [-2, 10, "é", (0, "y"), (1, "x")]
    assert all(store.get("t", key) == ("old", k) for key, k, *_ in old)
    with pytest.raises(DuplicateKeyError), store.transaction() as tx:
        tx.insert("t", (1, "x"), "again")
    with store.transaction() as tx:
        tx.put("t", (1, "x"), "new")
        tx.insert("t", 11, "eleven")
    store.close()
    again = SqliteStore(path)  # opened again: nothing left to migrate
    assert again.get("t", (1, "x")) == "new" and again.count("t") == 6
    names = [r[0] for r in again._conn.execute("SELECT name FROM sqlite_master").fetchall()]
    assert "records_order" not in names and "records_v2" not in names
    again.close()


def test_wiring_a_new_sqlite_file_gets_16k_pages_and_an_older_file_keeps_its_own(tmp_path) -> None:
    """Wiring only: the settings SqliteStore asks of SQLite (durability first: WAL, synchronous=FULL)."""
    import sqlite3

    from real_backends.stores import SqliteStore

    def pragmas(store: SqliteStore) -> tuple:
        c = store._conn
        return tuple(c.execute(f"PRAGMA {p}").fetchone()[0]
                     for p in ("page_size", "wal_autocheckpoint", "journal_mode", "synchronous"))  # fmt: skip

    new = SqliteStore(tmp_path / "new.db")
    assert pragmas(new) == (16_384, 2_048, "wal", 2)  # 2: FULL; 2,048 pages of 16 KiB: 32 MiB
    new.close()
    old = sqlite3.connect(tmp_path / "old.db")  # created with SQLite's default page
    old.execute("CREATE TABLE x (a)")
    old.commit()
    old.close()
    store = SqliteStore(tmp_path / "old.db")
    assert pragmas(store) == (4_096, 8_192, "wal", 2)
    with store.transaction() as tx:
        tx.put("t", 1, "one")
    store.close()
    assert SqliteStore(tmp_path / "old.db").get("t", 1) == "one"


def test_a_sqlite_transaction_takes_the_records_it_wrote_without_reading_them_until_another_connection_writes(
    tmp_path,
) -> None:
    """The trusted memo (SqlStore._begin): a batch reads back what the batch before wrote without asking
    SQLite, and a reader still cannot tell: another connection's commit, a rollback, a delete, a refused
    insert and a write the memo cannot hold each leave the database's own record to be read."""
    from real_backends.stores import SqliteStore
    from twin.services.payout.records import HouseholdFile, Status

    path = tmp_path / "one.db"
    store, other = SqliteStore(path), SqliteStore(path)
    reads: list[str] = []
    store._conn.set_trace_callback(lambda q: reads.append(q) if q.lstrip().startswith("SELECT") else None)
    first = HouseholdFile(Status.APPLIED, 3, None, -1, None, 0)
    with store.transaction() as tx:
        tx.put("t", 1, first)
        tx.put("t", 2, ("two", 2))
    reads.clear()
    with store.transaction() as tx:
        assert tx.get("t", 1) is first
        assert store.get_many("t", [1, 2, 9]) == {1: first, 2: ("two", 2)}  # type: ignore[attr-defined]
    assert len(reads) == 1 and reads[0].endswith("ik IN (9)"), f"only the key the memo does not hold is read: {reads}"

    second = first._replace(status=Status.VERIFIED)
    with other.transaction() as tx:
        tx.put("t", 1, second)
    with store.transaction() as tx:
        assert tx.get("t", 1) == second, "another connection's commit is seen"
    with pytest.raises(RuntimeError), store.transaction(), store.transaction() as inner:
        inner.put("t", 1, first._replace(status=Status.PAID))  # flushed into the database transaction ...
        inner.commit()
        raise RuntimeError("... which then rolls back")
    with store.transaction() as tx:
        assert tx.get("t", 1) == second, "a rolled-back write is not seen"

    with store.transaction() as tx:
        tx.put("t", 3, ("three",))
        tx.put("t", 4, ("four",))
        tx.put("t", 5, ("five",))
    with store.transaction(), store.transaction() as inner:
        inner.delete("t", 3)  # through the batch buffer
    with store.transaction() as tx:
        tx.delete("t", 4)  # straight to the database
    with store.transaction() as tx:
        assert tx.get("t", 3) is None and tx.get("t", 4) is None and store.get_many("t", [3, 4]) == {}  # type: ignore[attr-defined]
        with pytest.raises(DuplicateKeyError):
            tx.insert("t", 5, ("refused",))
        assert tx.get("t", 5) == ("five",), "a refused insert leaves the record it did not replace"
        tx.put("t", 5, [5, "a list"])  # reads back as a new list: not remembered
    with store.transaction() as tx:
        assert tx.get("t", 5) == [5, "a list"]
        tx.insert("t", 3, ("three again",))  # the deleted key is free
    assert store.get("t", 3) == ("three again",)
    store.close()
    other.close()
