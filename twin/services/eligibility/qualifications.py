"""Insurers' qualification files and their link to My Number (資格情報とマイナンバーの紐付け).

Every insured person in Japan holds a qualification with one insurer: a health insurance society
(健保組合) for employees of large firms, the association (協会けんぽ) for small firms, municipal
national health insurance (国民健康保険, 国保) for the self-employed and retired, or the late-stage
elderly system (後期高齢者医療) from 75. The insurer knows the person by an individual insured
number (被保険者番号 + 枝番, the two-digit branch that tells family members apart) and by the name,
birth date and sex it was told on enrolment. To let a My Number card stand in for the insurance
card, the insurer links each qualification to the person's My Number (マイナンバーの紐付け).

That step goes wrong now and then: a clerk picks a family member, or a same-name person found by
name and birth date alone, and the qualification now answers for the wrong person. The 2023 review
(総点検) found 8,351 such errors among about 82 million linked records. :class:`QualificationBook`
keeps the qualifications and the links in a :class:`twin.services.store.Store`, makes links with an
error rate drawn from a numpy Generator passed in, and runs the detection check that compares every
link with the resident register's four basic items: a mis-link to someone with the same birth date
and sex slips through (the check's recall below 1), and a correct link whose register entry changed
since enrolment (a name changed at marriage) is flagged by mistake (precision below 1).

The link is the insurer's act; using the card as the insurance card is the person's own
(健康保険証利用登録): logged into Myna Portal with the card (or at a facility's card reader), she
registers it once, and from that day the card answers for her qualification. The book records the
registration with its day (:meth:`QualificationBook.register_card_use`) and is the one place that
says whether a person had registered on a day (:meth:`QualificationBook.card_use_registered`), which
is what online eligibility confirmation asks before a card answers for a qualification (and where a
reader registers the card on the spot, :class:`twin.services.eligibility.EligibilityService`) and
what phase 2 of My Number Points asks before its 7,500-point insurance part.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from twin.services.store import DuplicateKeyError, Store

QUALIFICATIONS = "eligibility.qualification"
LINKS = "eligibility.link"  # person_ref -> tuple of insured keys linked to that person
LOADS = "eligibility.load"  # the name of each bulk load ("initial" first) -> its load_id
CARD_USE = "eligibility.card_use"  # person_ref -> CardUseRegistration (健康保険証利用登録)
CARD_USE_KEYS = "eligibility.card_use.keys"  # idempotency key -> (payload fingerprint, CardUseRegistration)


class EligibilityError(ValueError):
    """A request or record the eligibility services refuse; ``code`` names the rule that failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InsurerKind(StrEnum):
    SOCIETY = "society"  # 健康保険組合
    ASSOCIATION = "association"  # 全国健康保険協会 (協会けんぽ)
    NATIONAL = "national"  # 国民健康保険 (市町村国保)
    ELDERLY = "elderly"  # 後期高齢者医療広域連合


#: insurer-number length by kind (国保 six digits, the others eight)
INSURER_DIGITS = {InsurerKind.SOCIETY: 8, InsurerKind.ASSOCIATION: 8, InsurerKind.NATIONAL: 6, InsurerKind.ELDERLY: 8}
#: high-cost medical care limit categories (限度額適用区分)
LIMIT_CATEGORIES = ("ア", "イ", "ウ", "エ", "オ", "現役並みⅢ", "現役並みⅡ", "現役並みⅠ", "一般", "低所得Ⅱ", "低所得Ⅰ")

InsuredKey = tuple[str, str, str]  # (insurer number, insured number, branch)


@dataclass(frozen=True)
class PersonFacts:
    """The four basic items as a register or an insurer knows them (only what the check compares)."""

    name: str
    birth_date: dt.date
    sex: str


