"""The walk over the laid-out nation (twin.models.payout.walk) on two worker processes gives the partitions
exactly what the serial walk gives them: each section's online stream states and online households before
it, the never-apply count and the online attempts by day (hence the portal's failure shares)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.experiments.executors import LocalExecutor
from twin.models.payout import payment_calendar
from twin.models.payout import walk as walk_module
from twin.models.payout.municipalities import town_halls
from twin.models.payout.params import Params
from twin.models.payout.planned import layout_marks, municipalities_of, plan_partitions
from twin.population.nation import layout_nation
from twin.runs import stream_key

DAY0 = dt.date(2020, 4, 30)
SCALE = 0.0005  # about 29,000 households


def streams(name: str) -> np.random.Generator:
    return np.random.default_rng([7, stream_key(name)])


@pytest.fixture(scope="module")
def two_processes():  # noqa: ANN201
    with LocalExecutor(2) as ex:
        yield ex


@pytest.mark.parametrize(
    "params",
    [
        Params(agent={"split_above": 400}),  # about 150 sections, big towns cut into several
        Params(channels={"push": True}, agent={"split_above": 0, "partitions": 3}),  # push reach, whole cities
    ],
    ids=["sections", "push-whole-cities"],
)
def test_the_walk_on_two_processes_plans_what_the_serial_walk_plans(params, two_processes, monkeypatch) -> None:  # noqa: ANN001
    layout = layout_nation(SCALE, np.random.default_rng(7), card_date=dt.date(2020, 4, 27),
                           marks=layout_marks({params.agent.split_above}))  # fmt: skip
    mun = municipalities_of(layout)
    halls = town_halls(mun.code, mun.type_index, mun.households / SCALE, params, DAY0, streams)
    cal = payment_calendar(params, DAY0, 340, [])
    plan = lambda executor: plan_partitions(layout, mun, halls, params, cal, DAY0, streams, SCALE, "x",  # noqa: E731
                                            (7, 1, 0), executor)  # fmt: skip
    serial = plan(None)
    calls = []
    real = walk_module.walk_parallel
    monkeypatch.setattr(walk_module, "walk_parallel", lambda *a: calls.append(1) or real(*a))
    # here (step 2) the online streams are drawn on a few numbers at a time, not a walk's run at a time
    monkeypatch.setattr(walk_module, "WALK_HOUSEHOLDS", 7)
    parallel = plan(two_processes)
    assert calls == [1]  # the walk ran on the workers

    assert parallel.never_applied == serial.never_applied > 0
    assert len(parallel.specs) == len(serial.specs) > 1
    for got, want in zip(parallel.specs, serial.specs, strict=True):
        assert got.online_states == want.online_states, got.index
        assert np.array_equal(got.portal_at, want.portal_at) and got.portal_at.dtype == want.portal_at.dtype
        assert got.portal_lo == want.portal_lo
        assert got.portal_fail is not None and want.portal_fail is not None
        assert got.portal_fail.tobytes() == want.portal_fail.tobytes()
        assert got.cache_key() == want.cache_key()  # every field, as the partitions' cache sees them
    # the online streams moved on between many sections (a small town may have no online-capable household),
    # and online households came before most sections
    sections = [(st, at) for spec in serial.specs for st, at in zip(spec.online_states, spec.portal_at, strict=True)]
    assert len({repr(st["online_delay"]) for st, _ in sections}) > len(sections) // 4
    assert sum(at > 0 for _, at in sections) > len(sections) // 2


def test_the_online_streams_are_drawn_on_as_the_households_read_them() -> None:
    """Step 2 alone: drawing (and dropping) the capable households' numbers leaves each online stream where
    reading them household run by household run (as the walk and the partitions do) leaves it."""
    params = Params()
    counts = np.array([0, 1, 5, 0, 70_001, 3])
    states = walk_module.online_states(streams, counts, params)
    online = {name: streams(name) for name in walk_module.ONLINE_DRAWS}
    for c, st in zip(counts.tolist(), states, strict=True):
        assert st == {name: g.bit_generator.state for name, g in online.items()}
        for name, g in online.items():
            for k in (c // 3, c - c // 3):  # in other pieces than online_states draws them
                walk_module._draw(lambda _n, g=g: g, name, k, params)
