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

The load is deterministic (seeded from the deployment spec) and idempotent. The card holders' qualifications are
the served world's one book: Myna Portal (and My Number Points over its world) reads them and the eligibility server
answers from them, so both load them through :func:`enrol_holders`, in one transaction marked with the spec (and
the epoch, if not the default: :func:`enrolment_id` of the holders), and whichever starts second on a store finds
what it would have written. :func:`ensure_enrolled` (the eligibility server) then loads the synthetic remainder in
a transaction of its own, marked with ``insured`` (a store loaded before, holders and remainder in one load, is used
as it is), then the holders' registrations on their assumed days, marked too (on a store loaded before the
registrations existed, or by the portal alone, they are added; a holder who registered herself in the portal before
keeps hers). A store holding another world's enrolment, or another remainder, is refused with a message saying
which. Clients regenerate the same people with :func:`insured_people` to send checks by insured number that hit the
whole table, not just the card holders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np

from real_backends.load.deployment import EPOCH, Deployment, DeploymentSpec, Holder
from real_backends.world_time import EPOCH_DAY, lives_now, world_day
from twin.services.eligibility import (
    EligibilityError,
    InsurerKind,
    PersonFacts,
    Qualification,
    QualificationBook,
    worlds,
)
from twin.services.eligibility.qualifications import LOADS
from twin.services.eligibility.worlds import ENDED_ON, INSURER
from twin.services.store import Store, StoreError

KINDS: Final = (InsurerKind.ASSOCIATION, InsurerKind.SOCIETY, InsurerKind.NATIONAL, InsurerKind.ELDERLY)
KIND_SHARES: Final = (0.33, 0.30, 0.22, 0.15)
INSURERS_PER_KIND: Final = 40
ENDED_SHARE: Final = 0.03
MAX_INSURED: Final = 5_000_000
_FAMILY: Final = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
_GIVEN: Final = ("太郎", "花子", "健一", "陽子", "翔", "美咲", "大輔", "由美")
_LIMITS: Final = ("ア", "イ", "ウ", "エ", "オ")  # under 70: by income, ウ the most common
_LIMITS_ELDERLY: Final = ("一般", "現役並みⅠ", "低所得Ⅱ", "低所得Ⅰ")


def insured_number(holder: Holder) -> str:
    """``holder``'s insured number with :data:`INSURER` (:func:`twin.services.eligibility.worlds.insured_number`)."""
    return worlds.insured_number(holder.index)


def is_qualified(holder: Holder) -> bool:
    """Is ``holder``'s qualification current at the epoch (all but every 7th)?"""
    return worlds.is_qualified(holder.index)


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
    six years before it (2020-04-01 at the default epoch); every 7th ended a year and a day before it (2025-03-31).
    The worlds' one rule (:func:`twin.services.eligibility.worlds.world_qualification`), with the card's facts."""
    info = holder.perso.basic_info
    facts = PersonFacts(info.name, info.birth_date, info.sex)
    return worlds.world_qualification(holder.index, facts, f"holder-{holder.index}", epoch)


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


def remainder(deployment: Deployment, insured: int) -> Iterator[Qualification]:
    """The synthetic remainder's records: ``insured`` people in all, less the deployment's card holders."""
    people = insured_people(deployment.spec.seed, insured - len(deployment.holders), deployment.spec.start.date())
    rng = np.random.default_rng([deployment.spec.seed, 125])
    fam = rng.integers(0, len(_FAMILY), size=len(people))
    giv = rng.integers(0, len(_GIVEN), size=len(people))
    for j in range(len(people)):
        yield people.qualification(j, _FAMILY[fam[j]], _GIVEN[giv[j]])


def qualifications(deployment: Deployment, insured: int) -> Iterator[Qualification]:
    """Every record of the enrolment: the holders' first, then the synthetic remainder."""
    epoch = deployment.spec.start.date()
    yield from (holder_qualification(h, epoch) for h in deployment.holders)
    yield from remainder(deployment, insured)


#: the LOADS key marking the synthetic remainder as loaded (with the enrolment_id of the whole enrolment)
REMAINDER_LOAD: Final = "remainder"
_MARK_FIELDS: Final = ("seed", "holders", "revoked_every", "key_pool", "insured", "epoch")


def enrolment_id(spec: DeploymentSpec, insured: int) -> tuple[int | str, ...]:
    """What marks an enrolment on its store: the spec's seed, holders, revoked_every and key_pool, ``insured``,
    and for a world set at another epoch than the default its epoch (a store loaded for one epoch is not reused for
    another; the default's mark is the one stores held before worlds had epochs)."""
    mark = (spec.seed, spec.holders, spec.revoked_every, spec.key_pool, insured)
    return mark if lives_now(spec) else (*mark, spec.start.isoformat())


def _fields(mark: tuple[object, ...]) -> tuple[object, ...]:
    return mark if len(mark) == 6 else (*mark, EPOCH.isoformat())


