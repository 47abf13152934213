"""The synthetic nation (合成人口): every resident of Japan as one row of a few numpy arrays.

A census office that had to invent a country consistent with everything it publishes would start
from the municipal register totals, cut them into households of census-like sizes, fill the
households with people whose ages add up to the national pyramid, and give each person the
card-holding odds of their town and age. :func:`build_nation` does that from one bundled MIC
release (see :mod:`twin.population.statistics`), fully vectorised, in columnar arrays (126 million
residents in about 2 GB):

* ``scale`` samples whole households: each household of the 1:1 nation is kept independently with
  probability ``scale`` (so household structure is intact) and every count is scaled back by
  ``1 / scale`` (:attr:`Nation.weight`).
* Municipality m holds ``round(population_m / 2.21)`` households at 1:1 (census persons per
  household); their types and sizes, members' ages and sexes come from
  :mod:`twin.population.households`; card, account and literacy from
  :mod:`twin.population.attributes`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields

import numpy as np

from twin.errors import InputError
from twin.population.attributes import LITERACY_BITS, band_of_age, fit_holding, literacy_quantiles
from twin.population.households import HOUSEHOLD_TYPES, N_CELLS, HouseholdModel, household_model
from twin.population.memory import retained_heap
from twin.population.municipalities import Municipalities, build_municipalities
from twin.population.sampling import random_bits, threshold
from twin.population.statistics import (
    CENSUS_PERSONS_PER_HOUSEHOLD,
    N_BANDS,
    HoldingTargets,
    Snapshot,
    account_share_of_holders,
    check_snapshot,
    holding_targets,
    load_snapshot,
)

#: households generated per vectorised step (bounds the temporary memory; fixed, so results do not
#: depend on the machine)
CHUNK_HOUSEHOLDS = 2_000_000


@dataclass(frozen=True)
class Residents:
    """One row per resident (住民): struct of arrays, grouped by household, heads first."""

    municipality: np.ndarray  # int16 row of Nation.municipalities
    age: np.ndarray  # uint8 years (0..104)
    sex: np.ndarray  # uint8: 0 male, 1 female
    household: np.ndarray  # int32 row of Nation.households
    is_head: np.ndarray  # bool: 世帯主
    literacy: np.ndarray  # float32 digital-literacy score 0..1
    has_card: np.ndarray  # bool: holds a My Number card at the card date
    has_account: np.ndarray  # bool: registered public-benefit receipt account

    def __len__(self) -> int:
        return len(self.age)

    def take(self, rows: np.ndarray) -> Residents:
        """The residents at ``rows`` (indices or a boolean mask), same columns."""
        return Residents(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


@dataclass(frozen=True)
class Households:
    """One row per household (世帯): municipality, size, the head's resident row, type."""

    municipality: np.ndarray  # int16
    size: np.ndarray  # uint8
    head: np.ndarray  # int32 resident row of the head (members follow it contiguously)
    type: np.ndarray  # uint8 index into HOUSEHOLD_TYPES

    def __len__(self) -> int:
        return len(self.size)


@dataclass(frozen=True)
class Nation:
    """The synthetic nation at ``scale``; counts scale back to national totals by ``weight``."""

    residents: Residents
    households: Households
    municipalities: Municipalities
    scale: float
    snapshot: Snapshot
    card_date: dt.date
    holding: HoldingTargets
    account_share: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def weight(self) -> float:
        """How many real residents (households) each row stands for: 1 / scale."""
        return 1.0 / self.scale

    def __len__(self) -> int:
        return len(self.residents)

    def __repr__(self) -> str:
        return (
            f"Nation({len(self):,} residents, {len(self.households):,} households, "
            f"{len(self.municipalities):,} municipalities, scale={self.scale:g}, snapshot={self.snapshot.name}, "
            f"card_date={self.card_date.isoformat()})"
        )


