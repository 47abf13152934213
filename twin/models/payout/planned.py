"""The agent run planned from counts: the main process never holds the nation's households.

``twin run`` of an agent scenario used to build the whole nation (every resident), decide every
household's plan and then cut both into partitions: at 1:1 the main process peaked at 13.5 GB while no
partition needed more than 430 MB. Now the main process holds only a :class:`~twin.population.nation.
NationLayout` (how many households each municipality holds, and where each household's draws lie in the
population stream) and walks the households once per option, :data:`WALK_HOUSEHOLDS` at a time, for what
the plan needs of the whole nation: the households' counts behind the push reach and the never-apply rate,
the online attempts per day behind the portal's national capacity step, and where each section's draws
start in the named streams. Each partition gets a :class:`PartitionSpec` -- its sections' first rows,
stream states, its town halls and the national quantities, tens of kB -- and rebuilds its own residents,
households, draws and decisions (as Mesa cohorts, :class:`~twin.models.payout.households.HouseholdModel`)
byte for byte what the whole-nation path (:func:`~twin.models.payout.agent.split`) gives it: the run's
outputs are the same bytes (``tests/models/test_payout_planned.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin.models.payout.aggregate import AggregateResult, PaymentCalendar
from twin.models.payout.behaviour import (
    HOUSEHOLD_DRAWS,
    NEVER,
    ONLINE_DRAWS,
    PUSH,
    Decisions,
    Draws,
    Households,
    Municipalities,
    Setting,
    _draw,
    admit,
    considers_online,
    decide,
    portal_failure,
    setting_of,
)
from twin.models.payout.municipalities import TownHalls
from twin.models.payout.params import Params
from twin.population.nation import NationLayout, generator_at, household_runs, layout_households

#: households per step of the main process's walk (bounds its memory: a few MB per step)
WALK_HOUSEHOLDS = 1 << 16


def section_starts(households: np.ndarray, split_above: int) -> tuple[np.ndarray, np.ndarray]:
    """The sections of :func:`~twin.models.payout.agent.municipality_sections` from the counts alone:
    ``(municipality of each section, first household row of each section and the end)``."""
    counts = np.asarray(households, dtype=np.int64)
    k = np.ones(len(counts), dtype=np.int64)
    if split_above > 0:
        k = np.maximum(1, -(-counts // split_above))
    first = np.concatenate(([0], np.cumsum(counts)))
    sec_mun = np.repeat(np.arange(len(counts)), k)
    s = np.arange(int(k.sum())) - np.repeat(np.concatenate(([0], np.cumsum(k)[:-1])), k)
    c, kk = counts[sec_mun], k[sec_mun]
    start = first[sec_mun] + (s * c + kk - 1) // kk  # the first rank r with r * k // c == s
    return sec_mun, np.concatenate((start, [first[-1]]))


def layout_marks(split_above: set[int]) -> Callable[[np.ndarray], np.ndarray]:
    """The household rows whose first member the layout must keep: every section's first row (and the end)
    for each ``agent.split_above`` of the run's options."""

    def marks(households: np.ndarray) -> np.ndarray:
        return np.unique(np.concatenate([section_starts(households, s)[1] for s in sorted(split_above)]))

    return marks


def municipalities_of(layout: NationLayout) -> Municipalities:
    """The payout's municipalities of a laid-out nation (as :func:`twin.models.payout.households_from_heads`)."""
    from twin.population.municipalities import build_municipalities
    from twin.population.statistics import load_snapshot

    munis = build_municipalities(load_snapshot(layout.snapshot))
    return Municipalities(code=munis.code, type_index=munis.type_index, households=layout.households.astype(np.int64))


def payout_households(heads: Any) -> Households:  # noqa: ANN401 - a twin.population.Heads
    """The payout's view of a run of heads (as :func:`twin.models.payout.households_from_heads`)."""
    return Households(
        municipality=heads.households.municipality.astype(np.int32),
        size=heads.households.size.astype(np.int16),
        head_age=heads.age,
        head_literacy=heads.literacy,
        head_card=heads.has_card,
    )


