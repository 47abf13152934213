"""The resident registry (住民基本台帳): who lives where, in which household, under which head, on any date.

Every municipality keeps a register of its residents, grouped into households (世帯), each with
exactly one head (世帯主). Residents carry a My Number (個人番号): twelve digits, the last a check
digit computed by the rule of the Enforcement Order of the My Number Act, article 8
(行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条). The register
changes through notifications with effective dates: births, deaths, moves within or between
municipalities (forming a new household or joining one), and changes of head. A payout asks one
question of it: "on the reference date D (2020-04-27 in 2020), who was registered, in which
household, with which head?" -- :meth:`ResidentRegistry.snapshot` answers it as arrays.

The synthetic nation arrives as columns (municipality, age, sex, household, head flag), so the base
register is held as columns too and loads 126k residents in milliseconds; events are keyed records
in the store, replayed on top of the base. My Numbers never appear in reprs, messages or logs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from twin.services.store import Store

AUTO = -2  # successor not named: the oldest remaining member (lowest id on ties), decided when applied
_WEIGHTS = np.array([6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2], dtype=np.int64)  # Qn for the 11 digits, left to right
_POW10 = 10 ** np.arange(10, -1, -1, dtype=np.int64)  # place value of each of the 11 digits, left to right


class RegistryError(ValueError):
    """A notification that the register cannot accept, with the reason in words."""


class Sex(IntEnum):
    """Sex as the register codes it (JIS X 0303): 1 male, 2 female."""

    MALE = 1
    FEMALE = 2


class Removal(IntEnum):
    DEATH = 1  # 死亡
    EMIGRATION = 2  # 国外転出


# -- My Number (個人番号) ------------------------------------------------------------------------


def my_number_check_digit(first11: str | int) -> int:
    """Check digit for the first 11 digits (施行令第8条).

    With Pn the n-th digit counted from the right of the 11 (n = 1..11) and Qn = n + 1 for n <= 6,
    n - 5 for n >= 7: r = sum(Pn * Qn) mod 11; the check digit is 0 when r <= 1, else 11 - r.
    """
    text = f"{first11:011d}" if isinstance(first11, int) else first11
    if len(text) != 11 or not text.isascii() or not text.isdigit():
        raise RegistryError(f"My Number base: expected 11 ASCII digits, got {len(text)} characters")
    r = sum(int(c) * w for c, w in zip(text, _WEIGHTS.tolist(), strict=True)) % 11
    return 0 if r <= 1 else 11 - r


def check_digits(first11: np.ndarray) -> np.ndarray:
    """The check digit of many 11-digit bases at once (int64 array in, int64 array out)."""
    digits = (np.asarray(first11, dtype=np.int64)[:, None] // _POW10) % 10
    r = (digits * _WEIGHTS).sum(axis=1) % 11
    return np.where(r <= 1, 0, 11 - r)


def is_valid_my_number(number: str) -> bool:
    """True for 12 ASCII digits whose last digit is the check digit of the first 11."""
    if not isinstance(number, str) or len(number) != 12 or not number.isascii() or not number.isdigit():
        return False
    return my_number_check_digit(number[:11]) == int(number[11])


def generate_my_numbers(rng: np.random.Generator, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """``n`` distinct valid synthetic My Numbers as int64 (format with ``f"{x:012d}"``), none in ``exclude``."""
    taken = np.unique(np.asarray(exclude if exclude is not None else [], dtype=np.int64))
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        base = rng.integers(0, 10**11, size=max(16, int((n - len(out)) * 1.01) + 8), dtype=np.int64)
        nums = base * 10 + check_digits(base)
        _, first = np.unique(nums, return_index=True)
        nums = nums[np.sort(first)]  # distinct, in draw order (deterministic)
        nums = nums[~np.isin(nums, taken)]
        out = np.concatenate([out, nums[: n - len(out)]])
        taken = np.union1d(taken, out)
    return out


def mask_my_number(number: str | int | None) -> str:
    """What may be shown of a My Number: nothing."""
    return "************"


# -- synthetic names (readings in katakana, as the register's フリガナ) ---------------------------

FAMILY = (
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"),
    ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"), ("清水", "シミズ"), ("斎藤", "サイトウ"),
)  # fmt: skip
GIVEN = (  # ten male names, then ten female names
    ("蓮", "レン"), ("翔太", "ショウタ"), ("大輔", "ダイスケ"), ("健一", "ケンイチ"), ("拓也", "タクヤ"),
    ("浩", "ヒロシ"), ("翼", "ツバサ"), ("悠真", "ユウマ"), ("勇気", "ユウキ"), ("隆", "タカシ"),
    ("陽菜", "ヒナ"), ("美咲", "ミサキ"), ("結衣", "ユイ"), ("恵子", "ケイコ"), ("直美", "ナオミ"),
    ("京子", "キョウコ"), ("由美", "ユミ"), ("さくら", "サクラ"), ("葵", "アオイ"), ("優子", "ユウコ"),
)  # fmt: skip
_GIVEN_BY_SEX = {Sex.MALE: np.arange(0, 10), Sex.FEMALE: np.arange(10, 20)}


@dataclass(frozen=True, slots=True)
class Resident:
    """One resident as registered on a date. The repr masks the My Number."""

    resident_id: int
    my_number: str = field(repr=False)
    name: str
    reading: str
    birth_date: dt.date
    sex: Sex
    municipality: int
    household: int
    is_head: bool

    def __repr__(self) -> str:
        return (
            f"Resident(resident_id={self.resident_id}, my_number={mask_my_number(self.my_number)}, "
            f"name={self.name!r}, birth_date={self.birth_date}, sex={self.sex.name}, "
            f"municipality={self.municipality}, household={self.household}, is_head={self.is_head})"
        )


# -- events (異動届), keyed by sequence number in the store ----------------------------------------


@dataclass(frozen=True, slots=True)
class Birth:
    on: dt.date
    resident: int
    household: int
    sex: Sex
    my_number: int = field(repr=False)
    family: int
    given: int


@dataclass(frozen=True, slots=True)
class Departure:
    on: dt.date
    resident: int
    cause: Removal
    new_head: int  # the successor if the resident heads a household with others (AUTO: the oldest member)


@dataclass(frozen=True, slots=True)
class Move:
    on: dt.date
    resident: int
    household: int  # the household joined or formed
    municipality: int  # the household's municipality (only used when forming)
    forms: bool
    new_head_of_old: int  # as Departure.new_head, for the household left behind


@dataclass(frozen=True, slots=True)
class HeadChange:
    on: dt.date
    household: int
    head: int


Event = Birth | Departure | Move | HeadChange


@dataclass(frozen=True)
class Base:
    """The register on its base date, as columns (one row per resident, one per household)."""

    as_of: dt.date
    my_number: np.ndarray = field(repr=False)  # int64
    family: np.ndarray  # int16 index into FAMILY
    given: np.ndarray  # int16 index into GIVEN
    birth: np.ndarray  # datetime64[D]
    sex: np.ndarray  # int8, Sex
    household: np.ndarray  # int32
    head: np.ndarray  # int32 per household
    household_municipality: np.ndarray  # int32 per household


@dataclass(frozen=True)
class Snapshot:
    """The register on date ``on``: per resident (registered, household) and per household (head, municipality).

    Residents not (yet or any more) registered have household -1; dissolved households have head -1.
    """

    on: dt.date
    registered: np.ndarray
    household: np.ndarray
    head: np.ndarray
    household_municipality: np.ndarray

    @property
    def municipality(self) -> np.ndarray:
        """Municipality code per resident (-1 if not registered)."""
        return np.where(self.registered, self.household_municipality[np.maximum(self.household, 0)], -1)

    def household_sizes(self) -> np.ndarray:
        return np.bincount(self.household[self.registered], minlength=len(self.head))

    def households(self) -> np.ndarray:
        """Ids of households with at least one registered member."""
        return np.flatnonzero(self.head >= 0)

    def members(self, household: int) -> np.ndarray:
        return np.flatnonzero(self.household == household)

    def head_of(self, household: int) -> int:
        return int(self.head[household]) if 0 <= household < len(self.head) else -1

    def household_of(self, resident: int) -> int:
        return int(self.household[resident]) if 0 <= resident < len(self.household) else -1

    def check(self) -> None:
        """Every household with members has exactly one head, a registered member of it."""
        sizes = self.household_sizes()
        live = sizes > 0
        if np.any(live != (self.head >= 0)):
            h = int(np.flatnonzero(live != (self.head >= 0))[0])
            raise RegistryError(f"{self.on}: household {h} has {sizes[h]} members but head {self.head[h]}")
        heads = self.head[live]
        bad = ~self.registered[heads] | (self.household[heads] != np.flatnonzero(live))
        if np.any(bad):
            h = int(np.flatnonzero(live)[np.flatnonzero(bad)[0]])
            raise RegistryError(f"{self.on}: head {self.head[h]} of household {h} is not a member of it")


def _column(name: str, values: object, n: int | None, dtype: str) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != 1 or (n is not None and len(a) != n):
        raise RegistryError(f"{name}: expected a 1-D array of {n} values, got shape {a.shape}")
    if dtype != "bool" and a.size and not np.issubdtype(a.dtype, np.integer):
        raise RegistryError(f"{name}: expected integers, got dtype {a.dtype}")
    return a.astype(dtype)  # a copy: the register never shares (or freezes) the caller's arrays


class ResidentRegistry:
    """住民基本台帳: the base register plus dated notifications, answering "as of date D" questions."""

    def __init__(self, store: Store) -> None:
        base = store.get("registry.base", "base")
        if base is None:
            raise RegistryError("this store holds no resident registry; create one with ResidentRegistry.load(...)")
        self._store = store
        self._base: Base = base  # type: ignore[assignment]
        self._events: list[tuple[int, Event]] = [(int(k), e) for k, e in store.scan("registry.events")]  # type: ignore[misc]
        self._cache: dict[dt.date, Snapshot] = {}
        self._static: tuple[np.ndarray, ...] | None = None
        self._index: dict[int, int] | None = None
        self._n_residents = len(self._base.household) + sum(isinstance(e, Birth) for _, e in self._events)
        self._n_households = len(self._base.head) + sum(isinstance(e, Move) and e.forms for _, e in self._events)
        last = max((e.on for _, e in self._events), default=self._base.as_of)
        self._tip = self._replay(self._sorted(), last, self._n_residents, self._n_households)

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        store: Store,
        *,
        as_of: dt.date,
        municipality: np.ndarray,
        age: np.ndarray,
        sex: np.ndarray,
        household: np.ndarray,
        is_head: np.ndarray,
        rng: np.random.Generator,
        sex_codes: tuple[int, int] = (1, 2),
    ) -> ResidentRegistry:
        """Write the base register from columns (one row per resident) and open it.

        ``municipality`` is the municipality code (or row), ``sex`` 1 (male) or 2 (female) -- other codes via
        ``sex_codes=(male, female)``, e.g. ``(0, 1)`` for the synthetic nation's columns --, ``household`` dense
        ids 0..H-1 (every id used), ``is_head`` exactly one True per household. My Numbers, names and
        birth dates (consistent with ``age`` on ``as_of``) are drawn from ``rng``.
        """
        muni = _column("municipality", municipality, None, "int32")
        n = len(muni)
        ages = _column("age", age, n, "int32")
        raw_sex = _column("sex", sex, n, "int16")
        male, female = sex_codes
        sexes = np.where(raw_sex == male, 1, np.where(raw_sex == female, 2, 0)).astype(np.int8)
        hh = _column("household", household, n, "int32")
        head_flag = _column("is_head", is_head, n, "bool")
        if np.any(sexes == 0):
            bad = int(raw_sex[sexes == 0][0])
            raise RegistryError(f"sex: {bad} is not allowed; use {male} (male) or {female} (female)")
        if np.any((ages < 0) | (ages > 130)):
            raise RegistryError(f"age: {int(ages[(ages < 0) | (ages > 130)][0])} is not in [0, 130]")
        n_hh = int(hh.max()) + 1 if n else 0
        if n and hh.min() < 0:
            raise RegistryError(f"household: {int(hh.min())} is negative; ids must be 0..H-1")
        heads_per = np.bincount(hh[head_flag], minlength=n_hh)
        if n and np.any(heads_per != 1):
            h = int(np.flatnonzero(heads_per != 1)[0])
            raise RegistryError(f"household {h}: has {int(heads_per[h])} heads; a household needs exactly one (世帯主)")
        head = np.empty(n_hh, dtype=np.int32)
        head[hh[head_flag]] = np.flatnonzero(head_flag)
        hh_muni = muni[head]
        if np.any(muni != hh_muni[hh]):
            r = int(np.flatnonzero(muni != hh_muni[hh])[0])
            raise RegistryError(
                f"resident {r}: lives in municipality {muni[r]} but household {hh[r]} is in {hh_muni[hh[r]]}"
            )
        sex_e = np.where(sexes == 1, 0, 10)
        given = (sex_e + rng.integers(0, 10, size=n)).astype(np.int16)
        family = rng.integers(0, len(FAMILY), size=n_hh).astype(np.int16)[hh]
        anniv = (np.datetime64(as_of, "M") - 12 * ages.astype("timedelta64[M]")).astype("datetime64[D]")
        anniv = anniv + np.timedelta64(min(as_of.day, 28) - 1, "D")
        birth = anniv - rng.integers(0, 365, size=n).astype("timedelta64[D]")
        base = Base(as_of, generate_my_numbers(rng, n), family, given, birth, sexes, hh, head, hh_muni)
        for a in (base.my_number, base.family, base.given, base.birth, base.sex, base.household, base.head, hh_muni):
            a.flags.writeable = False
        with store.transaction() as tx:
            if tx.get("registry.base", "base") is not None:
                raise RegistryError("this store already holds a resident registry")
            tx.put("registry.base", "base", base)
        return cls(store)

    # -- static attributes (never change with time) ------------------------------------------------

    def _statics(self) -> tuple[np.ndarray, ...]:
        if self._static is None:
            births = [e for _, e in self._events if isinstance(e, Birth)]
            births.sort(key=lambda e: e.resident)
            b = self._base
            self._static = (
                np.concatenate([b.my_number, np.array([e.my_number for e in births], dtype=np.int64)]),
                np.concatenate([b.family, np.array([e.family for e in births], dtype=np.int16)]),
                np.concatenate([b.given, np.array([e.given for e in births], dtype=np.int16)]),
                np.concatenate([b.birth, np.array([e.on for e in births], dtype="datetime64[D]")]),
                np.concatenate([b.sex, np.array([int(e.sex) for e in births], dtype=np.int8)]),
            )
        return self._static

    @property
    def as_of(self) -> dt.date:
        return self._base.as_of

    def __len__(self) -> int:
        return self._n_residents

    @property
    def n_households(self) -> int:
        return self._n_households

    def reading(self, resident: int) -> str | None:
        """The name's reading in katakana (family, full-width space, given), as on the register."""
        if not 0 <= resident < self._n_residents:
            return None
        _, fam, giv, *_ = self._statics()
        return f"{FAMILY[fam[resident]][1]}\u3000{GIVEN[giv[resident]][1]}"

    def readings(self, residents: np.ndarray | list[int]) -> list[str]:
        """:meth:`reading` for many residents at once (``""`` for ids not on the register)."""
        ids = np.asarray(residents, dtype=np.int64)
        _, fam, giv, *_ = self._statics()
        ok = (ids >= 0) & (ids < self._n_residents)
        safe = np.where(ok, ids, 0)
        f, g = fam[safe].tolist(), giv[safe].tolist()
        return [f"{FAMILY[a][1]}\u3000{GIVEN[b][1]}" if k else "" for a, b, k in zip(f, g, ok.tolist(), strict=True)]

    def birth_dates(self) -> np.ndarray:
        return self._statics()[3]

    def find_by_my_number(self, number: str) -> int | None:
        """The resident holding this My Number, or None (also for malformed numbers)."""
        if not is_valid_my_number(number):
            return None
        return self._number_index().get(int(number))

    def _number_index(self) -> dict[int, int]:
        if self._index is None:
            self._index = {int(x): i for i, x in enumerate(self._statics()[0].tolist())}
        return self._index

    def resident(self, resident: int, on: dt.date) -> Resident | None:
        """The resident as registered on ``on``, or None if not registered that day."""
        snap = self.snapshot(on)
        if not 0 <= resident < len(snap.registered) or not snap.registered[resident]:
            return None
        num, fam, giv, birth, sex = self._statics()
        h = int(snap.household[resident])
        return Resident(
            resident, f"{int(num[resident]):012d}", f"{FAMILY[fam[resident]][0]}\u3000{GIVEN[giv[resident]][0]}",
            self.reading(resident) or "", birth[resident].astype(dt.date), Sex(int(sex[resident])),
            int(snap.household_municipality[h]), h, int(snap.head[h]) == resident,
        )  # fmt: skip

    # -- snapshots ---------------------------------------------------------------------------------

    def snapshot(self, on: dt.date) -> Snapshot:
        """Who was registered on ``on``, in which household, with which head (events effective <= on)."""
        if on < self._base.as_of:
            raise RegistryError(f"snapshot {on}: before the register's base date {self._base.as_of}")
        snap = self._cache.get(on)
        if snap is None:
            if on >= self._tip.on:
                t = self._tip
                snap = Snapshot(
                    on, t.registered.copy(), t.household.copy(), t.head.copy(), t.household_municipality.copy()
                )
            else:
                snap = self._replay(
                    [e for e in self._sorted() if e.on <= on], on, self._n_residents, self._n_households
                )
            for a in (snap.registered, snap.household, snap.head, snap.household_municipality):
                a.flags.writeable = False
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[on] = snap
        return snap

    def _sorted(self, extra: tuple[int, Event] | None = None) -> list[Event]:
        items = self._events if extra is None else [*self._events, extra]
        return [e for _, e in sorted(items, key=_order)]

    def _replay(self, events: list[Event], on: dt.date, n: int, n_hh: int) -> Snapshot:
        b = self._base
        reg = np.zeros(n, dtype=bool)
        reg[: len(b.household)] = True
        hh = np.full(n, -1, dtype=np.int32)
        hh[: len(b.household)] = b.household
        head = np.full(n_hh, -1, dtype=np.int32)
        head[: len(b.head)] = b.head
        hmun = np.full(n_hh, -1, dtype=np.int32)
        hmun[: len(b.head)] = b.household_municipality
        state = Snapshot(on, reg, hh, head, hmun)
        births = self._birth_dates_for(n)
        for e in events:
            _apply(state, e, births)
        return state

    def _birth_dates_for(self, n: int) -> np.ndarray:
        """Birth dates of residents 0..n-1, including one being born in a notification not yet recorded."""
        births = self._statics()[3]
        if len(births) >= n:
            return births
        return np.append(births, np.full(n - len(births), np.datetime64("NaT"), "M8[D]"))  # sorts as youngest

    def _latest(self, on: dt.date) -> Snapshot:
        """The register on ``on`` for validating a notification (the live tip when nothing later is known)."""
        if on >= self._tip.on:
            return self._tip
        return self._replay([e for e in self._sorted() if e.on <= on], on, self._n_residents, self._n_households)

    # -- notifications -----------------------------------------------------------------------------

    def _record(self, event: Event) -> None:
        if event.on < self._base.as_of:
            raise RegistryError(
                f"{type(event).__name__} on {event.on}: before the register's base date {self._base.as_of}"
            )
        seq = len(self._events)
        n = self._n_residents + isinstance(event, Birth)
        n_hh = self._n_households + (isinstance(event, Move) and event.forms)
        if event.on >= self._tip.on:  # the usual case: notifications arrive in date order
            t = self._tip
            grow_r, grow_h = n - len(t.registered), n_hh - len(t.head)
            tip = Snapshot(
                event.on,
                np.append(t.registered, np.zeros(grow_r, bool)) if grow_r else t.registered,
                np.append(t.household, np.full(grow_r, -1, np.int32)) if grow_r else t.household,
                np.append(t.head, np.full(grow_h, -1, np.int32)) if grow_h else t.head,
                np.append(t.household_municipality, np.full(grow_h, -1, np.int32))
                if grow_h
                else t.household_municipality,
            )
            _apply(tip, event, self._birth_dates_for(n))  # checks before it changes anything
        else:  # a late notification: replay everything with it in place, which re-checks every later event
            tip = self._replay(self._sorted((seq, event)), self._tip.on, n, n_hh)
        try:
            with self._store.transaction() as tx:
                tx.insert("registry.events", seq, event)
        except BaseException:  # not written: forget the change applied to the live arrays
            self._tip = self._replay(self._sorted(), self._tip.on, self._n_residents, self._n_households)
            raise
        self._events.append((seq, event))
        self._tip, self._n_residents, self._n_households = tip, n, n_hh
        self._cache.clear()
        if isinstance(event, Birth):
            if self._static is not None:  # append the newborn's row (resident ids are handed out in order)
                num, fam, giv, birth, sex = self._static
                self._static = (
                    np.append(num, np.int64(event.my_number)), np.append(fam, np.int16(event.family)),
                    np.append(giv, np.int16(event.given)), np.append(birth, np.datetime64(event.on, "D")),
                    np.append(sex, np.int8(event.sex)),
                )  # fmt: skip
            if self._index is not None:
                self._index[event.my_number] = event.resident

    def record_birth(self, on: dt.date, household: int, sex: Sex | int, rng: np.random.Generator) -> int:
        """出生届: a child born on ``on`` into ``household``; returns the new resident id."""
        snap = self._latest(on)
        if not 0 <= household < len(snap.head) or snap.head[household] < 0:
            raise RegistryError(f"birth on {on}: household {household} has no registered members that day")
        sex = Sex(int(sex))
        family = int(self._statics()[1][snap.head[household]])
        taken = self._number_index()
        number = int(generate_my_numbers(rng, 1)[0])
        while number in taken:
            number = int(generate_my_numbers(rng, 1)[0])
        given = int(rng.choice(_GIVEN_BY_SEX[sex]))
        rid = self._n_residents
        self._record(Birth(on, rid, household, sex, number, family, given))
        return rid

    def record_death(self, on: dt.date, resident: int, *, new_head: int | None = None) -> None:
        """死亡届: ``resident`` leaves the register on ``on``; a head's household gets ``new_head``
        (default: its oldest remaining member, lowest id on ties)."""
        self._depart(on, resident, Removal.DEATH, new_head)

    def record_emigration(self, on: dt.date, resident: int, *, new_head: int | None = None) -> None:
        """国外転出届: as a death for the register's purposes."""
        self._depart(on, resident, Removal.EMIGRATION, new_head)

    def _depart(self, on: dt.date, resident: int, cause: Removal, new_head: int | None) -> None:
        snap = self._latest(on)
        h = self._registered_household(snap, resident, on, cause.name.lower())
        self._check_successor(snap, h, resident, new_head)
        self._record(Departure(on, resident, cause, AUTO if new_head is None else new_head))

    def record_move(
        self,
        on: dt.date,
        resident: int,
        *,
        join: int | None = None,
        municipality: int | None = None,
        new_head_of_old: int | None = None,
    ) -> int:
        """転居/転出入: move ``resident`` into household ``join``, or form a new household (as its head) in
        ``municipality`` (default: the same one). Returns the household the resident is in afterwards."""
        snap = self._latest(on)
        old = self._registered_household(snap, resident, on, "move")
        if join is not None:
            if municipality is not None:
                raise RegistryError(f"move on {on}: give either join= or municipality=, not both")
            if not 0 <= join < len(snap.head) or snap.head[join] < 0:
                raise RegistryError(f"move on {on}: household {join} has no registered members to join")
            if join == old:
                raise RegistryError(f"move on {on}: resident {resident} is already in household {join}")
            target, forms, muni = join, False, int(snap.household_municipality[join])
        else:
            target, forms = self._n_households, True
            muni = int(snap.household_municipality[old]) if municipality is None else int(municipality)
            if muni < 0:
                raise RegistryError(f"move on {on}: municipality code {muni} is negative")
        self._check_successor(snap, old, resident, new_head_of_old)
        self._record(Move(on, resident, target, muni, forms, AUTO if new_head_of_old is None else new_head_of_old))
        return target

    def record_head_change(self, on: dt.date, household: int, new_head: int) -> None:
        """世帯主変更届: ``new_head`` (a member) becomes the head of ``household`` from ``on``."""
        snap = self._latest(on)
        if snap.household_of(new_head) != household:
            raise RegistryError(f"head change on {on}: resident {new_head} is not a member of household {household}")
        self._record(HeadChange(on, household, new_head))

    @staticmethod
    def _registered_household(snap: Snapshot, resident: int, on: dt.date, what: str) -> int:
        if not 0 <= resident < len(snap.registered) or not snap.registered[resident]:
            raise RegistryError(f"{what} on {on}: resident {resident} is not registered that day")
        return int(snap.household[resident])

    @staticmethod
    def _check_successor(snap: Snapshot, household: int, leaving: int, chosen: int | None) -> None:
        if chosen is None:
            return
        rest = snap.members(household)
        if chosen == leaving or chosen not in rest:
            raise RegistryError(f"new head {chosen}: not a remaining member of household {household}")


