"""Fixtures for the capacity tests: one JPKI centre, one qualification book, two real cards.

Keys come from the same seeded, disk-cached KeySource as the JPKI tests (pool of 2 holder keys).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from emulators.demo import demo_resident
from twin.models.capacity.cards import issue_card
from twin.services.eligibility import (
    EligibilityService,
    InsurerKind,
    PersonFacts,
    Qualification,
    QualificationBook,
)
from twin.services.jpki import Jpki, KeySource
from twin.services.store import MemoryStore

SEED = 20260401
NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)  # 09:30 JST


@pytest.fixture(scope="session")
def infra_keys() -> KeySource:
    return KeySource(SEED)


@pytest.fixture(scope="session")
def holder_keys() -> KeySource:
    return KeySource(SEED, pool_size=2)


@pytest.fixture
def world(infra_keys, holder_keys):
    """A JPKI centre, a book with two insured residents linked correctly, their cards."""
    jpki = Jpki.bootstrap(NOW, infra_keys)
    book = QualificationBook(MemoryStore())
    svc = EligibilityService(book, jpki)
    people = {}
    for i, (ref, rid) in enumerate((("p-1", "demo-1"), ("p-2", "demo-2"))):
        r = demo_resident(rid)
        facts = PersonFacts(r.info.name, r.info.birth_date, r.info.sex)
        q = Qualification(
            "06130012", f"1234{i}", "00", InsurerKind.SOCIETY, facts, date(2020, 4, 1), limit_category="ウ"
        )
        book.register(q)
        book.link(q.key, ref)
        people[ref] = (r, facts, q, issue_card(jpki, holder_keys, r, ref, NOW))
    return jpki, book, svc, people
