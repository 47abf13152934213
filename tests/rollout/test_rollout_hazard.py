"""Who applies: the hazard function, the cells and the levers, on inputs small enough to check by hand."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.models.rollout.hazard import (
    REFERENCE_LITERACY,
    build_cells,
    daily_probability,
    literacy_table,
    static_log_hazard,
)
from twin.models.rollout.levers import build_levers, mailout_lift, points_lift
from twin.models.rollout.params import Hazard, MailOut, Params, PointsPhase


def test_reference_resident_has_the_base_hazard_and_each_term_multiplies_it() -> None:
    h = Hazard(base_per_year=0.365, male_log_rr=np.log(2.0), literacy_effect=1.0, word_of_mouth=3.0)
    band45 = np.array([9])  # 45-49: age_log_rr 0 by default
    s = static_log_hazard(h, band45, np.array([1]), np.array([REFERENCE_LITERACY]), np.array([2]))
    assert np.isclose(np.exp(s[0]), 0.001)  # 0.365 a year is 0.001 a day
    male = static_log_hazard(h, band45, np.array([0]), np.array([REFERENCE_LITERACY]), np.array([2]))
    assert np.isclose(np.exp(male[0]), 0.002)
    low = static_log_hazard(h, band45, np.array([1]), np.array([REFERENCE_LITERACY - 0.5]), np.array([2]))
    assert np.isclose(np.exp(low[0]), 0.001 * np.exp(-0.5))
    # today: levers +1.0, support +0.4 at literacy 0.5 (= +0.2), half the household holds a card
    p = daily_probability(low, np.array([0.4]), np.array([0.5]), 1.0, 0.4, h.word_of_mouth)
    rate = 0.001 * np.exp(-0.5) * (1 + 1.0 + 0.4 * 0.6) * (1 + 3.0 * 0.5)
    assert np.isclose(p[0], 1 - np.exp(-rate))


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-12, 0), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 20), st.floats(0, 5),
    st.floats(0, 5),
)  # fmt: skip
def test_probability_is_a_probability_and_rises_with_every_lever(
    log_rate: float, lit: float, share: float, more: float, lift: float, support: float, wom: float
) -> None:
    args = (np.array([log_rate]), np.array([lit]))
    p = daily_probability(*args, np.array([share]), lift, support, wom)[0]
    assert 0.0 <= p <= 1.0
    assert daily_probability(*args, np.array([min(1.0, share + more)]), lift, support, wom)[0] >= p
    assert daily_probability(*args, np.array([share]), lift + more, support, wom)[0] >= p
    assert daily_probability(*args, np.array([share]), lift, support + more, wom)[0] >= p


def test_cells_hold_every_resident_once_with_the_national_age_structure() -> None:
    muni_pop = np.array([1000.0, 50_000.0, 7.0])
    band_sex = np.ones((21, 2))
    band_sex[20] = 0.0  # nobody over 100
    cells = build_cells(muni_pop, np.array([0, 2, 3]), band_sex)
    assert len(cells.population) == 3 * 21 * 2
    assert np.allclose(np.bincount(cells.muni, weights=cells.population), muni_pop)
    assert cells.population[(cells.muni == 1) & (cells.band == 20)].sum() == 0
    assert np.allclose(cells.literacy, literacy_table()[cells.band, cells.sex])


def test_literacy_falls_with_age_and_is_lower_for_older_women() -> None:
    lit = literacy_table()
    assert lit[8, 0] == 0.9 and lit[13, 0] == 0.619 and lit[13, 1] == 0.525 and lit[20, 1] == 0.110
    assert np.all(np.diff(lit[12:, 1]) <= 0)


def test_a_mailout_spends_its_whole_effect_over_time() -> None:
    m = MailOut(name="x", start=dt.date(2020, 1, 11), spread_days=30, coverage=0.5, lift=2.0, decay_days=20)
    lift = mailout_lift(m, dt.date(2020, 1, 1), 1000)
    assert np.all(lift[:11] == 0) and lift.max() > 0
    # area under the lift = coverage x lift x mean duration (daily sums of a continuous decay: 1 % slack)
    assert np.isclose(lift.sum(), 0.5 * 2.0 * 20, rtol=0.03)


def test_points_rush_peaks_on_each_announced_deadline_and_stops_after_the_last() -> None:
    p = PointsPhase(start=dt.date(2022, 1, 1), deadlines=[dt.date(2022, 9, 30), dt.date(2022, 12, 31)], points=20000,
                    lift_per_5000=1.0, value_elasticity=0.5, rush=3.0, rush_days=10)  # fmt: skip
    day0 = dt.date(2022, 1, 1)
    lift = points_lift(p, day0, 500)
    k1, k2 = (dt.date(2022, 9, 30) - day0).days, (dt.date(2022, 12, 31) - day0).days
    # both known from the start: the rush builds toward the next one
    assert np.isclose(lift[0], 2.0 + 3.0 * np.exp(-k1 / 10))  # (20000/5000)**0.5 = 2
    assert lift[k1] > lift[k1 - 5] and lift[k1 + 1] < lift[k1]
    assert np.isclose(lift[k1 + 1], 2.0 + 3.0 * np.exp(-(k2 - k1 - 1) / 10))
    assert np.isclose(lift[k2], 2.0 + 3.0)
    assert np.all(lift[k2 + 1 :] == 0)


def test_an_extension_announced_before_the_deadline_moves_the_rush_there() -> None:
    """A deadline of 2021-03-31 moved to 2021-04-30 by an extension announced on 2020-12-15 (test dates):
    the rush follows what is known."""
    p = PointsPhase(start=dt.date(2020, 7, 1), lift_per_5000=0.0, rush=2.0, rush_days=15,
                    deadlines=[{"date": dt.date(2021, 3, 31), "announced": dt.date(2020, 7, 1)},
                               {"date": dt.date(2021, 4, 30), "announced": dt.date(2020, 12, 15)}])  # fmt: skip
    day0 = dt.date(2020, 1, 1)
    lift = points_lift(p, day0, 800)
    at = lambda d: lift[(d - day0).days]  # noqa: E731
    gap = (dt.date(2021, 3, 31) - dt.date(2020, 12, 14)).days
    assert np.isclose(at(dt.date(2020, 12, 14)), 2.0 * np.exp(-gap / 15))
    assert np.isclose(at(dt.date(2021, 3, 31)), 2.0 * np.exp(-30 / 15))  # no peak on the superseded deadline
    assert at(dt.date(2021, 4, 30)) == 2.0 and at(dt.date(2021, 5, 1)) == 0.0  # collapses after
    # announced after it falls: refused
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="announced before it falls"):
        PointsPhase(start=dt.date(2020, 7, 1), deadlines=[{"date": dt.date(2021, 3, 31),
                                                           "announced": dt.date(2021, 4, 1)}])  # fmt: skip


def test_wiring_phase1_deadlines_in_force_are_the_sourced_ones() -> None:
    """The bundled phase 1 as FIGURES.md dates it: until 2020-11 the points ended on 2021-03-31 with no card
    deadline, so the card had to be applied for about a month before (02-28); the card-application deadline
    of 2021-03-31 came in 2020-11 with the extension; 04-30 from 2021-03-24 (Kyodo)."""
    from twin.models.rollout.levers import deadline_in_force

    p = Params().points.phase1
    day0 = dt.date(2020, 1, 1)
    k = deadline_in_force(p, day0, 700)
    at = lambda d: day0 + dt.timedelta(days=int(k[(d - day0).days]))  # noqa: E731
    assert k[(dt.date(2020, 6, 30) - day0).days] == -1  # before the opening: none
    assert at(dt.date(2020, 7, 1)) == at(dt.date(2020, 11, 14)) == dt.date(2021, 2, 28)
    assert at(dt.date(2020, 11, 15)) == at(dt.date(2021, 3, 23)) == dt.date(2021, 3, 31)
    assert at(dt.date(2021, 3, 24)) == at(dt.date(2021, 4, 30)) == dt.date(2021, 4, 30)
    assert k[(dt.date(2021, 5, 1) - day0).days] == -1


def test_switching_points_off_removes_only_the_points_levers() -> None:
    on = build_levers(Params(), dt.date(2016, 1, 1), 2922)
    off = build_levers(Params(points={"enabled": False}), dt.date(2016, 1, 1), 2922)
    assert {k for k in on.by_lever if k.startswith("points")} == {"points:phase1", "points:phase2"}
    assert not any(k.startswith("points") for k in off.by_lever)
    rest = [k for k in on.by_lever if not k.startswith("points")]
    assert all(np.array_equal(on.by_lever[k], off.by_lever[k]) for k in rest)


def test_phase2_carries_phase1s_fitted_response_scaled_by_its_points() -> None:
    from twin.models.rollout.levers import effective_phase2

    p = Params(points={"phase1": {"start": dt.date(2020, 7, 1), "deadlines": [dt.date(2021, 4, 30)],
                                  "lift_per_5000": 3.0, "rush": 7.0}})  # fmt: skip
    p2 = effective_phase2(p)
    assert (p2.lift_per_5000, p2.rush) == (3.0, 7.0)
    # the amounts as announced: 5,000 for the card from 2022-01-01, 20,000 with the linking parts from 06-30
    assert p2.points_on(dt.date(2022, 3, 1)) == 5000 and p2.points_on(dt.date(2022, 7, 1)) == 20000
    lift = points_lift(p2, dt.date(2022, 1, 1), 400)
    k = (dt.date(2022, 6, 30) - dt.date(2022, 1, 1)).days
    assert np.isclose(lift[k] - lift[k - 1], 3.0 * (4.0**p2.value_elasticity - 1.0), rtol=0.05)
    own = Params(points={"phase2_follows_phase1": False})
    assert effective_phase2(own).lift_per_5000 == own.points.phase2.lift_per_5000
    off = Params(points={"phase2": {**Params().points.phase2.model_dump(), "enabled": False}})
    assert "points:phase2" not in build_levers(off, dt.date(2016, 1, 1), 2922).by_lever


def test_the_points_lever_reads_what_is_on_offer_from_the_points_service(monkeypatch) -> None:  # noqa: ANN001
    """Phase 2's lever takes its amounts from twin.services.points.rules, day by day: changing the service's
    rules changes the lever, so the lever and the ledger cannot hold two versions of the offer."""
    import dataclasses

    from twin.services.points import rules
    from twin.services.points.rules import PHASE1, PHASE2, Part, points_on_offer

    assert points_on_offer(PHASE1, dt.date(2020, 6, 30)) == 0 and points_on_offer(PHASE1, dt.date(2020, 7, 1)) == 5000
    assert [points_on_offer(PHASE2, dt.date(2022, m, d)) for m, d in ((1, 1), (6, 29), (6, 30))] == [5000, 5000, 20000]
    p2 = Params().points.phase2
    assert p2.offer == "phase2" and p2.amounts == []
    day0 = dt.date(2022, 1, 1)
    before = points_lift(p2, day0, 400)
    # the service doubles the linking parts: the lever's jump on 2022-06-30 follows (5,000 -> 35,000)
    doubled = dataclasses.replace(PHASE2, linking_points={Part.INSURANCE: 15_000, Part.ACCOUNT: 15_000})
    monkeypatch.setitem(rules.PHASES, rules.Phase.TWO, doubled)
    after = points_lift(p2, day0, 400)
    k = (dt.date(2022, 6, 30) - day0).days
    assert np.array_equal(before[:k], after[:k])
    e = p2.value_elasticity
    assert after[k] - before[k] == pytest.approx(p2.lift_per_5000 * (7.0**e - 4.0**e), rel=1e-9)


@pytest.mark.parametrize(("change", "message"), [
    ({"amounts": [{"start": "2022-01-01", "points": 5000}]}, "amounts must be empty (it lists 1)"),
    ({"start": "2022-02-01"}, "start 2022-02-01 must be the day the service opens applications, 2022-01-01"),
    ({"points": 8000}, "points 8000 must be the service's opening offer, 5000"),
])  # fmt: skip
def test_a_phase_that_reads_the_service_refuses_its_own_amounts_or_another_opening(change: dict, message: str) -> None:
    from pydantic import ValidationError

    base = Params().points.phase2.model_dump()
    with pytest.raises(ValidationError, match=re.escape(message)):
        Params(points={"phase2": {**base, **change}})
