"""The insured population an eligibility server answers for, loaded once into its store (資格情報の一括登録).

The central eligibility service holds every insured person's qualification, about 124 million of
them, sent in by some 3,000 insurers and linked to My Number. A loopback server cannot issue a
card to each of them, but it can hold their records: the deployment's card holders (whose cards
and certificates the clients have) and a synthetic remainder up to ``insured`` people, so that
every lookup runs against a table of realistic size (``--set insured=1000000``).

Shares of the insurer kinds follow the national totals (厚生労働省「医療保険に関する基礎資料」,
FY2022, rounded): association (協会けんぽ) 33 %, societies (健保組合, with the mutual-aid
associations 共済) 30 %, national health insurance (国保) 22 %, late-stage elderly (後期高齢者) 15 %.
About 3 % of the remainder hold a qualification that has ended (a job change), as do every 7th
card holder (:func:`is_qualified`).

A card answers for its holder's qualification only once she has registered it as the insurance card
(健康保険証利用登録). Every card holder did, through the book's own rule, on a day from 2021-03-01
spread over 600 days (:func:`card_use_day`; the same assumption as the points world's), except every
5th (holders 4, 9, 14, ...: :func:`is_registered`), whose cards are refused ``card_not_registered``
until a reader registers them on the spot. These shares are the served world's, ASSUMED: they are
not a model of how many holders registered.

These dates are those of a deployment at the default epoch (2026-04-01). In one set at another
(``--set epoch=2022-06-01``) every date of the enrolment, the remainder's birth dates included, is as many days
before its epoch (:func:`real_backends.world_time.world_day`): the holders are qualified from six years before it,
every 7th until a year and a day before it, and the registrations run from about five years before it.

The load is deterministic (seeded from the deployment spec) and idempotent: :func:`ensure_enrolled` writes the
qualifications in one transaction, marked with the spec and ``insured`` (and the epoch, if not the default:
:func:`enrolment_id`), then the holders' registrations in another, marked too (on a store loaded before the
registrations existed, they are added); on a store that already holds the same enrolment it does nothing; a store
holding a different one is refused with a message saying which. Clients regenerate the same people with
:func:`insured_people` to send checks by insured number that hit the whole table, not just the card holders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np

from real_backends.load.deployment import EPOCH, Deployment, DeploymentSpec, Holder
from real_backends.world_time import EPOCH_DAY, lives_now, world_day
from twin.services.eligibility import EligibilityError, InsurerKind, PersonFacts, Qualification, QualificationBook
from twin.services.eligibility.qualifications import LOADS
from twin.services.store import Store, StoreError

INSURER: Final = "01130012"  # the card holders' insurer: an association (協会けんぽ) branch, eight digits
KINDS: Final = (InsurerKind.ASSOCIATION, InsurerKind.SOCIETY, InsurerKind.NATIONAL, InsurerKind.ELDERLY)
KIND_SHARES: Final = (0.33, 0.30, 0.22, 0.15)
INSURERS_PER_KIND: Final = 40
ENDED_SHARE: Final = 0.03
MAX_INSURED: Final = 5_000_000
#: the last day of the ended qualifications at the default epoch: a year and a day before it
ENDED_ON: Final = dt.date(2025, 3, 31)
_FAMILY: Final = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
_GIVEN: Final = ("太郎", "花子", "健一", "陽子", "翔", "美咲", "大輔", "由美")
_LIMITS: Final = ("ア", "イ", "ウ", "エ", "オ")  # under 70: by income, ウ the most common
_LIMITS_ELDERLY: Final = ("一般", "現役並みⅠ", "低所得Ⅱ", "低所得Ⅰ")


def insured_number(holder: Holder) -> str:
    return f"{70000 + holder.index}"


def is_qualified(holder: Holder) -> bool:
    return holder.index % 7 != 6


#: the served worlds' card holders registered the card as the insurance card on a day spread over CARD_USE_DAYS from
#: CARD_USE_OPEN (ASSUMED: the online eligibility check's trial start; the opening of the registration is not in
#: FIGURES.md); here all but every UNREGISTERED_EVERY-th (the points world: real_backends.points_api)
CARD_USE_OPEN: Final = dt.date(2021, 3, 1)
CARD_USE_DAYS: Final = 600
UNREGISTERED_EVERY: Final = 5
CARD_USE_LOAD: Final = "card_use"  # LOADS key marking the holders' registrations as made


def card_use_spread(index: int, seed: int = 0, epoch: dt.date = EPOCH_DAY) -> dt.date:
    """The day a served world's card holder ``index`` registered the card as the insurance card, if she did
    (the worlds decide who did); in a world set at ``epoch``, as many days before it as before the default's."""
    return world_day(CARD_USE_OPEN, epoch) + dt.timedelta(days=(index * 53 + seed) % CARD_USE_DAYS)