def _order(item: tuple[int, Event]) -> tuple[dt.date, int]:
    return (item[1].on, item[0])


def _apply(s: Snapshot, e: Event, births: np.ndarray) -> None:
    """Apply one event to mutable snapshot arrays; every check runs before anything is changed."""
    if isinstance(e, Birth):
        if s.head[e.household] < 0:
            raise RegistryError(f"birth on {e.on}: household {e.household} has no registered members that day")
        s.registered[e.resident] = True
        s.household[e.resident] = e.household
        return
    if isinstance(e, HeadChange):
        if not s.registered[e.head] or s.household[e.head] != e.household:
            raise RegistryError(f"head change on {e.on}: resident {e.head} is not a member of household {e.household}")
        s.head[e.household] = e.head
        return
    r, what = e.resident, type(e).__name__.lower()
    if not s.registered[r]:
        raise RegistryError(f"{what} on {e.on}: resident {r} is not registered that day")
    old = int(s.household[r])
    if isinstance(e, Move) and not e.forms and (s.head[e.household] < 0 or e.household == old):
        raise RegistryError(f"move on {e.on}: household {e.household} has no other registered members to join")
    old_head = int(s.head[old])
    if old_head == r:
        others = s.household == old
        others[r] = False
        old_head = -1
        if others.any():
            old_head = e.new_head if isinstance(e, Departure) else e.new_head_of_old
            if old_head == AUTO:
                rest = np.flatnonzero(others)
                old_head = int(rest[np.lexsort((rest, births[rest]))[0]])
            elif old_head < 0 or not others[old_head]:
                raise RegistryError(f"{what} on {e.on}: household {old} needs a new head from its remaining members")
    s.head[old] = old_head
    if isinstance(e, Departure):
        s.registered[r] = False
        s.household[r] = -1
        return
    if e.forms:
        s.head[e.household] = r
        s.household_municipality[e.household] = e.municipality
    s.household[r] = e.household