@dataclass(frozen=True)
class Qualification:
    """One insured person's qualification with one insurer, and the person it is linked to."""

    insurer_number: str
    insured_number: str
    branch: str
    kind: InsurerKind
    holder: PersonFacts  # as the insurer recorded it on enrolment
    valid_from: dt.date
    valid_until: dt.date | None = None
    limit_category: str = "一般"
    linked_person: str | None = None  # the resident-register person_ref the link points to

    @property
    def key(self) -> InsuredKey:
        return (self.insurer_number, self.insured_number, self.branch)

    def current(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class CardUseRegistration:
    """健康保険証利用登録: ``person_ref`` registered the card for use as the health-insurance card on ``on``,
    when ``qualification`` (the insured key) was her current linked qualification."""

    person_ref: str
    on: dt.date
    qualification: InsuredKey


def insured_key(insurer_number: object, insured_number: object, branch: object) -> InsuredKey:
    """Check the three parts of an individual insured number; EligibilityError naming the bad one."""
    if not isinstance(insurer_number, str) or not re.fullmatch(r"\d{6}|\d{8}", insurer_number):
        raise EligibilityError("bad_insurer_number", f"insurer_number: {insurer_number!r} is not 6 or 8 digits")
    if not isinstance(insured_number, str) or not re.fullmatch(r"[0-9A-Za-z\-]{1,20}", insured_number):
        raise EligibilityError(
            "bad_insured_number", f"insured_number: {insured_number!r} is not 1-20 letters, digits or '-'"
        )
    if not isinstance(branch, str) or not re.fullmatch(r"\d{2}", branch):
        raise EligibilityError("bad_branch", f"branch: {branch!r} is not a two-digit branch number (枝番, e.g. '00')")
    return (insurer_number, insured_number, branch)


@dataclass(frozen=True)
class LinkOutcome:
    """What a linking batch did: ``wrong`` holds the keys linked to someone else than their holder."""

    linked: int
    wrong: tuple[InsuredKey, ...]


@dataclass(frozen=True)
class DetectionReport:
    """The mis-link check: flagged links, and against the truth (when known) recall and precision."""

    checked: int
    flagged: tuple[InsuredKey, ...]
    true_positives: int
    false_positives: int
    missed: int

    @property
    def recall(self) -> float:
        found = self.true_positives + self.missed
        return self.true_positives / found if found else 1.0

    @property
    def precision(self) -> float:
        return self.true_positives / len(self.flagged) if self.flagged else 1.0


def _check(q: Qualification) -> None:
    """The rules an insurer's record must meet before it is registered (EligibilityError naming the field)."""
    if not isinstance(q, Qualification):
        raise EligibilityError("bad_record", f"expected a Qualification, got {type(q).__name__}")
    insured_key(q.insurer_number, q.insured_number, q.branch)
    kind = InsurerKind(q.kind)
    if len(q.insurer_number) != INSURER_DIGITS[kind]:
        raise EligibilityError(
            "bad_insurer_number",
            f"insurer_number: {kind.value} insurers have {INSURER_DIGITS[kind]}-digit numbers, "
            f"got {len(q.insurer_number)} digits",
        )
    if q.limit_category not in LIMIT_CATEGORIES:
        raise EligibilityError(
            "bad_limit_category", f"limit_category: {q.limit_category!r}; allowed: {', '.join(LIMIT_CATEGORIES)}"
        )
    if q.valid_until is not None and q.valid_until < q.valid_from:
        raise EligibilityError("bad_period", f"valid_until {q.valid_until} is before valid_from {q.valid_from}")


class QualificationBook:
    """All insurers' qualifications and My Number links, behind a transactional store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- insurers register -------------------------------------------------------------------
    def register(self, q: Qualification) -> Qualification:
        """An insurer enrols someone; EligibilityError for a malformed or duplicate insured number."""
        _check(q)
        with self.store.transaction() as tx:
            try:
                tx.insert(QUALIFICATIONS, q.key, replace(q, linked_person=None))
            except DuplicateKeyError:
                raise EligibilityError("duplicate", f"insured number {q.key} is already registered") from None
        return q

    def load_initial(
        self, qualifications: Iterable[Qualification], *, load_id: object = None, load: str = "initial"
    ) -> int:
        """The initial bulk load (一括登録) of insurers' files into an empty book, links included.

        Each qualification is checked as :meth:`register` checks it; one whose ``linked_person`` is
        set is linked to that person as :meth:`link` would. All land in one transaction, or none:
        a malformed record, an insured number already registered (or given twice), or a person who
        already has links (add those one by one with :meth:`link`) raises :class:`EligibilityError`
        and loads nothing. Returns how many qualifications were loaded.

        ``load_id`` (any record, e.g. the files' names and dates) is kept with the load: the same
        load again is a no-op returning 0 (``qualifications`` is not read), another one is refused.
        Several server processes may race to load the same files; exactly one does. A further bulk load of
        other people (a served world's synthetic insured beside its card holders) goes under its own name
        ``load``, with the same rules: its records must be new to the book, and its people to the links.
        """
        links: dict[str, list[InsuredKey]] = {}

        def checked() -> Iterable[tuple[InsuredKey, Qualification]]:
            for q in qualifications:
                _check(q)
                if q.linked_person is not None:
                    if not isinstance(q.linked_person, str) or not q.linked_person:
                        raise EligibilityError(
                            "bad_person", f"linked_person: {q.linked_person!r} is not a non-empty string"
                        )
                    links.setdefault(q.linked_person, []).append(q.key)
                yield q.key, q

        with self.store.transaction() as tx:
            if load_id is not None:
                have = tx.get(LOADS, load)
                if have == load_id:
                    return 0
                if have is not None:
                    raise EligibilityError(
                        "duplicate", f"{load} load: the book holds the load {have!r}, not {load_id!r}"
                    )
                tx.put(LOADS, load, load_id)
            try:
                n = tx.insert_many(QUALIFICATIONS, checked())
            except DuplicateKeyError as e:
                raise EligibilityError("duplicate", f"{load} load: {e}") from None
            try:
                tx.insert_many(LINKS, ((person, tuple(keys)) for person, keys in links.items()))
            except DuplicateKeyError as e:
                raise EligibilityError("duplicate", f"{load} load: a person already has links ({e}); "
                                                    "add further qualifications with link()") from None  # fmt: skip
        return n

    def end(self, key: InsuredKey, last_day: dt.date) -> Qualification:
        """The qualification ends (the person left the firm, turned 75, moved town)."""
        with self.store.transaction() as tx:
            q = self._get(tx, key)
            if last_day < q.valid_from:
                raise EligibilityError("bad_period", f"last day {last_day} is before valid_from {q.valid_from}")
            q = replace(q, valid_until=last_day)
            tx.put(QUALIFICATIONS, key, q)
        return q

    def get(self, key: InsuredKey) -> Qualification:
        q = self.store.get(QUALIFICATIONS, key)
        if q is None:
            raise EligibilityError("unknown_insured", f"insured number {key} is not registered with any insurer")
        return q  # type: ignore[return-value]

    # ---- linking -------------------------------------------------------------------------------
    def link(self, key: InsuredKey, person_ref: str) -> None:
        """Link one qualification to a person (replacing an earlier link of that qualification)."""
        if not isinstance(person_ref, str) or not person_ref:
            raise EligibilityError("bad_person", f"person_ref: {person_ref!r} is not a non-empty string")
        with self.store.transaction() as tx:
            q = self._get(tx, key)
            if q.linked_person is not None:
                old = tuple(k for k in (tx.get(LINKS, q.linked_person) or ()) if k != key)  # type: ignore[union-attr]
                tx.put(LINKS, q.linked_person, old)
            tx.put(QUALIFICATIONS, key, replace(q, linked_person=person_ref))
            tx.put(LINKS, person_ref, (*(k for k in (tx.get(LINKS, person_ref) or ()) if k != key), key))  # type: ignore[union-attr]

    def link_batch(
        self,
        pairs: Iterable[tuple[InsuredKey, str]],
        error_rate: float,
        confusable: Callable[[str, np.random.Generator], str],
        rng: np.random.Generator,
    ) -> LinkOutcome:
        """Link many qualifications; each goes to ``confusable(true_person, rng)`` with ``error_rate``.

        ``confusable`` returns the person a clerk would mistake for the true one (a family member,
        a same-name person); the returned :class:`LinkOutcome` lists the wrong links.
        """
        if not 0.0 <= error_rate <= 1.0:
            raise EligibilityError("bad_rate", f"error_rate: {error_rate!r} is not a probability in [0, 1]")
        wrong: list[InsuredKey] = []
        n = 0
        for key, person in pairs:
            target = person
            if rng.random() < error_rate:
                target = confusable(person, rng)
                if target != person:
                    wrong.append(key)
            self.link(key, target)
            n += 1
        return LinkOutcome(n, tuple(wrong))

    def linked_to(self, person_ref: str) -> list[Qualification]:
        keys = self.store.get(LINKS, person_ref) or ()
        return [self.get(k) for k in keys]  # type: ignore[union-attr]

    def current_for(self, person_ref: str, day: dt.date) -> Qualification | None:
        """The person's current qualification (the latest started, when two overlap)."""
        live = [q for q in self.linked_to(person_ref) if q.current(day)]
        return max(live, key=lambda q: (q.valid_from, q.key)) if live else None

    # ---- the person's registration of the card as the insurance card ----------------------------
    def register_card_use(self, person_ref: str, on: dt.date, key: str) -> CardUseRegistration:
        """健康保険証利用登録: the person registers her card for use as the health-insurance card on ``on``.

        Once per person. The person must have a qualification linked to her and current on ``on`` (the
        insurer's link comes first); the registration keeps that qualification's key and the day.
        ``key`` is the request's idempotency key, with the payout ledger's rules: the same key for the same
        person returns the first registration again (a retry registers nothing more); the same key for another
        person is refused (``key_reused``); a second registration under a new key is refused
        (``already_registered``, naming the day of the first). A refusal records nothing and leaves the key
        unused. Refusals raise :class:`EligibilityError` with ``bad_person``, ``bad_key``, ``no_qualification``,
        ``already_registered`` or ``key_reused``.
        """
        if not isinstance(person_ref, str) or not person_ref:
            raise EligibilityError("bad_person", f"person_ref: {str(person_ref)[:40]!r} is not a non-empty string")
        if not isinstance(key, str) or not key or len(key) > 200:
            raise EligibilityError("bad_key", "idempotency key: must be a non-empty string of at most 200 characters")
        fingerprint = hashlib.sha256(repr(("card_use", person_ref)).encode()).hexdigest()
        with self.store.transaction() as tx:
            seen = tx.get(CARD_USE_KEYS, key)
            if seen is not None:
                first_fp, first = seen  # type: ignore[misc]
                if first_fp != fingerprint:
                    raise EligibilityError("key_reused", f"idempotency key {key[:40]!r} was already used for "
                                                         "another request")  # fmt: skip
                return first  # type: ignore[no-any-return]
            done: CardUseRegistration | None = tx.get(CARD_USE, person_ref)  # type: ignore[assignment]
            if done is not None:
                raise EligibilityError("already_registered", f"the card is already registered as the "
                                                             f"health-insurance card, since {done.on}")  # fmt: skip
            live = [q for q in self._linked(tx, person_ref) if q.current(on)]
            if not live:
                raise EligibilityError("no_qualification", f"no health-insurance qualification current on {on} is "
                                                           "linked to this person; ask the insurer")  # fmt: skip
            q = max(live, key=lambda q: (q.valid_from, q.key))
            registration = CardUseRegistration(person_ref, on, q.key)
            tx.put(CARD_USE, person_ref, registration)
            tx.put(CARD_USE_KEYS, key, (fingerprint, registration))
        return registration

    def card_use(self, person_ref: str) -> CardUseRegistration | None:
        """The person's registration of the card as the insurance card (None: she has not registered)."""
        return self.store.get(CARD_USE, person_ref)  # type: ignore[return-value]

    def card_use_by(self, person_ref: str, day: dt.date) -> CardUseRegistration | None:
        """The person's registration if she had registered the card as the health-insurance card by ``day``
        (that day included), else None: one read of the store."""
        r = self.card_use(person_ref)
        return r if r is not None and r.on <= day else None

    def card_use_registered(self, person_ref: str, day: dt.date) -> bool:
        """Had the person registered the card as the health-insurance card by ``day`` (that day included)?"""
        return self.card_use_by(person_ref, day) is not None

    def _linked(self, tx: object, person_ref: str) -> list[Qualification]:
        keys = tx.get(LINKS, person_ref) or ()  # type: ignore[attr-defined]
        return [self._get(tx, k) for k in keys]

    # ---- detection ------------------------------------------------------------------------------
    def detect_mislinks(
        self, register: Callable[[str], PersonFacts | None], truth: Iterable[InsuredKey] = ()
    ) -> DetectionReport:
        """Compare every link with the register's basic items (name, birth date, sex).

        A link is flagged when any item differs from what the insurer recorded. ``truth`` (the keys
        known to be wrongly linked, in a simulation) gives recall and precision.
        """
        flagged: list[InsuredKey] = []
        checked = 0
        for key, q in self.store.scan(QUALIFICATIONS):
            if q.linked_person is None:  # type: ignore[attr-defined]
                continue
            checked += 1
            facts = register(q.linked_person)  # type: ignore[attr-defined]
            if facts is None or facts != q.holder:  # type: ignore[attr-defined]
                flagged.append(key)  # type: ignore[arg-type]
        wrong = set(truth)
        tp = sum(1 for k in flagged if k in wrong)
        return DetectionReport(checked, tuple(flagged), tp, len(flagged) - tp, len(wrong) - tp)

    def _get(self, tx: object, key: InsuredKey) -> Qualification:
        q = tx.get(QUALIFICATIONS, key)  # type: ignore[attr-defined]
        if q is None:
            raise EligibilityError("unknown_insured", f"insured number {key} is not registered with any insurer")
        return q