def card_use_day(holder: Holder, epoch: dt.date = EPOCH_DAY) -> dt.date | None:
    """The day ``holder`` of a world set at ``epoch`` registered the card as the health-insurance card (None: she
    has not)."""
    if holder.index % UNREGISTERED_EVERY == UNREGISTERED_EVERY - 1:
        return None
    return card_use_spread(holder.index, epoch=epoch)


def is_registered(holder: Holder) -> bool:
    """Does ``holder``'s card answer as the insurance card (registered, 健康保険証利用登録)?"""
    return card_use_day(holder) is not None


def holder_qualification(holder: Holder, epoch: dt.date = EPOCH_DAY) -> Qualification:
    """A card holder's qualification with :data:`INSURER`, linked to the holder, in a world set at ``epoch``: from
    six years before it (2020-04-01 at the default epoch); every 7th ended a year and a day before it (2025-03-31)."""
    info = holder.perso.basic_info
    return Qualification(
        INSURER, insured_number(holder), "00", InsurerKind.ASSOCIATION,
        PersonFacts(info.name, info.birth_date, info.sex),
        valid_from=world_day(dt.date(2020, 4, 1), epoch),
        valid_until=None if is_qualified(holder) else world_day(ENDED_ON, epoch),
        linked_person=f"holder-{holder.index}",
    )  # fmt: skip


@dataclass(frozen=True)
class InsuredPeople:
    """The synthetic remainder as columns (row ``j`` is person ``insured-j``), in a world set at ``epoch``."""

    kind: np.ndarray  # index into KINDS
    insurer: np.ndarray  # 0..INSURERS_PER_KIND-1
    number: np.ndarray  # insured number within the insurer
    birth: np.ndarray  # days since 1900-01-01
    sex: np.ndarray  # 1 or 2
    ended: np.ndarray  # bool: the qualification ended a year and a day before the epoch (2025-03-31 by default)
    epoch: dt.date = EPOCH_DAY

    def __len__(self) -> int:
        return len(self.kind)

    def insurer_number(self, j: int) -> str:
        kind = KINDS[int(self.kind[j])]
        base = {InsurerKind.ASSOCIATION: 1010000, InsurerKind.SOCIETY: 6130000, InsurerKind.ELDERLY: 39130000}
        if kind is InsurerKind.NATIONAL:
            return f"{130000 + int(self.insurer[j]) * 7:06d}"
        return f"{base[kind] + int(self.insurer[j]) * 11:08d}"

    def key(self, j: int) -> tuple[str, str, str]:
        return (self.insurer_number(j), f"{int(self.number[j]):08d}", "00")

    def birth_date(self, j: int) -> dt.date:
        return dt.date(1900, 1, 1) + dt.timedelta(days=int(self.birth[j]))

    def qualification(self, j: int, family: str, given: str) -> Qualification:
        kind = KINDS[int(self.kind[j])]
        limits = _LIMITS_ELDERLY if kind is InsurerKind.ELDERLY else _LIMITS
        return Qualification(
            self.insurer_number(j), f"{int(self.number[j]):08d}", "00", kind,
            PersonFacts(family + "\u3000" + given, self.birth_date(j), str(int(self.sex[j]))),
            valid_from=world_day(dt.date(2021, 4, 1), self.epoch),
            valid_until=world_day(ENDED_ON, self.epoch) if self.ended[j] else None,
            limit_category=limits[j % len(limits)],
            linked_person=f"insured-{j}",
        )  # fmt: skip


def insured_people(seed: int, count: int, epoch: dt.date = EPOCH_DAY) -> InsuredPeople:
    """``count`` synthetic insured people of a world set at ``epoch`` (seeded; the same on the server and its
    clients): their ages on the epoch, and so their birth dates, are drawn as for the default epoch."""
    if not isinstance(count, int) or not 0 <= count <= MAX_INSURED:
        raise ValueError(f"insured: {count!r} is not allowed; use 0..{MAX_INSURED}")
    rng = np.random.default_rng([seed, 124])
    kind = rng.choice(len(KINDS), size=count, p=KIND_SHARES).astype(np.int8)
    insurer = rng.integers(0, INSURERS_PER_KIND, size=count).astype(np.int16)
    number = np.empty(count, dtype=np.int64)
    for k in range(len(KINDS)):  # unique within each insurer: consecutive numbers per (kind, insurer)
        for i in range(INSURERS_PER_KIND):
            rows = np.flatnonzero((kind == k) & (insurer == i))
            number[rows] = 10_000_000 + np.arange(len(rows))
    day0 = (epoch - dt.date(1900, 1, 1)).days
    age_days = np.where(kind == KINDS.index(InsurerKind.ELDERLY),
                        rng.integers(75 * 365 + 19, 100 * 365, size=count),
                        rng.integers(0, 74 * 365, size=count))  # fmt: skip
    return InsuredPeople(kind, insurer, number, (day0 - age_days).astype(np.int32),
                         rng.integers(1, 3, size=count).astype(np.int8), rng.random(count) < ENDED_SHARE,
                         epoch)  # fmt: skip


