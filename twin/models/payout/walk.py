"""The walk over the laid-out nation: what the plan needs of every household before any partition runs.

Picture the portal's operators on the eve of the payout: before any town hall opens its in-tray they must
know how many applications will reach the portal on each day (the portal's capacity is national), how many
households will never apply, and -- for the twin's common random numbers -- where each section's draws
start in the named streams. Only the households can say, so the plan walks all of them once per design,
:data:`WALK_HOUSEHOLDS` at a time, rebuilding them from the nation's layout (nothing is kept).

The households' own draws (:data:`~twin.models.payout.behaviour.HOUSEHOLD_DRAWS`) are jumped into (PCG64
``advance``); the online ones (:data:`~twin.models.payout.behaviour.ONLINE_DRAWS`) are read in turn, one
number per household that considers going online, and the gamma draw of ``online_delay`` takes a varying
amount of the stream per number, so a section's online states are known only once every earlier section's
online-capable households are counted. With two or more workers the walk is therefore done in three steps:

1. on the workers, over blocks of sections: each section's online-capable households
   (:func:`count_capable`: its heads and their ``channel_choice`` draws, nothing else);
2. here, serially: the online streams drawn on through those counts, exactly as the households read them,
   for each section's states (:func:`online_states`; a few ns per capable household);
3. on the workers again: each block's households decide (:func:`decide_block`), giving the never-apply count,
   the online households per section and the online attempts by day, summed here.

Alone (:class:`~twin.experiments.executors.InlineExecutor`, one worker) it walks serially (:func:`walk_serial`):
the three steps cost more CPU than the one walk. Both give the same numbers (``tests/models/test_payout_walk.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.models.payout.behaviour import (
    HOUSEHOLD_DRAWS,
    NEVER,
    ONLINE_DRAWS,
    Draws,
    Households,
    Setting,
    _draw,
    considers_online,
    decide,
)
from twin.models.payout.params import Params
from twin.population.nation import NationLayout, generator_at, generator_in, household_runs, layout_households

#: households per step of the walk (bounds its memory: a few MB per step)
WALK_HOUSEHOLDS = 1 << 16
#: blocks of sections per worker in the parallel walk (a few, so that a slow block does not hold the others)
BLOCKS_PER_WORKER = 4


def payout_households(heads: Any) -> Households:  # noqa: ANN401 - a twin.population.Heads
    """The payout's view of a run of heads (as :func:`twin.models.payout.households_from_heads`)."""
    return Households(
        municipality=heads.households.municipality.astype(np.int32),
        size=heads.households.size.astype(np.int16),
        head_age=heads.age,
        head_literacy=heads.literacy,
        head_card=heads.has_card,
    )


def piece_draws(hh: Households, first: int, states: dict[str, dict], online: dict, params: Params) -> Draws:
    """The kept draws of households ``first ..`` (:meth:`Draws.kept` of the nation, rows ``first ..``): the
    per-household streams jumped to row ``first``, the online-capable ones read on from ``online``."""
    kept = {name: _draw(lambda _n, s=states[name]: generator_at(s, first), name, len(hh), params)
            for name in HOUSEHOLD_DRAWS}  # fmt: skip
    cap = np.flatnonzero(considers_online(hh, kept["channel_choice"], params))
    for name in ONLINE_DRAWS:
        v = _draw(lambda _n, g=online[name]: g, name, len(cap), params)
        full = np.zeros(len(hh), dtype=v.dtype)
        full[cap] = v
        kept[name] = full
    d = Draws(lambda name: None, len(hh), params)  # type: ignore[arg-type,return-value]
    d._kept = kept
    return d


@dataclass
class Walk:
    """What the plan keeps of one design's walk: per section, the online streams' states at its first
    online-capable household and the online households before it; nationally, the never-apply count and
    the online attempts by day."""

    online_states: list[dict]
    portal_at: np.ndarray  # int64 per section
    never: int
    attempts: dict[int, int]  # day -> online attempts that day (sampled)


@dataclass
class Block:
    """A run of sections for one worker (the layout, tens of kB, and numbers per section)."""

    layout: NationLayout
    params: Params
    states: dict[str, dict]  # the HOUSEHOLD_DRAWS streams at their start
    first: np.ndarray  # int64 first household row of each section
    end: np.ndarray
    members: np.ndarray  # int64 resident row of each section's first member
    national: Setting | None = None  # for decide_block
    online_states: list[dict] | None = None  # for decide_block: each section's online streams' states


def _decided(block: Block, s: int, online: dict[str, np.random.Generator]) -> tuple[int, int, dict[int, int]]:
    """Section ``s`` of the block decided, its online draws read on from ``online``: (never-apply households,
    online households, online attempts by day)."""
    layout, never, n_online, attempts = block.layout, 0, 0, {}
    a, b = int(block.first[s]), int(block.end[s])
    for h0, h1, r0 in household_runs(layout, a, b, int(block.members[s]), WALK_HOUSEHOLDS):
        hh = payout_households(layout_households(layout, h0, h1, r0))
        dec = decide(hh, piece_draws(hh, h0, block.states, online, block.params), block.national)  # type: ignore[arg-type]
        never += int((dec.route == NEVER).sum())
        n_online += len(dec.online_rows)
        days, k = np.unique(np.floor(dec.online_day).astype(np.int64), return_counts=True)
        for d, c in zip(days.tolist(), k.tolist(), strict=True):
            attempts[d] = attempts.get(d, 0) + c
    return never, n_online, attempts


