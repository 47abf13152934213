"""The agent run planned from counts (twin.models.payout.planned): each partition rebuilds its own
residents, households and plan, byte for byte the inputs the whole-nation split gives it, while the main
process holds only the nation's layout and per-section descriptions."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

import twin.population.nation as nation_module
from twin.models.payout import households_from_nation, payment_calendar
from twin.models.payout.agent import PartitionInput, split
from twin.models.payout.behaviour import NEVER, Draws, decide, setting
from twin.models.payout.households import HouseholdModel
from twin.models.payout.params import Params
from twin.models.payout.planned import (
    PartitionSpec,
    layout_marks,
    materialize,
    municipalities_of,
    plan_partitions,
    section_starts,
)
from twin.population import build_nation
from twin.population.nation import layout_households, layout_nation
from twin.runs import stream_key

DAY0 = dt.date(2020, 4, 30)
CARD_DATE = dt.date(2020, 4, 27)
SCALE = 0.0005  # about 29,000 households


def streams(name: str) -> np.random.Generator:
    return np.random.default_rng([7, stream_key(name)])


def same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


@pytest.mark.parametrize(
    "params",
    [
        Params(agent={"split_above": 400}),  # sections of big towns in different partitions
        Params(channels={"push": True}, agent={"split_above": 0, "partitions": 3}),  # push reach, whole cities
    ],
    ids=["sections", "push-whole-cities"],
)
def test_partitions_rebuild_the_inputs_of_the_whole_nation_split(params: Params, monkeypatch) -> None:  # noqa: ANN001
    # small chunks of the builder, so that sections and walks cross chunk boundaries
    monkeypatch.setattr(nation_module, "CHUNK_HOUSEHOLDS", 5_000)
    nation = build_nation(SCALE, np.random.default_rng(7), card_date=CARD_DATE)
    hh, mun = households_from_nation(nation)
    plan = HouseholdModel(hh, mun, params, DAY0, streams, SCALE).plan()
    cal = payment_calendar(params, DAY0, 200, [])
    inputs = split(nation, hh, mun, plan, params, cal, DAY0, "x", (7, 1, 0))

    layout = layout_nation(SCALE, np.random.default_rng(7), card_date=CARD_DATE,
                           marks=layout_marks({params.agent.split_above}))  # fmt: skip
    walked = plan_partitions(layout, municipalities_of(layout), plan.halls, params, cal, DAY0, streams, SCALE, "x",
                             (7, 1, 0))  # fmt: skip
    assert walked.households == len(hh)
    assert walked.never_applied == int((plan.route == NEVER).sum())
    assert len(walked.specs) == len(inputs) > 1
    # the online households before each section (where its portal_retry draws start), as the whole nation decides
    dec = decide(hh, Draws.kept(hh, streams, params), setting(hh, params, DAY0, plan.halls, SCALE))
    for spec in walked.specs:
        assert np.array_equal(spec.portal_at, np.searchsorted(dec.online_rows, spec.first)), spec.index
    assert sum(int(spec.portal_at.max()) for spec in walked.specs) > 0
    for spec, want in zip(walked.specs, inputs, strict=True):
        got = materialize(spec)
        assert isinstance(got, PartitionInput)
        for f in dataclasses.fields(PartitionInput):
            assert same(getattr(got, f.name), getattr(want, f.name)), (spec.index, f.name)
        assert got.cache_key() == want.cache_key()


def test_the_main_process_holds_counts_not_households(monkeypatch) -> None:  # noqa: ANN001
    """Planning the partitions never builds the nation (both builders raise here), and what the main process
    keeps does not grow with the households: with the same partitions, a sample ten times larger gives
    specs holding as many numbers (per municipality, section, partition or day), far fewer than households."""
    from twin.models.payout.municipalities import town_halls

    def no_nation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the main process built the whole nation")

    for name in ("build_nation", "build_heads", "_generate", "_generate_heads"):
        monkeypatch.setattr(nation_module, name, no_nation)
    params = Params(agent={"split_above": 0, "partitions": 2})
    cal = payment_calendar(params, DAY0, 200, [])
    held = {}
    for scale in (0.001, 0.01):
        layout = layout_nation(scale, np.random.default_rng(3), card_date=CARD_DATE, marks=layout_marks({0}))
        mun = municipalities_of(layout)
        halls = town_halls(mun.code, mun.type_index, mun.households / scale, params, DAY0, streams)
        walked = plan_partitions(layout, mun, halls, params, cal, DAY0, streams, scale, "x", (3, 1, 0))
        arrays = [layout.households, layout.chunk_residents, layout.marks, layout.mark_residents]
        for spec in walked.specs:
            assert isinstance(spec, PartitionSpec)
            arrays += [v for v in vars(spec).values() if isinstance(v, np.ndarray)]
            arrays += [np.asarray(getattr(spec.halls, f.name)) for f in dataclasses.fields(spec.halls)]
        held[scale] = sum(a.size for a in arrays)
        assert max(a.size for a in arrays) <= 7 * len(mun) + 400  # per municipality (x 7: transfer weekdays) or day
    assert len(walked.specs) == 2
    assert held[0.01] <= 1.1 * held[0.001], held  # (a few more municipalities have sampled households)
    assert held[0.01] < len(layout) / 10, (held, len(layout))


def test_section_starts_are_the_sections_of_the_split() -> None:
    from twin.models.payout.agent import municipality_sections

    rng = np.random.default_rng(1)
    counts = rng.integers(0, 50, 40)
    counts[[3, 17]] = [0, 333]
    hh_mun = np.repeat(np.arange(40), counts)
    for split_above in (0, 7, 25, 400):
        want = municipality_sections(hh_mun, 40, split_above)
        sec_mun, starts = section_starts(counts, split_above)
        got = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
        assert np.array_equal(got, want), split_above
        assert np.array_equal(sec_mun[got], hh_mun)


def test_any_run_of_households_is_rebuilt_byte_for_byte(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(nation_module, "CHUNK_HOUSEHOLDS", 3_000)
    nation = build_nation(SCALE, np.random.default_rng(11), card_date=CARD_DATE)
    n = len(nation.households)
    runs = [(0, 1), (1, 2_999), (2_999, 3_001), (4_000, 11_000), (n - 5, n), (0, n)]
    layout = layout_nation(SCALE, np.random.default_rng(11), card_date=CARD_DATE,
                           marks=lambda kept: np.unique([x for r in runs for x in r]))  # fmt: skip
    assert len(layout) == n and layout.residents == len(nation)
    assert layout.one_person == int((nation.households.size == 1).sum())
    assert layout.card_heads == int(nation.residents.has_card[nation.households.head].sum())
    starts = np.append(nation.households.head, len(nation))
    for a, b in runs:
        got = layout_households(layout, a, b, layout.first_member(a), members=True)
        want = nation.residents.take(slice(starts[a], starts[b]))
        for f in dataclasses.fields(want):
            w = getattr(want, f.name)
            assert same(getattr(got, f.name), w - np.int32(a) if f.name == "household" else w), (a, b, f.name)


AGENT_RUN = """
name: planned_check
kind: payout
seed: 5
population: {scale: 0.0001, statistics: "20200401"}
params:
  fidelity: agent
  agent: {partitions: 2, plan_above: 0}
