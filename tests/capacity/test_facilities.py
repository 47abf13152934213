"""The receptions as agents: Mesa decides who is open, the columnar cohorts draw the same day.

The Mesa agents (one per facility) and the columnar arrays must be one model: the same facilities
check online and open on a day, the per-agent patient draws agree with the columnar ones, adoption
follows the sourced shares, and the reader queues are the validated station's queues.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.capacity.facilities import (
    FacilityModel,
    adoption_days,
    build_facilities,
    is_open,
    patient_counts,
    patient_day,
    patients_per_agent,
)
from twin.models.capacity.params import FACILITY_TYPES, Params
from twin.sim import BatchStation, Deterministic

SMALL = {"hospital": 300, "clinic": 1500, "dental": 1200, "pharmacy": 1000}


@pytest.fixture(scope="module")
def model() -> FacilityModel:
    p = Params(facilities={"count": SMALL})
    table = build_facilities(p, np.random.default_rng(3))
    return FacilityModel(p, table, seed=11)


@pytest.mark.slow
def test_every_facility_is_an_agent_and_the_default_is_the_nation() -> None:
    p = Params()
    assert sum(p.facilities.count.values()) == 229_717
    table = build_facilities(p, np.random.default_rng(0))
    assert len(table) == 229_717
    assert set(np.unique(table.prefecture).tolist()) == set(range(1, 48))


@pytest.mark.parametrize("day", [dt.date(2023, 3, 6), dt.date(2024, 7, 13), dt.date(2024, 12, 2)])
def test_mesa_select_is_the_columnar_rule(model: FacilityModel, day: dt.date) -> None:
    rows = sorted(a.row for a in model.operating(day))
    assert rows == np.flatnonzero(is_open(model.table, day)).tolist()


def test_per_agent_draws_agree_with_the_columnar_cohort(model: FacilityModel) -> None:
    day = dt.date(2024, 7, 8)
    reps = 30
    agent = np.zeros(len(model.table))
    col = np.zeros(len(model.table))
    rng = np.random.default_rng(9)
    for _ in range(reps):
        agent += patients_per_agent(model, day)
        col += patient_counts(model, day, rng)
    for k, t in enumerate(FACILITY_TYPES):
        m = model.table.kind == k
        a, c = agent[m].sum(), col[m].sum()
        # both are sums of Poisson draws with the same means: within 4 standard deviations
        assert abs(a - c) < 4 * np.sqrt(a + c), t
    # and facility by facility, the agents' mean is the columnar mean
    on = is_open(model.table, day)
    assert np.corrcoef(agent[on], col[on])[0, 1] > 0.9


def test_groupby_totals_are_the_agents_counts(model: FacilityModel) -> None:
    day = dt.date(2024, 7, 9)
    by_type = model.patients_by_type(day)
    per = np.zeros(len(FACILITY_TYPES))
    for a in model.operating(day):
        per[FACILITY_TYPES.index(a.kind)] += a.patients
    assert [by_type[t] for t in FACILITY_TYPES] == per.astype(int).tolist()


def test_adoption_dates_follow_the_sourced_shares() -> None:
    pts = Params().facilities.adoption["clinic"]
    u = np.random.default_rng(1).random(200_000)
    days = adoption_days(pts, u)
    for d, share in pts:
        assert (days <= d.toordinal()).mean() == pytest.approx(share, abs=0.005)
    mid = dt.date(2023, 11, 1)
    want = np.interp(mid.toordinal(), [p[0].toordinal() for p in pts], [p[1] for p in pts])
    assert (days <= mid.toordinal()).mean() == pytest.approx(want, abs=0.005)


def test_reader_queues_are_the_stations_queues(model: FacilityModel) -> None:
    day = dt.date(2024, 7, 8)
    rng = np.random.default_rng(4)
    counts = patient_counts(model, day, rng) * 4  # crowded receptions
    pd = patient_day(model, day, counts, rng, 0.3, card_share=0.5)
    card = np.flatnonzero(pd.card)
    checked = 0
    for f in np.unique(pd.facility[card])[:40]:
        idx = card[pd.facility[card] == f]
        idx = idx[np.argsort(pd.arrival[idx], kind="stable")]
        r = int(model.table.readers[f])
        for reader in range(r):
            mine = idx[reader::r]
            busy = pd.send[mine] - pd.arrival[mine] - pd.reader_wait[mine]
            st = BatchStation(None, 1, Deterministic(1.0), rng=rng)
            log = st.serve(pd.arrival[mine], busy)
            assert np.allclose(log.end, pd.send[mine], atol=1e-6)
            checked += len(mine)
    assert checked > 100
    assert pd.reader_wait[card].max() > 0


@pytest.mark.slow
def test_wiring_july_2024_totals_by_type() -> None:
    """The per-facility volume is set from the July 2024 totals; the simulated month (adoption,
    opening days, weekdays, Poisson draws) must give them back by type."""
    p = Params()
    table = build_facilities(p, np.random.default_rng(2))
    from twin.models.capacity.requests import _ColumnarModel

    m = _ColumnarModel(p, table)
    rng = np.random.default_rng(5)
    tot = np.zeros(len(FACILITY_TYPES))
    for i in range(31):
        c = patient_counts(m, dt.date(2024, 7, 1) + dt.timedelta(days=i), rng)  # type: ignore[arg-type]
        tot += np.bincount(table.kind, weights=c, minlength=4)
    for k, t in enumerate(FACILITY_TYPES):
        assert tot[k] == pytest.approx(p.facilities.checks_reference_month[t], rel=0.01), t
    assert tot.sum() == pytest.approx(204_975_295, rel=0.01)