@dataclass(frozen=True)
class Heads:
    """The synthetic nation seen one row per household, with its head's attributes and no other members.

    :func:`build_heads` gives exactly the households and heads of :func:`build_nation` with the same
    arguments and generator (the same draws are made and the members' are discarded), in a fifth of
    the memory: what household-level models (the aggregate payout) need at 1:1."""

    households: Households  # ``head`` is the head's row in the full nation
    municipalities: Municipalities
    age: np.ndarray  # uint8: the head's age
    sex: np.ndarray  # uint8
    literacy: np.ndarray  # float32
    has_card: np.ndarray  # bool
    has_account: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.households)

    @classmethod
    def of(cls, nation: Nation) -> Heads:
        """The heads of a nation already built (the same table :func:`build_heads` would give)."""
        res, head = nation.residents, nation.households.head
        return cls(nation.households, nation.municipalities, res.age[head], res.sex[head], res.literacy[head],
                   res.has_card[head], res.has_account[head])  # fmt: skip


def tally(keys: np.ndarray, minlength: int, weights: np.ndarray | None = None, chunk: int = 1 << 22) -> np.ndarray:
    """``np.bincount`` over 126 million rows without its full-size int64/float64 copies.

    ``keys`` may be any small integer dtype; the sum runs over chunks of ``chunk`` rows, so the
    temporary memory is a few tens of MB instead of 1 GB per cast. Returns float64 counts or sums.
    """
    out = np.zeros(minlength, dtype=np.float64)
    for i in range(0, len(keys), chunk):
        k = keys[i : i + chunk]
        wt = None if weights is None else weights[i : i + chunk]
        out += np.bincount(k, weights=wt, minlength=minlength)[:minlength]
    return out


def _check_args(scale: float, rng: np.random.Generator, snapshot: str, card_date: dt.date | None) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not (0 < scale <= 1):
        raise InputError(f"scale {scale!r} is not in (0, 1]: the share of households sampled (1 = every household)")
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng is {type(rng).__name__}, not a numpy.random.Generator (use numpy.random.default_rng)")
    check_snapshot(snapshot)
    if card_date is not None and not isinstance(card_date, dt.date):
        raise InputError(f"card_date {card_date!r} is not a date")


def _prepare(
    scale: float,
    rng: np.random.Generator,
    snapshot: str,
    card_date: dt.date | None,
    account_share: float | None,
    literacy_concentration: float,
) -> tuple:
    """Check the arguments and derive what both builders need from the release."""
    _check_args(scale, rng, snapshot, card_date)
    if account_share is not None and not (0 <= account_share <= 1):
        raise InputError(f"account_share {account_share!r} is not in [0, 1]")
    if not (literacy_concentration > 0 and math.isfinite(literacy_concentration)):
        raise InputError(f"literacy_concentration {literacy_concentration!r} is not a positive number")
    snap = load_snapshot(snapshot)
    card_date = card_date or snap.date
    munis = build_municipalities(snap)
    model = household_model(snapshot)
    targets = holding_targets(snap, card_date)
    if account_share is None:
        account_share = account_share_of_holders(card_date)
    band_share = snap.band_population / snap.band_population.sum()
    holding = threshold(fit_holding(munis.population, targets.muni_rate, band_share, targets.band_rate).reshape(-1))
    lit_q = literacy_quantiles(literacy_concentration).reshape(-1)
    return snap, card_date, munis, model, targets, account_share, holding, lit_q


def build_nation(
    scale: float,
    rng: np.random.Generator,
    snapshot: str = "20200401",
    card_date: dt.date | None = None,
    progress: Callable[[float], None] | None = None,
    *,
    account_share: float | None = None,
    literacy_concentration: float = 4.0,
) -> Nation:
    """Build the synthetic nation from one bundled MIC release.

    ``scale`` in (0, 1] is the share of households kept; ``card_date`` (default: the release's date)
    fixes card holding and accounts; ``account_share`` overrides the share of card holders with a
    registered account (default: from FIGURES.md at ``card_date``); ``progress`` is called with the
    fraction of the work done at each step (they add up to 1).
    """
    setup = _prepare(scale, rng, snapshot, card_date, account_share, literacy_concentration)
    snap, card_date, munis, model, targets, account_share, holding, lit_q = setup
    advance = progress or (lambda fraction: None)

    with retained_heap():
        res, hh_mun, hh_size, offsets, cat = _generate(munis, model, scale, rng, holding, lit_q, account_share, advance)
    households = Households(
        municipality=hh_mun,
        size=hh_size,
        head=offsets[:-1],  # a view: the first row of each household
        type=model.cat_type[cat],
    )
    notes = list(munis.notes)
    if snap.demographics_from != snap.name:
        notes.append(f"release {snap.name} has no demographics table; ages from release {snap.demographics_from}")
    return Nation(res, households, munis, float(scale), snap, card_date, targets, float(account_share), tuple(notes))