def _add(into: dict[int, int], attempts: dict[int, int]) -> None:
    for d, c in attempts.items():
        into[d] = into.get(d, 0) + c


def walk_serial(block: Block, stream: Callable[[str], np.random.Generator]) -> Walk:
    """The walk in this process: every section of ``block`` in order, the online streams read on throughout."""
    online = {name: stream(name) for name in ONLINE_DRAWS}
    states, portal_at = [], np.zeros(len(block.first), dtype=np.int64)
    never = total = 0
    attempts: dict[int, int] = {}
    for s in range(len(block.first)):
        states.append({name: g.bit_generator.state for name, g in online.items()})
        portal_at[s] = total
        n, k, att = _decided(block, s, online)
        never, total = never + n, total + k
        _add(attempts, att)
    return Walk(states, portal_at, never, attempts)


def count_capable(block: Block) -> np.ndarray:
    """Step 1 (a worker's task): the online-capable households of each of the block's sections (int64)."""
    layout, params, out = block.layout, block.params, np.zeros(len(block.first), dtype=np.int64)
    channel = block.states["channel_choice"]
    for s in range(len(block.first)):
        for h0, h1, r0 in household_runs(layout, int(block.first[s]), int(block.end[s]), int(block.members[s]),
                                         WALK_HOUSEHOLDS):  # fmt: skip
            hh = payout_households(layout_households(layout, h0, h1, r0))
            u = _draw(lambda _n, h0=h0: generator_at(channel, h0), "channel_choice", len(hh), params)
            out[s] += int(considers_online(hh, u, params).sum())
    return out


def online_states(stream: Callable[[str], np.random.Generator], capable: np.ndarray, params: Params) -> list[dict]:
    """Step 2 (here): the ONLINE_DRAWS streams' states at each section's first online-capable household, drawing
    (and dropping) one number per capable household as the households read them (:func:`piece_draws`)."""
    online = {name: stream(name) for name in ONLINE_DRAWS}
    states = []
    for c in capable.tolist():
        states.append({name: g.bit_generator.state for name, g in online.items()})
        for name, g in online.items():
            for k in range(0, c, WALK_HOUSEHOLDS):
                _draw(lambda _n, g=g: g, name, min(WALK_HOUSEHOLDS, c - k), params)
    return states


def decide_block(block: Block) -> tuple[int, np.ndarray, dict[int, int]]:
    """Step 3 (a worker's task): the block's sections decided from their online states: (never-apply households,
    online households per section, online attempts by day)."""
    never, online, attempts = 0, np.zeros(len(block.first), dtype=np.int64), {}
    for s, st in enumerate(block.online_states or []):
        n, online[s], att = _decided(block, s, {name: generator_in(v) for name, v in st.items()})
        never += n
        _add(attempts, att)
    return never, online, attempts


def _cuts(first: np.ndarray, end: np.ndarray, blocks: int) -> np.ndarray:
    """Section numbers cutting the sections into at most ``blocks`` runs of about equal households."""
    done = np.concatenate(([0], np.cumsum(end - first)))
    cuts = np.searchsorted(done, np.linspace(0, done[-1], blocks + 1)[1:-1], side="right")
    return np.unique(np.concatenate(([0], cuts, [len(first)])))


def walk_parallel(block: Block, stream: Callable[[str], np.random.Generator], executor: Any) -> Walk:  # noqa: ANN401
    """The walk of ``block``'s sections in three steps (the module's docstring), steps 1 and 3 on ``executor``."""
    from twin.experiments.partitions import run_partitions

    cuts = _cuts(block.first, block.end, BLOCKS_PER_WORKER * executor.workers)

    def blocks(states: list[dict] | None = None) -> list[Block]:
        return [Block(block.layout, block.params, block.states, block.first[i:j], block.end[i:j], block.members[i:j],
                      block.national, None if states is None else states[i:j])
                for i, j in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)]  # fmt: skip

    capable = np.concatenate(run_partitions(count_capable, blocks(), executor=executor, what="payout walk block"))
    states = online_states(stream, capable, block.params)
    never, attempts, online = 0, {}, []
    for n, k, att in run_partitions(decide_block, blocks(states), executor=executor, what="payout walk block"):
        never += n
        online.append(k)
        _add(attempts, att)
    counts = np.concatenate(online)
    return Walk(states, np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64), never, attempts)


def walk(block: Block, stream: Callable[[str], np.random.Generator], executor: Any = None) -> Walk:  # noqa: ANN401
    """The walk over ``block`` (every section of the nation): on ``executor``'s workers when it has two or more,
    else in this process."""
    if executor is None or executor.workers < 2 or len(block.first) < 2:
        return walk_serial(block, stream)
    return walk_parallel(block, stream, executor)