def _piece_draws(hh: Households, first: int, states: dict[str, dict], online: dict, params: Params,
                 at: np.ndarray | None = None, seen: list[dict] | None = None) -> Draws:  # fmt: skip
    """The kept draws of households ``first ..`` (:meth:`Draws.kept` of the nation, rows ``first ..``): the
    per-household streams jumped to row ``first``, the online-capable ones read on from ``online``. For each
    row of ``at`` (counted from ``first``, ascending), ``seen`` gets the online streams' states where they stand
    at that row (at its first online-capable household from there on): read in pieces, the same numbers."""
    kept = {name: _draw(lambda _n, s=states[name]: generator_at(s, first), name, len(hh), params)
            for name in HOUSEHOLD_DRAWS}  # fmt: skip
    cap = np.flatnonzero(considers_online(hh, kept["channel_choice"], params))
    edges = [0, *np.searchsorted(cap, at if at is not None else []).tolist(), len(cap)]
    pieces: dict[str, list[np.ndarray]] = {name: [] for name in ONLINE_DRAWS}
    for i in range(len(edges) - 1):
        if i and seen is not None:
            seen.append({name: g.bit_generator.state for name, g in online.items()})
        for name in ONLINE_DRAWS:
            pieces[name].append(_draw(lambda _n, g=online[name]: g, name, edges[i + 1] - edges[i], params))
    for name in ONLINE_DRAWS:
        v = np.concatenate(pieces[name])
        full = np.zeros(len(hh), dtype=v.dtype)
        full[cap] = v
        kept[name] = full
    d = Draws(lambda name: None, len(hh), params)  # type: ignore[arg-type,return-value]
    d._kept = kept
    return d


def _state_key(state: dict) -> str:
    return repr(sorted(state.items(), key=str))


@dataclass
class PartitionSpec:
    """What one partition needs to rebuild its households and plan (tens of kB; picklable)."""

    index: int
    option: str
    layout: NationLayout
    first: np.ndarray  # int64 first household row of each of the partition's sections, ascending
    end: np.ndarray  # int64 row after each section's last
    first_member: np.ndarray  # int64 resident row of each section's first member
    online_states: list[dict]  # per section: the ONLINE_DRAWS streams' states at its first capable household
    portal_at: np.ndarray  # int64 per section: the national online households before its first
    states: dict[str, dict]  # the HOUSEHOLD_DRAWS and portal_retry streams at their start
    never_rate: float
    reach: tuple[float, float]
    suspension_day: float
    portal_lo: int
    portal_fail: np.ndarray | None  # the portal's failure share by day from portal_lo (None: nobody online)
    municipalities: np.ndarray  # national rows, ascending
    mun_code: np.ndarray
    mun_type: np.ndarray
    mun_households: np.ndarray
    params: Params
    cal: PaymentCalendar
    day0: dt.date
    seed: tuple[int, ...]
    halls: TownHalls
    scale: float

    def cache_key(self) -> str:
        """A digest of everything the partition's result depends on, the same in every process."""
        from twin.models.payout.agent import digest_field

        h = hashlib.sha256()
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "layout":
                h.update(b"layout=" + v.describe())
            elif f.name == "online_states":
                h.update(b"online_states=" + "|".join(";".join(f"{k}:{_state_key(s)}" for k, s in sorted(d.items()))
                                                      for d in v).encode())  # fmt: skip
            elif f.name == "states":
                h.update(b"states=" + ";".join(f"{k}:{_state_key(s)}" for k, s in sorted(v.items())).encode())
            else:
                digest_field(h, f.name, v)
        return h.hexdigest()


@dataclass
class Walked:
    """What the main process keeps of one option's walk over the nation."""

    specs: list[PartitionSpec]
    households: int
    never_applied: int