def build_heads(
    scale: float,
    rng: np.random.Generator,
    snapshot: str = "20200401",
    card_date: dt.date | None = None,
    progress: Callable[[float], None] | None = None,
    *,
    account_share: float | None = None,
    literacy_concentration: float = 4.0,
) -> Heads:
    """The households and heads :func:`build_nation` would build with the same arguments and
    generator, without keeping the other members (same draws, same values, byte for byte)."""
    setup = _prepare(scale, rng, snapshot, card_date, account_share, literacy_concentration)
    snap, card_date, munis, model, targets, account_share, holding, lit_q = setup
    advance = progress or (lambda fraction: None)
    with retained_heap():
        return _generate_heads(munis, model, scale, rng, holding, lit_q, account_share, advance)


def _generate_heads(
    munis: Municipalities,
    model: HouseholdModel,
    scale: float,
    rng: np.random.Generator,
    holding: np.ndarray,
    lit_q: np.ndarray,
    account_share: float,
    advance: Callable[[float], None],
) -> Heads:
    hh_mun, cat, hh_size, offsets = _households(munis, model, scale, rng)
    n_hh = len(hh_mun)
    advance(0.05)
    age = np.empty(n_hh, np.uint8)
    sex = np.empty(n_hh, np.uint8)
    literacy = np.empty(n_hh, np.float32)
    has_card = np.empty(n_hh, bool)
    has_account = np.empty(n_hh, bool)
    band2 = _band2()
    acct = threshold(account_share)
    for h0 in range(0, n_hh, CHUNK_HOUSEHOLDS):
        h1 = min(n_hh, h0 + CHUNK_HOUSEHOLDS)
        p0, n = int(offsets[h0]), int(offsets[h1] - offsets[h0])
        heads = offsets[h0:h1] - np.int32(p0)  # the heads' rows within the chunk's members
        c = cat[h0:h1]
        # the draws of _fill_chunk, in its order; the members' own are made and dropped
        cell = model.head_table.draw(model.head_role_of_cat[c], random_bits(rng, h1 - h0))
        random_bits(rng, n)  # the dependants' ages and sexes
        bits = [random_bits(rng, n)[heads] for _ in range(3)]  # every member's, kept for the heads
        out = slice(h0, h1)
        age[out], sex[out] = (cell >> 1).astype(np.uint8), (cell & 1).astype(np.uint8)
        literacy[out], has_card[out], has_account[out] = _attributes(
            cell, hh_mun[out], *bits, lit_q, holding, band2, acct
        )
        advance(0.95 * (h1 - h0) / n_hh)
    households = Households(municipality=hh_mun, size=hh_size, head=offsets[:-1], type=model.cat_type[cat])
    return Heads(households, munis, age, sex, literacy, has_card, has_account)


