"""Agent fidelity: a sample of patients at the reception, each check through the real code.

A clinic's reception on the sampled hour: the patient puts the card on the face-authentication
reader (emulators.face_auth over an in-process reader holding a real personalised card OS); the
face matches, or the patient keys the PIN and the card signs the reception's challenge
(JpkiClient), or the staff check the face visually, or the patient falls back to the insured
number. The check then goes to the real eligibility service, which validates the certificate and
asks the real JPKI OCSP responder. Key generation is slow, so a few cards are issued and the
patients take turns with them; one of them was revoked (reported lost) before the week began.

A card answers only once it is registered as the insurance card (健康保険証利用登録). Every holder
who could (one with a qualification linked to her) registered before the week, through the
qualification book's rule; the reader offers the registration on the spot (初回登録) to a card that
is not registered, and the patient accepts, which the book refuses for a holder a mis-link left with
nothing linked (counted as ``refused_no_qualification``, as before). First registrations at the
reader, and the reader time they take, are not represented: no share of first-time users or time
for the registration is among the sources (twin/data/FIGURES.md).

The counts are compared with what the aggregate fidelity expects for the same parameters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from emulators.demo import DEMO_AUTH_PIN, demo_resident, demo_resident_ids
from emulators.face_auth import FaceAuthParameters, FaceAuthReader
from twin.models.capacity.aggregate import OptionResult
from twin.models.capacity.cards import issue_card
from twin.models.capacity.params import Params
from twin.services.eligibility import (
    Consent,
    EligibilityError,
    EligibilityService,
    InsurerKind,
    PersonFacts,
    Qualification,
    QualificationBook,
)
from twin.services.jpki import Jpki, KeySource
from twin.services.store import MemoryStore

KEY_SEED = 20260401  # the disk-cached keys the JPKI tests use
OUTCOMES = (
    "number", "face", "pin", "visual", "fallback_number", "answered", "refused_revoked", "refused_no_qualification",
    "wrong_answer",
)


def _world(params: Params, start: dt.datetime, rng: np.random.Generator) -> tuple[Any, ...]:
    jpki = Jpki.bootstrap(start - dt.timedelta(days=30), KeySource(KEY_SEED))
    keys = KeySource(KEY_SEED, pool_size=2)
    book = QualificationBook(MemoryStore())
    ids = demo_resident_ids()[: params.agent.cards + 1]  # the last one's card is revoked
    cards, quals = [], []
    for i, rid in enumerate(ids):
        r = demo_resident(rid)
        ref = f"p-{i}"
        q = Qualification(
            "06130012", f"{10000 + i}", "00", InsurerKind.SOCIETY,
            PersonFacts(r.info.name, r.info.birth_date, r.info.sex), dt.date(2020, 4, 1),
        )
        book.register(q)
        cards.append((r, issue_card(jpki, keys, r, ref, start - dt.timedelta(days=30))))
        quals.append(q)
    refs = [f"p-{i}" for i in range(len(ids))]
    outcome = book.link_batch(
        list(zip([q.key for q in quals], refs, strict=True)),
        params.agent.mislink_rate,
        lambda ref, g: refs[(refs.index(ref) + 1 + int(g.integers(len(refs) - 1))) % len(refs)],
        rng,
    )
    jpki.revoke_person(refs[-1], "loss", start - dt.timedelta(days=1))
    for ref in refs:  # 健康保険証利用登録 before the week, by every holder the book lets register
        try:
            book.register_card_use(ref, (start - dt.timedelta(days=30)).date(), key=f"before the week {ref}")
        except EligibilityError as e:
            if e.code != "no_qualification":  # a mis-link left her with nothing linked: she cannot
                raise
    return jpki, book, cards, quals, set(outcome.wrong)


def run_agent(params: Params, aggregate: OptionResult, rng: np.random.Generator) -> dict[str, Any]:
    """Sample ``params.agent.patients`` checks from the hourly demand and run each through the real code."""
    d = aggregate.demand
    start = dt.datetime.combine(d.start, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=9)))
    jpki, book, cards, quals, wrong = _world(params, start, rng)
    svc = EligibilityService(book, jpki)
    rec = params.reception
    face = FaceAuthParameters(
        match_rate=rec.match_rate, face_seconds=rec.face_seconds, card_seconds=rec.card_seconds,
        pin_seconds=rec.pin_seconds, max_face_attempts=rec.max_face_attempts,
    )
    readers = [FaceAuthReader(c.reader(), face, rng) for _, c in cards]
    w = d.checks / d.checks.sum()
    hours = rng.choice(d.hours, size=params.agent.patients, p=w)
    counts = dict.fromkeys(OUTCOMES, 0)
    n_good = len(cards) - 1
    for k, h in enumerate(np.sort(hours)):
        now = start + dt.timedelta(hours=int(h), seconds=float(rng.uniform(0, 3600)))
        revoked = rng.random() < params.agent.revoked_share
        i = n_good if revoked else int(rng.integers(n_good))
        resident, _ = cards[i]
        if rng.random() >= d.card_share[h]:
            counts["number"] += 1
            svc.check_by_number(*quals[i].key, resident.info.birth_date, now)
            continue
        knows_pin = rng.random() < rec.knows_pin
        challenge = f"reception-{k}".encode()
        seen = readers[i].confirm_identity(DEMO_AUTH_PIN if knows_pin else None, challenge)
        kwargs: dict[str, Any] = {}
        if seen.method == "face":
            method, kwargs = "face", {"face_verified": True}
        elif seen.method == "pin":
            method, kwargs = "pin", {"challenge": challenge, "signature": seen.signature}
        elif rng.random() < rec.visual_check:
            method, kwargs = "visual", {"face_verified": True}
        else:
            counts["fallback_number"] += 1
            svc.check_by_number(*quals[i].key, resident.info.birth_date, now)
            continue
        counts[method] += 1
        try:
            answer = svc.check_by_card(seen.certificate, now, consent=Consent(True, True),
                                       registration_key=f"reader {k}", **kwargs)  # fmt: skip
        except EligibilityError as e:
            if e.code not in ("revoked", "no_qualification"):
                raise
            counts[f"refused_{e.code}"] += 1  # a mis-link can leave the holder with nothing linked
            continue
        counts["answered"] += 1
        counts["wrong_answer"] += int(answer.insured != quals[i].key)
    return {"counts": counts, "expected": expected_counts(params, aggregate), "mislinked": len(wrong)}


def expected_counts(params: Params, aggregate: OptionResult) -> dict[str, float]:
    """What the aggregate fidelity's shares say the agent sample should show."""
    d, s = aggregate.demand, aggregate.shares
    n = params.agent.patients
    card = n * float((d.checks * d.card_share).sum() / d.checks.sum())
    by_card = card * (1 - s.fallback_number)
    revoked = by_card * params.agent.revoked_share
    return {
        "number": n - card,
        "face": card * s.face,
        "pin": card * s.pin,
        "visual": card * s.visual,
        "fallback_number": card * s.fallback_number,
        "answered": (by_card - revoked) * (1 - params.agent.mislink_rate),
        "refused_revoked": revoked,
        "refused_no_qualification": (by_card - revoked) * params.agent.mislink_rate,
        "wrong_answer": (by_card - revoked) * params.agent.mislink_rate,
    }
