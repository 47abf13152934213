"""Insurers register qualifications and link them to My Number; the check finds (most) mis-links."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.services.eligibility import EligibilityError, InsurerKind, PersonFacts, Qualification, QualificationBook
from twin.services.store import MemoryStore


def _population(n: int, twins_every: int = 10):
    """n persons; every ``twins_every``-th shares name, birth date and sex with the one before."""
    facts = {}
    for i in range(n):
        if i % twins_every == 1:
            facts[f"p-{i}"] = facts[f"p-{i - 1}"]
        else:
            facts[f"p-{i}"] = PersonFacts(f"name-{i}", date(1950, 1, 1) + timedelta(days=37 * i), "12"[i % 2])
    return facts


def _book(facts):
    book = QualificationBook(MemoryStore())
    keys = {}
    for i, (ref, f) in enumerate(facts.items()):
        q = Qualification(f"{138000 + i % 7:06d}", f"{i:06d}", "00", InsurerKind.NATIONAL, f, date(2021, 4, 1))
        book.register(q)
        keys[ref] = q.key
    return book, keys


def _confusable(ref: str, rng: np.random.Generator) -> str:
    """The neighbour in the list: the same-attributes twin for odd-paired persons, else a stranger."""
    i = int(ref.split("-")[1])
    return f"p-{i + 1 if i % 10 == 0 else i - 1}"


@settings(max_examples=15, deadline=None)
@given(rate=st.floats(0.0, 0.5), seed=st.integers(0, 2**32 - 1))
def test_links_go_wrong_at_the_error_rate_and_every_wrong_link_is_either_flagged_or_indistinguishable(rate, seed):
    facts = _population(200)
    book, keys = _book(facts)
    outcome = book.link_batch(
        [(keys[r], r) for r in facts], rate, _confusable, np.random.default_rng(seed)
    )
    assert outcome.linked == 200 and len(outcome.wrong) <= 200
    report = book.detect_mislinks(facts.get, truth=outcome.wrong)
    assert report.checked == 200 and report.false_positives == 0  # no stale register entries here
    for key in outcome.wrong:
        q = book.get(key)
        assert (key in report.flagged) == (facts[q.linked_person] != q.holder)
    assert report.true_positives + report.missed == len(outcome.wrong)


def test_the_error_rate_shows_in_the_count_and_the_check_has_recall_below_one():
    facts = _population(2000)
    book, keys = _book(facts)
    outcome = book.link_batch([(keys[r], r) for r in facts], 0.1, _confusable, np.random.default_rng(7))
    assert 150 < len(outcome.wrong) < 250  # 10 % of 2,000, with binomial spread
    report = book.detect_mislinks(facts.get, truth=outcome.wrong)
    assert 0.7 < report.recall < 1.0  # the same-attributes twins slip through
    assert report.precision == 1.0


def test_a_name_changed_since_enrolment_is_a_false_alarm():
    facts = _population(20)
    book, keys = _book(facts)
    book.link_batch([(keys[r], r) for r in facts], 0.0, _confusable, np.random.default_rng(1))
    married = dict(facts)
    married["p-4"] = PersonFacts("new-name", facts["p-4"].birth_date, facts["p-4"].sex)
    report = book.detect_mislinks(married.get, truth=[])
    assert report.flagged == (keys["p-4"],) and report.false_positives == 1 and report.precision == 0.0


def test_relinking_moves_the_qualification_between_persons():
    facts = _population(3)
    book, keys = _book(facts)
    book.link(keys["p-0"], "p-2")
    book.link(keys["p-0"], "p-0")
    assert book.linked_to("p-2") == [] and [q.key for q in book.linked_to("p-0")] == [keys["p-0"]]


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        ({"insurer_number": "1380001"}, "bad_insurer_number", "insurer_number"),
        ({"insurer_number": "13800001"}, "bad_insurer_number", "6-digit"),
        ({"branch": "A1"}, "bad_branch", "branch"),
        ({"limit_category": "Z"}, "bad_limit_category", "limit_category"),
        ({"valid_until": date(2020, 1, 1)}, "bad_period", "valid_until"),
    ],
)
def test_bad_registrations_are_refused_with_the_field_named(change, code, named):
    book = QualificationBook(MemoryStore())
    base = dict(
        insurer_number="138000", insured_number="000001", branch="00", kind=InsurerKind.NATIONAL,
        holder=PersonFacts("x", date(1980, 1, 1), "1"), valid_from=date(2021, 4, 1),
    )
    with pytest.raises(EligibilityError) as e:
        book.register(Qualification(**{**base, **change}))
    assert e.value.code == code and named in str(e.value)


def test_a_second_registration_of_the_same_insured_number_is_refused():
    facts = _population(1)
    book, keys = _book(facts)
    with pytest.raises(EligibilityError) as e:
        book.register(book.get(keys["p-0"]))
    assert e.value.code == "duplicate"


def test_a_bad_error_rate_is_refused():
    book = QualificationBook(MemoryStore())
    with pytest.raises(EligibilityError, match="error_rate"):
        book.link_batch([], 1.5, _confusable, np.random.default_rng(0))


def test_the_initial_bulk_load_registers_and_links_like_one_by_one_and_is_all_or_nothing() -> None:
    facts = _population(40)
    quals = [
        Qualification(f"{138000 + i % 7:06d}", f"{i:06d}", "00", InsurerKind.NATIONAL, f, date(2021, 4, 1),
                      linked_person=ref if i % 5 else None)
        for i, (ref, f) in enumerate(facts.items())
    ]  # fmt: skip
    bulk = QualificationBook(MemoryStore())
    assert bulk.load_initial(iter(quals)) == 40
    one_by_one, _ = _book(facts)
    for q in quals:
        if q.linked_person is not None:
            one_by_one.link(q.key, q.linked_person)
    for ref in facts:
        assert bulk.linked_to(ref) == one_by_one.linked_to(ref)
        assert bulk.current_for(ref, date(2024, 1, 1)) == one_by_one.current_for(ref, date(2024, 1, 1))
    assert bulk.get(quals[0].key).linked_person is None and bulk.get(quals[1].key).linked_person == "p-1"

    empty = QualificationBook(MemoryStore())
    bad = [*quals[:3], Qualification("12345", "1", "00", InsurerKind.NATIONAL, facts["p-0"], date(2021, 4, 1))]
    with pytest.raises(EligibilityError, match="insurer_number: '12345' is not 6 or 8 digits"):
        empty.load_initial(bad)
    assert empty.store.count("eligibility.qualification") == 0, "nothing of a refused load is kept"
    with pytest.raises(EligibilityError, match=r"initial load: insert eligibility.qualification\[\('138000'"):
        bulk.load_initial(quals[:1])
    again = QualificationBook(MemoryStore())
    again.register(Qualification("138001", "999999", "00", InsurerKind.NATIONAL, facts["p-1"], date(2021, 4, 1)))
    again.link(("138001", "999999", "00"), "p-1")
    with pytest.raises(EligibilityError, match="a person already has links"):
        again.load_initial(quals[1:2])