def _households(
    munis: Municipalities, model: HouseholdModel, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """How many households per municipality, their categories and sizes, and where each household's
    members start: ``(hh_mun, cat, hh_size, offsets)``."""
    full = np.rint(munis.population / CENSUS_PERSONS_PER_HOUSEHOLD).astype(np.int64)
    kept = full if scale == 1 else rng.binomial(full, scale)
    hh_mun = np.repeat(np.arange(len(munis), dtype=np.int16), kept)
    n_hh = len(hh_mun)
    cat = np.empty(n_hh, dtype=np.uint8)
    for h0 in range(0, n_hh, CHUNK_HOUSEHOLDS):
        h1 = min(n_hh, h0 + CHUNK_HOUSEHOLDS)
        cat[h0:h1] = model.cat_table.draw(0, random_bits(rng, h1 - h0))
    hh_size = model.cat_size[cat]
    n = int(hh_size.sum(dtype=np.int64))
    if n >= np.iinfo(np.int32).max:
        raise InputError(f"{n:,} residents do not fit int32 row numbers")
    offsets = np.zeros(n_hh + 1, dtype=np.int32)
    np.cumsum(hh_size, out=offsets[1:])
    return hh_mun, cat, hh_size, offsets


def _generate(
    munis: Municipalities,
    model: HouseholdModel,
    scale: float,
    rng: np.random.Generator,
    holding: np.ndarray,
    lit_q: np.ndarray,
    account_share: float,
    advance: Callable[[float], None],
) -> tuple[Residents, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Households per municipality, their categories and sizes, then members chunk by chunk."""
    hh_mun, cat, hh_size, offsets = _households(munis, model, scale, rng)
    n_hh, n = len(hh_mun), int(offsets[-1])
    advance(0.05)

    res = Residents(
        municipality=np.empty(n, np.int16),
        age=np.empty(n, np.uint8),
        sex=np.empty(n, np.uint8),
        household=np.empty(n, np.int32),
        is_head=np.empty(n, bool),
        literacy=np.empty(n, np.float32),
        has_card=np.empty(n, bool),
        has_account=np.empty(n, bool),
    )
    band2 = _band2()
    for h0 in range(0, n_hh, CHUNK_HOUSEHOLDS):
        h1 = min(n_hh, h0 + CHUNK_HOUSEHOLDS)
        _fill_chunk(res, model, h0, h1, cat, hh_mun, hh_size, offsets, holding, band2, lit_q, account_share, rng)
        advance(0.95 * (h1 - h0) / n_hh)
    return res, hh_mun, hh_size, offsets, cat


def _band2() -> np.ndarray:
    """``band2[age, sex]``: the (age band, sex) cell of the holding table."""
    return (band_of_age().astype(np.int32) * 2)[:, None] + np.arange(2, dtype=np.int32)[None, :]


def _fill_chunk(
    res: Residents,
    model: HouseholdModel,
    h0: int,
    h1: int,
    cat: np.ndarray,
    hh_mun: np.ndarray,
    hh_size: np.ndarray,
    offsets: np.ndarray,
    holding: np.ndarray,
    band2: np.ndarray,
    lit_q: np.ndarray,
    account_share: float,
    rng: np.random.Generator,
) -> None:
    """Members of households h0..h1: roles, ages and sexes given the head, then attributes."""
    p0, p1 = int(offsets[h0]), int(offsets[h1])
    n = p1 - p0
    # the draws, in this order: heads' cells, dependants' cells, literacy, card, account
    bits = [random_bits(rng, h1 - h0)] + [random_bits(rng, n) for _ in range(4)]
    cols = _members(model, cat[h0:h1], hh_mun[h0:h1], hh_size[h0:h1], offsets[h0:h1] - np.int32(p0), *bits,
                    holding, band2, lit_q, threshold(account_share))  # fmt: skip
    out = slice(p0, p1)
    res.municipality[out], res.age[out], res.sex[out] = cols[0], cols[1], cols[2]
    res.household[out] = cols[3] + h0
    res.is_head[out], res.literacy[out], res.has_card[out], res.has_account[out] = cols[4:]


def _members(
    model: HouseholdModel,
    c: np.ndarray,
    hh_mun: np.ndarray,
    hh_size: np.ndarray,
    first: np.ndarray,
    head_bits: np.ndarray,
    dep_bits: np.ndarray,
    literacy_bits: np.ndarray,
    card_bits: np.ndarray,
    account_bits: np.ndarray,
    holding: np.ndarray,
    band2: np.ndarray,
    lit_q: np.ndarray,
    account_threshold: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """The members of consecutive households (categories ``c``, first members at rows ``first`` relative to
    the first household's) from their own random bits: ``(municipality, age, sex, household, is_head,
    literacy, card, account)``, ``household`` numbered from 0. Every value depends only on its household's
    and its member's bits, so any run of households gives the rows :func:`build_nation` gives them."""
    n = len(dep_bits)
    local = np.repeat(np.arange(len(c), dtype=np.int32), hh_size)
    pos = np.arange(n, dtype=np.int32)
    pos -= first[local]
    role = model.slot_role[c[local], pos]
    head_cell = model.head_table.draw(model.head_role_of_cat[c], head_bits)
    dep_rows = np.maximum(model.dep_row_of_role, 0).astype(np.int32)[role] * N_CELLS
    dep_rows += head_cell[local]
    is_head = pos == 0
    cell = np.where(is_head, head_cell[local], model.dep_table.draw(dep_rows, dep_bits))
    del dep_rows, role
    age = (cell >> 1).astype(np.uint8)
    sex = (cell & 1).astype(np.uint8)
    mun = hh_mun[local]
    literacy, card, account = _attributes(
        cell, mun, literacy_bits, card_bits, account_bits, lit_q, holding, band2, account_threshold
    )
    return mun, age, sex, local, is_head, literacy, card, account


def _attributes(
    cell: np.ndarray,
    mun: np.ndarray,
    literacy_bits: np.ndarray,
    card_bits: np.ndarray,
    account_bits: np.ndarray,
    lit_q: np.ndarray,
    holding: np.ndarray,
    band2: np.ndarray,
    account_threshold: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Literacy, card and account of persons in (age, sex) ``cell`` of municipality ``mun``, from their
    own random bits: the top bits pick one of the cell's literacy quantiles; the card follows the
    holding of the municipality's (age band, sex) cell; an account, a card holder's share."""
    level = (literacy_bits >> np.uint32(32 - LITERACY_BITS)).astype(np.int32)
    level += cell.astype(np.int32) << LITERACY_BITS
    card = card_bits < holding[mun.astype(np.int32) * (2 * N_BANDS) + band2[cell >> 1, cell & 1]]
    return lit_q[level], card, card & (account_bits < account_threshold)


# -- the nation laid out, not built: where each household lies in the random stream --------------------


#: seeds the scratch bit generators whose state is overwritten at once (seeding one from the OS's entropy, the
#: default, cost about 60 us, most of a jump's cost)
_SCRATCH_SEED = np.random.SeedSequence(0)


def generator_in(state: dict) -> np.random.Generator:
    """A new PCG64 generator in ``state`` (a ``bit_generator.state``)."""
    bg = np.random.PCG64(_SCRATCH_SEED)
    bg.state = state
    return np.random.Generator(bg)


def generator_at(state: dict, k: int) -> np.random.Generator:
    """A generator whose next 32-bit draw is the ``k``-th (from 0) a PCG64 generator in ``state`` would make.

    Every draw of the nation's builder after the household counts is a run of 32-bit integers
    (:func:`random_bits`), and PCG64 gives two of them per 64-bit step (the low half first), so the
    ``k``-th is found by jumping ``k // 2`` steps (PCG64.advance), not by drawing the ones before it."""
    if state.get("bit_generator") != "PCG64":
        raise ValueError(f"generator_at: a {state.get('bit_generator')} stream cannot be jumped into (PCG64 only)")
    g = generator_in(state)
    if state["has_uint32"]:  # the high half of the last 64-bit step is waiting: it is draw 0
        if k == 0:
            return g
        k -= 1
        g.bit_generator.state = {**state, "has_uint32": 0, "uinteger": 0}
    g.bit_generator.advance(k // 2)
    if k % 2:
        random_bits(g, 1)  # the low half; the high half is next
    return g


@dataclass(frozen=True)
class NationLayout:
    """The synthetic nation as :func:`build_nation` would draw it, without its households: how many each
    municipality holds, the random stream's state after those counts, and the members per chunk of
    :data:`CHUNK_HOUSEHOLDS`, from which any run of households can be rebuilt byte for byte
    (:func:`layout_households`) without drawing the others. Tens of kB for the whole nation."""

    snapshot: str
    card_date: dt.date
    account_share: float
    literacy_concentration: float
    households: np.ndarray  # int64 households kept per municipality
    state: dict  # the population stream's state after the counts: the households' categories start here
    chunk_residents: np.ndarray  # int64 members per chunk of CHUNK_HOUSEHOLDS households
    marks: np.ndarray  # int64 household rows whose first member's row is kept ...
    mark_residents: np.ndarray  # ... here (int64)
    one_person: int  # one-person households
    card_heads: int  # heads holding a card

    def __len__(self) -> int:
        return int(self.households.sum())

    @property
    def residents(self) -> int:
        return int(self.chunk_residents.sum())

    def first_member(self, household: int) -> int:
        """The row of a marked household's first member."""
        i = int(np.searchsorted(self.marks, household))
        if i == len(self.marks) or self.marks[i] != household:
            raise ValueError(f"household {household} is not a marked row of the layout")
        return int(self.mark_residents[i])

    def describe(self) -> bytes:
        """Everything the rows depend on, as bytes (for cache keys)."""
        parts = [repr((self.snapshot, self.card_date, self.account_share, self.literacy_concentration,
                       sorted(self.state.items(), key=str))).encode()]  # fmt: skip
        parts += [np.ascontiguousarray(a).tobytes() for a in (self.households, self.chunk_residents)]
        return b"\0".join(parts)


def layout_nation(
    scale: float,
    rng: np.random.Generator,
    snapshot: str = "20200401",
    card_date: dt.date | None = None,
    marks: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: Callable[[float], None] | None = None,
    *,
    account_share: float | None = None,
    literacy_concentration: float = 4.0,
) -> NationLayout:
    """The layout of the nation :func:`build_nation` builds with the same arguments and generator.

    ``marks(households per municipality)`` names the household rows (ascending) whose first member's row
    the layout keeps: where runs of households will be rebuilt. Memory: one chunk at a time."""
    setup = _prepare(scale, rng, snapshot, card_date, account_share, literacy_concentration)
    snap, card_date, munis, model, targets, account_share, holding, lit_q = setup
    advance = progress or (lambda fraction: None)
    full = np.rint(munis.population / CENSUS_PERSONS_PER_HOUSEHOLD).astype(np.int64)
    kept = full if scale == 1 else rng.binomial(full, scale)
    state = rng.bit_generator.state
    if state.get("bit_generator") != "PCG64":
        raise InputError(f"layout_nation: rng is a {state.get('bit_generator')} generator, not PCG64 (default_rng)")
    n_hh = int(kept.sum())
    want = np.asarray(marks(kept) if marks is not None else [], dtype=np.int64)
    mark_res = np.zeros(len(want), dtype=np.int64)
    chunk_res = []
    one_person = 0
    p0 = 0
    for h0 in range(0, n_hh, CHUNK_HOUSEHOLDS):
        h1 = min(n_hh, h0 + CHUNK_HOUSEHOLDS)
        size = model.cat_size[model.cat_table.draw(0, random_bits(rng, h1 - h0))]
        one_person += int((size == 1).sum())
        first = np.zeros(h1 - h0 + 1, dtype=np.int64)
        np.cumsum(size, out=first[1:])
        here = (want >= h0) & (want <= h1)
        mark_res[here] = p0 + first[want[here] - h0]
        chunk_res.append(int(first[-1]))
        p0 += int(first[-1])
        advance(0.3 * (h1 - h0) / max(n_hh, 1))
    if p0 >= np.iinfo(np.int32).max:
        raise InputError(f"{p0:,} residents do not fit int32 row numbers")
    layout = NationLayout(snap.name, card_date, float(account_share), float(literacy_concentration), kept, state,
                          np.array(chunk_res, dtype=np.int64), want, mark_res, one_person, 0)  # fmt: skip
    cards = 0
    for h0, h1, r0 in household_runs(layout, 0, n_hh, 0, CHUNK_HOUSEHOLDS // 4):
        cards += int(layout_households(layout, h0, h1, r0).has_card.sum())
        advance(0.7 * (h1 - h0) / max(n_hh, 1))
    return dataclasses.replace(layout, card_heads=cards)


def household_runs(layout: NationLayout, a: int, b: int, first: int, most: int) -> Iterator[tuple[int, int, int]]:
    """Households a..b (whose first member is row ``first``) in runs of at most ``most`` within one chunk:
    ``(start, end, first member's row)``."""
    model = household_model(layout.snapshot)
    h = a
    while h < b:
        end = min(b, h + most, (h // CHUNK_HOUSEHOLDS + 1) * CHUNK_HOUSEHOLDS)
        yield h, end, first
        cat = model.cat_table.draw(0, random_bits(generator_at(layout.state, h), end - h))
        first += int(model.cat_size[cat].sum(dtype=np.int64))
        h = end


@functools.cache
def _tables(snapshot: str, card_date: dt.date, account_share: float, literacy_concentration: float) -> tuple:
    """What rebuilding households needs from the release (cached: every partition of a run asks)."""
    snap = load_snapshot(snapshot)
    munis = build_municipalities(snap)
    targets = holding_targets(snap, card_date)
    band_share = snap.band_population / snap.band_population.sum()
    holding = threshold(fit_holding(munis.population, targets.muni_rate, band_share, targets.band_rate).reshape(-1))
    lit_q = literacy_quantiles(literacy_concentration).reshape(-1)
    return household_model(snapshot), holding, lit_q, _band2(), munis


def layout_households(layout: NationLayout, a: int, b: int, first: int, *, members: bool = False) -> Heads | Residents:
    """Households ``a..b`` of the laid-out nation, whose first member is row ``first``: their heads (a
    :class:`Heads`, household ``head`` rows counted from ``first``), or with ``members`` every member (a
    :class:`Residents`, ``household`` counted from ``a``) -- the rows :func:`build_nation` gives them,
    byte for byte, drawn by jumping into the stream (:func:`generator_at`)."""
    model, holding, lit_q, band2, munis = _tables(layout.snapshot, layout.card_date, layout.account_share,
                                           layout.literacy_concentration)  # fmt: skip
    n_hh = len(layout)
    bounds = np.concatenate(([0], np.cumsum(layout.households)))
    chunk_first = np.concatenate(([0], np.cumsum(layout.chunk_residents)))
    acct = threshold(layout.account_share)
    heads: list[tuple] = []
    rows: list[tuple] = []
    hh_first = first
    for h0, h1, r0 in household_runs(layout, a, b, first, CHUNK_HOUSEHOLDS):
        c = h0 // CHUNK_HOUSEHOLDS
        c0 = c * CHUNK_HOUSEHOLDS
        in_chunk = min(n_hh, c0 + CHUNK_HOUSEHOLDS) - c0
        n_c = int(layout.chunk_residents[c])
        # where the chunk's draws start: after every category and the earlier chunks' five runs
        base = n_hh + c0 + 4 * int(chunk_first[c])
        cat = model.cat_table.draw(0, random_bits(generator_at(layout.state, h0), h1 - h0))
        size = model.cat_size[cat]
        offsets = np.zeros(h1 - h0 + 1, dtype=np.int32)
        np.cumsum(size, out=offsets[1:])
        n = int(offsets[-1])
        at = r0 - int(chunk_first[c])  # the run's first member within the chunk
        head_bits = random_bits(generator_at(layout.state, base + h0 - c0), h1 - h0)
        runs = [random_bits(generator_at(layout.state, base + in_chunk + k * n_c + at), n) for k in range(4)]
        mun = (np.searchsorted(bounds, np.arange(h0, h1), side="right") - 1).astype(np.int16)
        if members:
            cols = _members(model, cat, mun, size, offsets[:-1], head_bits, *runs, holding, band2, lit_q, acct)
            rows.append((*cols[:3], cols[3] + np.int32(h0 - a), *cols[4:]))
        else:
            cell = model.head_table.draw(model.head_role_of_cat[cat], head_bits)
            hd = offsets[:-1]
            lit, card, account = _attributes(cell, mun, runs[1][hd], runs[2][hd], runs[3][hd], lit_q, holding, band2,
                                             acct)  # fmt: skip
            heads.append((mun, size, offsets[:-1] + np.int32(r0 - hh_first), model.cat_type[cat],
                          (cell >> 1).astype(np.uint8), (cell & 1).astype(np.uint8), lit, card, account))  # fmt: skip
    if members:
        names = [f.name for f in fields(Residents)]
        cols = [np.concatenate([r[i] for r in rows]) if rows else np.empty(0) for i in range(len(names))]
        return Residents(**dict(zip(names, cols, strict=True)))
    cols = [np.concatenate([r[i] for r in heads]) if heads else np.empty(0) for i in range(9)]
    return Heads(Households(*cols[:4]), munis, *cols[4:])


__all__ = [
    "HOUSEHOLD_TYPES", "Heads", "Households", "Nation", "NationLayout", "Residents", "build_heads", "build_nation",
    "generator_at", "generator_in", "layout_households", "layout_nation", "tally",
]  # fmt: skip