calendar: {start: 2020-04-30, end: 2021-03-31}
options:
  - {name: baseline_2020}
"""


def test_twin_run_of_an_agent_scenario_never_builds_the_nation(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The whole run (main process and, here, its partitions in the same process) without the builders of the
    nation's register: if the main process built it again, this would fail."""
    from twin import runs
    from twin import scenario as sc
    from twin.experiments import InlineExecutor, partitions

    def no_nation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the whole nation was built")

    for name in ("_generate", "_generate_heads"):
        monkeypatch.setattr(nation_module, name, no_nation)
    with partitions.using(InlineExecutor()):
        run = runs.execute(sc.loads(AGENT_RUN), out=tmp_path)
    assert (run.path / "metrics.parquet").stat().st_size > 0


def test_planned_and_built_runs_write_the_same_bytes(tmp_path) -> None:  # noqa: ANN001
    """``agent.plan_above`` only chooses where the households are built: the same scenario planned from the
    layout (0) and built in the main process (the default, this run being small) writes the same outputs."""
    from twin import runs
    from twin import scenario as sc
    from twin.experiments import InlineExecutor, partitions

    out = {}
    for label, text in (("planned", AGENT_RUN), ("built", AGENT_RUN.replace(", plan_above: 0", ""))):
        assert label == "planned" or "plan_above" not in text
        with partitions.using(InlineExecutor()):
            run = runs.execute(sc.loads(text), out=tmp_path / label)
        out[label] = {f: (run.path / f).read_bytes() for f in ("summary.json", "metrics.parquet")}
    assert out["planned"] == out["built"]