def qualifications(deployment: Deployment, insured: int) -> Iterator[Qualification]:
    """Every record of the enrolment: the holders' first, then the synthetic remainder."""
    epoch = deployment.spec.start.date()
    yield from (holder_qualification(h, epoch) for h in deployment.holders)
    people = insured_people(deployment.spec.seed, insured - len(deployment.holders), epoch)
    rng = np.random.default_rng([deployment.spec.seed, 125])
    fam = rng.integers(0, len(_FAMILY), size=len(people))
    giv = rng.integers(0, len(_GIVEN), size=len(people))
    for j in range(len(people)):
        yield people.qualification(j, _FAMILY[fam[j]], _GIVEN[giv[j]])


def enrolment_id(spec: DeploymentSpec, insured: int) -> tuple[int | str, ...]:
    """What marks an enrolment on its store: the spec's seed, holders, revoked_every and key_pool, ``insured``,
    and for a world set at another epoch than the default its epoch (a store loaded for one epoch is not reused for
    another; the default's mark is the one stores held before worlds had epochs)."""
    mark = (spec.seed, spec.holders, spec.revoked_every, spec.key_pool, insured)
    return mark if lives_now(spec) else (*mark, spec.start.isoformat())


def ensure_enrolled(store: Store, deployment: Deployment, insured: int | None = None) -> QualificationBook:
    """The book on ``store`` holding ``deployment``'s enrolment of ``insured`` people (loaded if absent).

    ``insured`` counts everyone, card holders included (default: the holders only). A store that
    holds another enrolment is refused with a :class:`StoreError` naming both.
    """
    spec = deployment.spec
    insured = spec.holders if insured is None else insured
    if not isinstance(insured, int) or isinstance(insured, bool) or not spec.holders <= insured <= MAX_INSURED:
        raise ValueError(f"insured: {insured!r} is not allowed; use {spec.holders}..{MAX_INSURED} "
                         f"(everyone insured, the {spec.holders} card holders included)")  # fmt: skip
    want = enrolment_id(spec, insured)
    book = QualificationBook(store)
    if store.get(LOADS, "initial") == want and store.get(LOADS, CARD_USE_LOAD) == want:  # a restart: loaded
        return book
    try:
        book.load_initial(qualifications(deployment, insured), load_id=want)
    except EligibilityError as e:
        have = store.get(LOADS, "initial")
        if not isinstance(have, tuple) or have == want:
            raise
        if len(have) not in (5, 6):  # another service's load, e.g. Myna Portal's world ("portal world", seed, ...)
            raise StoreError(f"the store's qualification book holds another service's load {have!r}, not an "
                             "eligibility enrolment; use a fresh database, or start the eligibility server on it "
                             "before the portal (which uses the book it finds)") from e  # fmt: skip
        names = ("seed", "holders", "revoked_every", "key_pool", "insured", "epoch")

        def marked(mark: tuple[object, ...]) -> tuple[object, ...]:
            return mark if len(mark) == 6 else (*mark, EPOCH.isoformat())

        diff = ", ".join(f"{n}={a} (asked {b})" for n, a, b in zip(names, marked(have), marked(want), strict=True)
                         if a != b)  # fmt: skip
        raise StoreError(
            f"the store already holds another enrolment: {diff}; use a fresh database or the same --set"
        ) from e
    if store.get(LOADS, CARD_USE_LOAD) != want:  # the holders' registrations, through the book's rule, once
        with store.transaction() as tx:  # one commit on an SQL store (the book's transactions nest in it)
            for h in deployment.holders:
                on = card_use_day(h, spec.start.date())
                if on is not None:  # the same key again (another worker, a retry) replays: registers nothing more
                    book.register_card_use(f"holder-{h.index}", on, key=f"enrolment card use holder-{h.index}")
            tx.put(LOADS, CARD_USE_LOAD, want)
    return book


__all__ = ["INSURER", "InsuredPeople", "card_use_day", "card_use_spread", "ensure_enrolled", "holder_qualification",
           "insured_number", "insured_people", "is_qualified", "is_registered", "qualifications"]  # fmt: skip