def plan_partitions(
    layout: NationLayout,
    mun: Municipalities,
    halls: TownHalls,
    params: Params,
    cal: PaymentCalendar,
    day0: dt.date,
    stream: Callable[[str], np.random.Generator],
    scale: float,
    option: str,
    seed: tuple[int, ...],
) -> Walked:
    """The option's partitions, from one walk over the laid-out nation (:data:`WALK_HOUSEHOLDS` households at a
    time, across sections)."""
    from twin.models.payout.agent import _greedy, n_partitions

    n_hh = len(layout)
    sec_mun, starts = section_starts(layout.households, params.agent.split_above)
    sizes = np.diff(starts)
    groups = _greedy(sizes, n_partitions(params, n_hh))
    national = setting_of(params, day0, halls, scale, n_hh, layout.one_person, layout.residents, layout.card_heads)
    states = {name: stream(name).bit_generator.state for name in (*HOUSEHOLD_DRAWS, "portal_retry")}
    online = {name: stream(name) for name in ONLINE_DRAWS}
    online_states: list[dict] = []  # per section, in order
    portal_at = np.zeros(len(sizes), dtype=np.int64)
    bounds = zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)
    members = np.array([layout.first_member(a) if a < b else 0 for a, b in bounds], dtype=np.int64)
    attempts: dict[int, int] = {}
    never = online_total = 0
    # runs of households across sections (one rebuild and one decide per run, not per section: at 1:100 the
    # sections average 330 households); each section's online states are taken where its rows begin
    for h0, h1, r0 in household_runs(layout, 0, n_hh, 0, WALK_HOUSEHOLDS):
        s0, s1 = len(online_states), int(np.searchsorted(starts[:-1], h1))  # the sections starting in h0..h1
        at = starts[s0:s1] - h0
        hh = payout_households(layout_households(layout, h0, h1, r0))
        dec = decide(hh, _piece_draws(hh, h0, states, online, params, at, online_states), national)
        portal_at[s0:s1] = online_total + np.searchsorted(dec.online_rows, at)
        never += int((dec.route == NEVER).sum())
        online_total += len(dec.online_rows)
        days, k = np.unique(np.floor(dec.online_day).astype(np.int64), return_counts=True)
        for d, c in zip(days.tolist(), k.tolist(), strict=True):
            attempts[d] = attempts.get(d, 0) + c
    for s in range(len(online_states), len(sizes)):  # empty sections after the last household
        online_states.append({name: g.bit_generator.state for name, g in online.items()})
        portal_at[s] = online_total
    lo, fail = 0, None
    if attempts:
        lo = min(attempts)
        by_day = np.zeros(max(attempts) - lo + 1, dtype=np.int64)
        by_day[np.array(list(attempts)) - lo] = list(attempts.values())
        fail = portal_failure(by_day, lo, params, day0, scale)
    specs = []
    for i, g in enumerate(groups):
        secs = np.array(sorted(g), dtype=np.int64)
        ms, inv = np.unique(sec_mun[secs].astype(np.int32), return_inverse=True)  # (the split's dtype)
        specs.append(
            PartitionSpec(
                index=i,
                option=option,
                layout=layout,
                first=starts[secs],
                end=starts[secs + 1],
                first_member=members[secs],
                online_states=[online_states[s] for s in secs],
                portal_at=portal_at[secs],
                states=states,
                never_rate=national.never_rate,
                reach=national.reach,
                suspension_day=national.suspension_day,
                portal_lo=lo,
                portal_fail=fail,
                municipalities=ms,
                mun_code=mun.code[ms],
                mun_type=mun.type_index[ms],
                mun_households=np.bincount(inv, weights=sizes[secs], minlength=len(ms)).astype(mun.households.dtype),
                params=params,
                cal=cal,
                day0=day0,
                seed=(*seed, i),
                halls=TownHalls(**{f.name: getattr(halls, f.name)[ms] for f in dataclasses.fields(TownHalls)}),
                scale=scale,
            )
        )
    return Walked(specs, n_hh, never)


