"""The resident registry answers "who was registered on date D, in which household, under which head"."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from payout_helpers import nation

from twin.services.registry import RegistryError, ResidentRegistry, Sex
from twin.services.store import MemoryStore

BASE = dt.date(2020, 1, 1)
D = dt.date(2020, 4, 27)


def small(store: MemoryStore | None = None) -> ResidentRegistry:
    """Household 0: residents 0 (head, 50), 1 (48), 2 (10) in 13101; household 1: resident 3 (head, 30) in
    13101; household 2: residents 4 (head, 70), 5 (72) in 27100."""
    return ResidentRegistry.load(
        store or MemoryStore(),
        as_of=BASE,
        municipality=np.array([13101, 13101, 13101, 13101, 27100, 27100]),
        age=np.array([50, 48, 10, 30, 70, 72]),
        sex=np.array([1, 2, 1, 2, 1, 2]),
        household=np.array([0, 0, 0, 1, 2, 2]),
        is_head=np.array([True, False, False, True, True, False]),
        rng=np.random.default_rng(0),
    )


def test_the_base_register_is_as_loaded() -> None:
    reg = small()
    snap = reg.snapshot(BASE)
    snap.check()
    assert snap.household.tolist() == [0, 0, 0, 1, 2, 2]
    assert snap.head.tolist() == [0, 3, 4]
    assert snap.municipality.tolist() == [13101] * 4 + [27100] * 2
    assert snap.household_sizes().tolist() == [3, 1, 2]
    ages = [(BASE - b).days // 365.2425 for b in reg.birth_dates().astype(dt.date)]
    assert [int(a) for a in ages] == [50, 48, 10, 30, 70, 72]
    r = reg.resident(5, BASE)
    assert r is not None and r.sex is Sex.FEMALE and r.household == 2 and not r.is_head
    assert "\u3000" in r.reading and all("\u30a0" <= c <= "\u30ff" or c == "\u3000" for c in r.reading)


def test_loading_a_synthetic_nation_is_consistent_and_reproducible() -> None:
    cols = nation(2000, seed=5)
    a = ResidentRegistry.load(MemoryStore(), as_of=BASE, rng=np.random.default_rng(1), **cols)
    b = ResidentRegistry.load(MemoryStore(), as_of=BASE, rng=np.random.default_rng(1), **cols)
    sa = a.snapshot(D)
    sa.check()
    assert np.array_equal(a._statics()[0], b._statics()[0]), "same seed, same My Numbers"
    assert np.array_equal(np.bincount(cols["household"]), sa.household_sizes())
    age_now = (np.datetime64(BASE) - a.birth_dates()).astype(int) / 365.2425
    assert np.all(np.abs(age_now - (cols["age"] + 0.5)) <= 0.51)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"is_head": np.array([True, True, False, True, True, False])}, "household 0: has 2 heads"),
        ({"is_head": np.array([False, False, False, True, True, False])}, "household 0: has 0 heads"),
        ({"sex": np.array([1, 2, 1, 0, 1, 2])}, "sex: 0 is not allowed; use 1 (male) or 2 (female)"),
        ({"age": np.array([50, 48, -1, 30, 70, 72])}, "age: -1 is not in [0, 130]"),
        ({"municipality": np.array([13101, 13102, 13101, 13101, 27100, 27100])}, "resident 1: lives in municipality"),
        ({"age": np.array([50, 48])}, "age: expected a 1-D array of 6 values"),
        ({"household": np.array([0.0, 0, 0, 1, 2, 2])}, "household: expected integers"),
    ],
)
def test_bad_columns_are_refused_with_the_field_named(change: dict, message: str) -> None:
    cols = {
        "municipality": np.array([13101, 13101, 13101, 13101, 27100, 27100]),
        "age": np.array([50, 48, 10, 30, 70, 72]),
        "sex": np.array([1, 2, 1, 2, 1, 2]),
        "household": np.array([0, 0, 0, 1, 2, 2]),
        "is_head": np.array([True, False, False, True, True, False]),
    } | change
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        ResidentRegistry.load(MemoryStore(), as_of=BASE, rng=np.random.default_rng(0), **cols)


def test_the_callers_columns_stay_the_callers() -> None:
    cols = nation(20, seed=3)
    cols["household"] = cols["household"].astype(np.int32)
    reg = ResidentRegistry.load(MemoryStore(), as_of=BASE, rng=np.random.default_rng(1), **cols)
    assert cols["household"].flags.writeable, "loading must not freeze the nation's arrays"
    cols["household"][:] = 0
    assert reg.snapshot(BASE).household_sizes().max() <= 5, "nor see later changes to them"


def test_the_synthetic_nations_sex_codes_can_be_named() -> None:
    cols = nation(50, seed=2)
    zero_one = cols | {"sex": (cols["sex"] - 1).astype(np.uint8)}
    a = ResidentRegistry.load(MemoryStore(), as_of=BASE, rng=np.random.default_rng(1), **cols)
    b = ResidentRegistry.load(MemoryStore(), as_of=BASE, rng=np.random.default_rng(1), sex_codes=(0, 1), **zero_one)
    assert np.array_equal(a._statics()[4], b._statics()[4])
    with pytest.raises(RegistryError, match=r"sex: 0 is not allowed; use 1 \(male\) or 2 \(female\)"):
        ResidentRegistry.load(MemoryStore(), as_of=BASE, rng=np.random.default_rng(1), **zero_one)


def test_a_birth_counts_from_its_effective_date() -> None:
    reg = small()
    on_d = reg.record_birth(D, 1, Sex.FEMALE, np.random.default_rng(1))
    after = reg.record_birth(D + dt.timedelta(days=1), 2, Sex.MALE, np.random.default_rng(2))
    snap = reg.snapshot(D)
    assert snap.registered[on_d] and snap.household_of(on_d) == 1
    assert not snap.registered[after] and snap.household_of(after) == -1
    assert reg.snapshot(D + dt.timedelta(days=1)).household_of(after) == 2
    assert snap.household_sizes().tolist() == [3, 2, 2]
    baby = reg.resident(on_d, D)
    assert baby is not None and baby.birth_date == D
    assert baby.reading.split("\u3000")[0] == str(reg.reading(3)).split("\u3000")[0], "the household's family name"


def test_a_head_who_dies_is_succeeded_by_the_oldest_remaining_member() -> None:
    reg = small()
    reg.record_death(dt.date(2020, 3, 1), 4)
    before, after = reg.snapshot(dt.date(2020, 2, 29)), reg.snapshot(D)
    assert before.head_of(2) == 4 and before.registered[4]
    assert after.head_of(2) == 5 and not after.registered[4] and after.household_of(4) == -1
    reg.record_emigration(dt.date(2020, 3, 2), 5)
    assert reg.snapshot(D).head_of(2) == -1, "an empty household is dissolved"
    assert 2 not in reg.snapshot(D).households()


def test_moves_form_or_join_households_and_heads_follow() -> None:
    reg = small()
    new = reg.record_move(dt.date(2020, 2, 1), 2, municipality=1100)  # the child moves away, forming a household
    reg.record_move(dt.date(2020, 2, 10), 0, join=1)  # the head of household 0 joins household 1
    reg.record_head_change(dt.date(2020, 3, 1), 1, 0)
    snap = reg.snapshot(D)
    snap.check()
    assert new == 3 and snap.head_of(3) == 2 and snap.household_municipality[3] == 1100
    assert snap.head_of(0) == 1, "the remaining member heads household 0"
    assert snap.members(1).tolist() == [0, 3] and snap.head_of(1) == 0
    assert reg.snapshot(dt.date(2020, 2, 20)).head_of(1) == 3, "the head change is effective from its date"
    assert snap.municipality[2] == 1100


def test_late_notifications_are_replayed_in_date_order() -> None:
    reg = small()
    reg.record_move(dt.date(2020, 4, 1), 3, join=0)
    reg.record_birth(dt.date(2020, 3, 1), 1, Sex.MALE, np.random.default_rng(0))  # reported late
    assert reg.snapshot(dt.date(2020, 3, 15)).household_sizes().tolist() == [3, 2, 2]
    assert reg.snapshot(D).household_sizes().tolist() == [4, 1, 2]
    assert reg.snapshot(D).head_of(1) == 6, "the baby is the only member left when resident 3 moves out"


def test_a_late_notification_that_contradicts_a_later_one_is_refused_and_changes_nothing() -> None:
    store = MemoryStore()
    reg = small(store)
    reg.record_move(dt.date(2020, 4, 1), 1, join=1)
    before = reg.snapshot(D)
    with pytest.raises(RegistryError, match="resident 1 is not registered that day"):
        reg.record_death(dt.date(2020, 3, 1), 1)  # the move on 4/1 would then be a move of a dead person
    assert np.array_equal(reg.snapshot(D).household, before.household)
    assert store.count("registry.events") == 1


@pytest.mark.parametrize(
    ("act", "message"),
    [
        (lambda r: r.record_birth(D, 9, 1, np.random.default_rng(0)), "household 9 has no registered members"),
        (lambda r: r.record_death(D, 99), "resident 99 is not registered"),
        (lambda r: r.record_move(D, 1, join=0), "already in household 0"),
        (lambda r: r.record_move(D, 1, join=2, municipality=5), "either join= or municipality="),
        (lambda r: r.record_head_change(D, 0, 3), "resident 3 is not a member of household 0"),
        (lambda r: r.record_death(D, 0, new_head=3), "new head 3: not a remaining member of household 0"),
        (lambda r: r.record_death(dt.date(2019, 12, 31), 1), "before the register's base date"),
        (lambda r: r.snapshot(dt.date(2019, 12, 31)), "before the register's base date"),
    ],
)
def test_impossible_notifications_are_refused(act, message: str) -> None:  # noqa: ANN001
    reg = small()
    with pytest.raises(RegistryError, match=message):
        act(reg)


def test_a_reopened_registry_sees_every_recorded_event() -> None:
    store = MemoryStore()
    reg = small(store)
    reg.record_birth(dt.date(2020, 2, 1), 0, Sex.FEMALE, np.random.default_rng(0))
    reg.record_move(dt.date(2020, 2, 2), 3, municipality=27100)
    reg.record_death(dt.date(2020, 2, 3), 0)
    again = ResidentRegistry(store)
    for day in (BASE, dt.date(2020, 2, 1), dt.date(2020, 2, 2), D):
        a, b = reg.snapshot(day), again.snapshot(day)
        assert np.array_equal(a.household, b.household) and np.array_equal(a.head, b.head)
    assert again.reading(6) == reg.reading(6)
    reg.record_birth(dt.date(2020, 2, 4), 0, Sex.MALE, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(reg._statics(), ResidentRegistry(store)._statics(), strict=True))
    assert reg.find_by_my_number(reg.resident(7, D).my_number) == 7  # type: ignore[union-attr]


def test_an_empty_store_has_no_registry() -> None:
    with pytest.raises(RegistryError, match="holds no resident registry"):
        ResidentRegistry(MemoryStore())


events = st.lists(
    st.tuples(
        st.sampled_from(["birth", "death", "move", "join", "head"]),
        st.integers(0, 60),  # day offset from the base date
        st.integers(0, 40),  # resident or household pick
        st.integers(0, 40),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(events)
def test_any_accepted_sequence_keeps_one_head_per_household(script: list[tuple[str, int, int, int]]) -> None:
    store = MemoryStore()
    reg = ResidentRegistry.load(store, as_of=BASE, rng=np.random.default_rng(0), **nation(8, seed=1))
    rng = np.random.default_rng(2)
    for kind, day, a, b in script:
        on = BASE + dt.timedelta(days=day)
        try:
            if kind == "birth":
                reg.record_birth(on, a % reg.n_households, 1 + b % 2, rng)
            elif kind == "death":
                reg.record_death(on, a % len(reg))
            elif kind == "move":
                reg.record_move(on, a % len(reg), municipality=1000 + b % 3)
            elif kind == "join":
                reg.record_move(on, a % len(reg), join=b % reg.n_households)
            else:
                reg.record_head_change(on, a % reg.n_households, b % len(reg))
        except RegistryError:
            pass  # refused notifications must leave no trace: checked below via the reopened registry
    again = ResidentRegistry(store)
    for day in (0, 20, 40, 61):
        on = BASE + dt.timedelta(days=day)
        snap = reg.snapshot(on)
        snap.check()
        other = again.snapshot(on)
        assert np.array_equal(snap.household, other.household) and np.array_equal(snap.head, other.head)