def _of_world(mark: object, spec: DeploymentSpec) -> bool:
    """Is ``mark`` an enrolment of ``spec``'s world (its holders, of any size)?"""
    if not isinstance(mark, tuple) or len(mark) not in (5, 6):
        return False
    have, want = _fields(mark), _fields(enrolment_id(spec, spec.holders))
    return have[:4] + have[5:] == want[:4] + want[5:]


def _refusal(have: object, want: tuple[object, ...]) -> StoreError:
    """The refusal of a store whose book holds ``have``, asked for the enrolment ``want``: naming the difference."""
    if not isinstance(have, tuple) or len(have) not in (5, 6):  # e.g. ("portal world", seed, holders)
        return StoreError(f"the store's qualification book holds the load {have!r}, not the enrolment of a served "
                          "world's card holders (another world's: a standalone points world's, or the book a Myna "
                          "Portal of an earlier version loaded for itself); use a fresh database")  # fmt: skip
    diff = ", ".join(f"{n}={a} (asked {b})" for n, a, b in zip(_MARK_FIELDS, _fields(have), _fields(want),
                                                                   strict=True) if a != b)  # fmt: skip
    return StoreError(f"the store already holds another enrolment: {diff}; use a fresh database or the same --set")


def enrol_holders(store: Store, deployment: Deployment) -> QualificationBook:
    """The book on ``store`` holding the enrolment of ``deployment``'s card holders (loaded if absent): the one
    qualification book of the served world, which Myna Portal (and My Number Points over its world) reads and the
    eligibility server answers from, whichever of them starts first on the store.

    The holders' qualifications are loaded alone, marked with :func:`enrolment_id` of the holders; a store that
    already holds them (or, loaded before the remainder was a load of its own, them and a remainder in one load) is
    used as it is. A store holding another world's enrolment (another seed, holders, revoked_every, key_pool or
    epoch) is refused with a :class:`StoreError` naming the difference."""
    spec = deployment.spec
    want = enrolment_id(spec, spec.holders)
    book = QualificationBook(store)
    if _of_world(store.get(LOADS, "initial"), spec):  # a restart, or the other service started first
        return book
    try:
        book.load_initial((holder_qualification(h, spec.start.date()) for h in deployment.holders), load_id=want)
    except EligibilityError as e:
        have = store.get(LOADS, "initial")
        if have is None:
            raise
        if not _of_world(have, spec):
            raise _refusal(have, want) from e
    return book


def ensure_enrolled(store: Store, deployment: Deployment, insured: int | None = None) -> QualificationBook:
    """The book on ``store`` holding ``deployment``'s enrolment of ``insured`` people (loaded if absent).

    ``insured`` counts everyone, card holders included (default: the holders only): the holders
    (:func:`enrol_holders`, the load Myna Portal shares), then the synthetic remainder in a load of its own, then
    the holders' registrations of the card as the insurance card on their assumed days. A store that holds another
    enrolment (another world, or the same world with another remainder) is refused with a :class:`StoreError`
    naming both.
    """
    spec = deployment.spec
    insured = spec.holders if insured is None else insured
    if not isinstance(insured, int) or isinstance(insured, bool) or not spec.holders <= insured <= MAX_INSURED:
        raise ValueError(f"insured: {insured!r} is not allowed; use {spec.holders}..{MAX_INSURED} "
                         f"(everyone insured, the {spec.holders} card holders included)")  # fmt: skip
    want, holders = enrolment_id(spec, insured), enrolment_id(spec, spec.holders)
    book = enrol_holders(store, deployment)
    initial = store.get(LOADS, "initial")
    loaded = initial if initial != holders else store.get(LOADS, REMAINDER_LOAD) or holders  # the enrolment's size
    if loaded != want:
        if loaded != holders:  # another remainder than the one asked for
            raise _refusal(loaded, want)
        try:
            book.load_initial(remainder(deployment, insured), load_id=want, load=REMAINDER_LOAD)
        except EligibilityError as e:  # another process loaded a remainder meanwhile
            have = store.get(LOADS, REMAINDER_LOAD)
            if have is None or have == want:
                raise
            raise _refusal(have, want) from e
    if store.get(LOADS, CARD_USE_LOAD) is None:  # the holders' registrations, through the book's rule, once
        with store.transaction() as tx:  # one commit on an SQL store (the book's transactions nest in it)
            for h in deployment.holders:
                on = card_use_day(h, spec.start.date())
                if on is None:
                    continue
                try:  # the same key again (another worker, a retry) replays: registers nothing more
                    book.register_card_use(f"holder-{h.index}", on, key=f"enrolment card use holder-{h.index}")
                except EligibilityError as e:  # she registered herself (in the portal, before this server's
                    if e.code != "already_registered":  # first start on the store): her own registration stands
                        raise
            tx.put(LOADS, CARD_USE_LOAD, holders)
    return book


__all__ = ["INSURER", "InsuredPeople", "card_use_day", "card_use_spread", "enrol_holders", "ensure_enrolled",
           "holder_qualification", "insured_number", "insured_people", "is_qualified", "is_registered",
           "qualifications", "remainder"]  # fmt: skip