def materialize(spec: PartitionSpec) -> Any:  # noqa: ANN401 - a twin.models.payout.agent.PartitionInput
    """The partition's residents, households and plan, rebuilt from its spec: the
    :class:`~twin.models.payout.agent.PartitionInput` the whole-nation split gives it."""
    from twin.models.payout.agent import PartitionInput
    from twin.models.payout.households import HouseholdModel

    params, layout = spec.params, spec.layout
    res_parts, hh_parts, draw_parts, local_first = [], [], [], [0]
    for a, b, r0, online_state in zip(spec.first.tolist(), spec.end.tolist(), spec.first_member.tolist(),
                                      spec.online_states, strict=True):  # fmt: skip
        res = layout_households(layout, a, b, r0, members=True)
        head = np.flatnonzero(res.is_head)
        hh = Households(
            municipality=res.municipality[head].astype(np.int32),
            size=np.diff(np.append(head, len(res))).astype(np.int16),
            head_age=res.age[head],
            head_literacy=res.literacy[head],
            head_card=res.has_card[head],
        )
        online = {}
        for name, st in online_state.items():
            bg = np.random.PCG64()
            bg.state = st
            online[name] = np.random.Generator(bg)
        draw_parts.append(_piece_draws(hh, a, spec.states, online, params)._kept)
        res_parts.append((res, local_first[-1]))
        hh_parts.append(hh)
        local_first.append(local_first[-1] + (b - a))
    cat = lambda xs: np.concatenate(xs)  # noqa: E731
    local_mun = np.full(len(layout.households), -1, dtype=np.int64)
    local_mun[spec.municipalities] = np.arange(len(spec.municipalities))
    hh = Households(
        municipality=local_mun[cat([h.municipality for h in hh_parts])],
        size=cat([h.size for h in hh_parts]),
        head_age=cat([h.head_age for h in hh_parts]),
        head_literacy=cat([h.head_literacy for h in hh_parts]),
        head_card=cat([h.head_card for h in hh_parts]),
    )
    draws = Draws(lambda name: None, len(hh), params)  # type: ignore[arg-type,return-value]
    draws._kept = {name: cat([d[name] for d in draw_parts]) for name in draw_parts[0]}
    mun = Municipalities(spec.mun_code, spec.mun_type, spec.mun_households)
    national = Setting(params, spec.day0, spec.halls, spec.never_rate, spec.reach, spec.suspension_day)
    bounds = np.array(local_first, dtype=np.int64)

    def portal(dec: Decisions) -> np.ndarray:
        """The national portal step for the partition's online households (their own portal_retry draws)."""
        rows = dec.online_rows
        if spec.portal_fail is None or len(rows) == 0:
            return dec.arrival.copy()
        cut = np.searchsorted(rows, bounds)
        u = cat([generator_at(spec.states["portal_retry"], int(at)).random(int(cut[s + 1] - cut[s]), dtype=np.float32)
                 for s, at in enumerate(spec.portal_at.tolist())])  # fmt: skip
        admitted = admit(dec.online_day, u, spec.portal_lo, spec.portal_fail)
        arrival = dec.arrival.copy()
        arrival[rows] = np.where(dec.route[rows] == PUSH, dec.arrival[rows], admitted)
        return arrival

    def agents_stream(name: str) -> np.random.Generator:  # the Mesa model's own (its order changes no plan)
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
        return np.random.default_rng(np.random.SeedSequence(spec.seed[0], spawn_key=(*spec.seed[1:], key)))

    model = HouseholdModel(hh, mun, params, spec.day0, agents_stream, spec.scale, spec.halls, national=national,
                           draws=draws, portal=portal)  # fmt: skip
    plan = model.plan()
    model.release()
    del model
    gc.collect()  # the model and its agents refer to each other: gone before the partition freezes the heap
    hh_of_res = cat([r.household.astype(np.int64) + off for r, off in res_parts])
    return PartitionInput(
        index=spec.index,
        option=spec.option,
        municipalities=spec.municipalities,
        mun_code=spec.mun_code,
        mun_type=spec.mun_type,
        mun_households=spec.mun_households,
        res_municipality=spec.mun_code[local_mun[cat([r.municipality for r, _ in res_parts])]],
        res_age=cat([r.age for r, _ in res_parts]),
        res_sex=cat([r.sex for r, _ in res_parts]),
        res_household=hh_of_res,
        res_is_head=cat([r.is_head for r, _ in res_parts]),
        hh_municipality=hh.municipality,
        hh_head_age=hh.head_age,
        route=plan.route,
        arrival_day=plan.arrival_day,
        extra_online=plan.extra_online,
        dup_mail_day=plan.dup_mail_day,
        params=params,
        cal=spec.cal,
        day0=spec.day0,
        seed=spec.seed,
        halls=spec.halls,
    )


def simulate_planned(
    layout: NationLayout,
    mun: Municipalities,
    halls: TownHalls,
    params: Params,
    cal: PaymentCalendar,
    day0: dt.date,
    stream: Callable[[str], np.random.Generator],
    scale: float,
    seed: tuple[int, ...],
    *,
    option: str = "",
    executor: Any = None,  # noqa: ANN401
    cache: Path | None = None,
) -> tuple[AggregateResult, dict[str, Any]]:
    """:func:`~twin.models.payout.agent.simulate_agent` of the nation ``layout`` describes, without building
    it in this process: the same result, byte for byte."""
    from twin.experiments.partitions import run_partitions
    from twin.models.payout import agent

    walked = plan_partitions(layout, mun, halls, params, cal, day0, stream, scale, option, seed)
    parts = run_partitions(
        agent.run_partition, walked.specs, executor=executor, what=f"payout {option or 'agent'} partition",
        cache=cache,
    )  # fmt: skip
    return agent.merge(parts, len(mun), walked.households, walked.never_applied, params, cal)
