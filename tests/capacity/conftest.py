"""Fixtures for the capacity tests: one JPKI centre, one qualification book, two real cards.

The JPKI centre and its keys are the JPKI tests' own (tests/_jpki_fixtures.py): the same seed, the
same disk-cached keys, the same instant.
"""

from __future__ import annotations

from datetime import date

import pytest
from _jpki_fixtures import NOW, holder_keys, infra_keys, jpki

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

# fixtures defined once for every test that needs a JPKI centre, taken by importing them
__all__ = ["holder_keys", "infra_keys", "jpki", "world"]


@pytest.fixture
def world(jpki: Jpki, holder_keys: KeySource):
    """A JPKI centre, a book with two insured residents linked correctly who registered their cards as the
    insurance card (健康保険証利用登録) on 2021-10-20, their cards."""
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
        book.register_card_use(ref, date(2021, 10, 20), key=f"portal {ref}")
        people[ref] = (r, facts, q, issue_card(jpki, holder_keys, r, ref, NOW))
    return jpki, book, svc, people
