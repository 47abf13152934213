"""The capacity chain: oldest work first, capacity respected, and not one application lost or invented."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.models.rollout.chain import Counters, DelayLine, ProductionLine
from twin.models.rollout.hazard import build_cells
from twin.models.rollout.params import Params
from twin.models.rollout.simulate import Rollout
from twin.sim.fluid import CohortQueue


def small_country(n_munis: int = 6, seed: int = 0):  # noqa: ANN201
    rng = np.random.default_rng(seed)
    pop = rng.integers(2_000, 200_000, n_munis).astype(float)
    return build_cells(pop, rng.integers(0, 4, n_munis), np.ones((21, 2)))


def test_production_serves_the_oldest_applications_first_and_never_exceeds_capacity() -> None:
    line = ProductionLine(n_munis=2, n_mix=1, horizon=10)
    line.arrive(0, np.array([30.0, 10.0]), np.array([40.0]))
    line.arrive(1, np.array([0.0, 50.0]), np.array([50.0]))
    out, mix, waited = line.produce(day=2, capacity=60.0, ready_until=1)
    # all 40 of day 0, then 20 of the 50 of day 1
    assert np.allclose(out, [30.0, 30.0]) and np.isclose(mix[0], 60.0)
    assert np.isclose(waited, 40 * 2 + 20 * 1)
    assert np.isclose(line.backlog(), 30.0) and line.head == 1
    out, _, _ = line.produce(day=3, capacity=100.0, ready_until=0)  # day 1's cohort is not ready yet
    assert out.sum() == 0.0


def test_shipment_delivers_after_its_delay() -> None:
    ship = DelayLine((1,), delay=3)
    got = [ship.step(d, np.array([float(d == 0) * 7.0]))[0] for d in range(5)]
    assert got == [0.0, 0.0, 0.0, 7.0, 0.0]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 5), st.integers(5, 25))
def test_windowed_counters_serve_exactly_like_the_cohort_queue(seed: int, n_stations: int, horizon: int) -> None:
    rng = np.random.default_rng(seed)
    minutes = np.array([15.0, 10.0, 8.0])
    ours, ref = Counters(n_stations, horizon, minutes), CohortQueue(n_stations, 3, horizon, minutes)
    for day in range(horizon):
        jobs = rng.exponential(5.0, (n_stations, 3)) * (rng.random((n_stations, 3)) < 0.7)
        cap = rng.uniform(0, 150, n_stations)
        ours.arrive(day, jobs)
        ref.arrive(day, jobs)
        a, _, wa = ours.serve_window(day, cap)
        b, _, wb = ref.serve(day, cap)
        assert np.allclose(a, b)
        assert np.allclose(wa, wb[:, ours.window_start : day + 1])
        assert np.allclose(wb[:, : ours.window_start], 0.0)
        assert np.allclose(ours.days_waited(day, wa), wb @ (day - np.arange(day + 1)))
        # the counters' backlog comes from running totals, the queue's from what waits: the same
        assert np.allclose(ours.backlog(), ref.backlog())
    ref.check_conservation()
    ours.check_conservation()


@settings(max_examples=8, deadline=None)
@given(
    st.integers(0, 2**31), st.floats(5_000, 200_000), st.floats(0.5, 20), st.floats(1, 40), st.booleans(),
    st.floats(0, 0.2),
)  # fmt: skip
def test_every_application_is_in_hand_or_waiting_at_exactly_one_stage(
    seed: int, production: float, staff: float, notice: float, stochastic: bool, uncollected: float
) -> None:
    cells = small_country(seed=seed % 1000)
    p = Params(
        initial_applications=50_000,
        production={"capacity": [(dt.date(2016, 1, 1), production)], "checking_days": 3, "shipping_days": 2},
        handover={"staff_per_100k": dict.fromkeys(("special_ward", "designated_city", "city", "town_village"), staff),
                  "notice_days": notice, "uncollected_share": uncollected},
        hazard={"base_per_year": 0.5},
    )
    rng = np.random.default_rng(seed) if stochastic else None
    r = Rollout(p, cells, dt.date(2016, 1, 1), 120, rng=rng).run()
    stages = sum(r.daily[k][-1] for k in ("backlog_checking_and_production", "backlog_in_transit",
                                          "backlog_awaiting_appointment", "backlog_counter_handover",
                                          "uncollected"))  # fmt: skip
    applied = r.daily["applications"].sum()
    assert np.isclose(applied, r.daily["holders"][-1] + stages, rtol=1e-9)
    assert np.isclose(applied, r.totals["applied"]) and abs(r.conservation_gap()) < 1e-6 * applied
    assert np.isclose(r.daily["issued"].sum(), r.daily["holders"][-1])
    assert np.isclose(r.daily["backlog_applied_not_issued"][-1], applied - r.daily["holders"][-1])
    assert r.daily["produced"].max() <= production + 1e-6
    assert applied <= cells.population.sum() + 1


def test_more_counter_staff_means_shorter_waits_and_more_cards_in_hand() -> None:
    cells = small_country()
    runs = []
    for staff in (0.5, 5.0):
        p = Params(handover={"staff_per_100k": dict.fromkeys(("special_ward", "designated_city", "city",
                                                               "town_village"), staff)},
                   hazard={"base_per_year": 0.5})  # fmt: skip
        runs.append(Rollout(p, cells, dt.date(2016, 1, 1), 200).run())
    slow, fast = runs
    assert fast.daily["holders"][-1] > slow.daily["holders"][-1]
    assert np.nanmean(fast.daily["wait_counter_days"][100:]) < np.nanmean(slow.daily["wait_counter_days"][100:])


def test_production_runs_every_day_at_the_sourced_pace_and_an_expansion_arrives_after_its_lead_time() -> None:
    from twin.models.rollout.simulate import production_capacity

    day0 = dt.date(2016, 1, 1)
    base = production_capacity(Params(), day0, 2922)
    # about 11万 made every day in 2016 (wiring: the default), which is the 2021 stated limit of 300-400万 a month
    assert np.all(base == 110_000) and 3_000_000 <= 30 * base[-1] <= 4_000_000
    p = Params(production={"expansions": [{"name": "x", "decided": dt.date(2022, 4, 1), "lead_days": 120,
                                           "cards_per_day": 100_000, "cost_yen": 5e9}]})  # fmt: skip
    more = production_capacity(p, day0, 2922)
    k = (dt.date(2022, 4, 1) - day0).days + 120
    assert np.array_equal(more[:k], base[:k]) and np.allclose(more[k:] - base[k:], 100_000)


def test_applications_rush_before_the_deadline_in_force_and_collapse_after() -> None:
    cells = small_country()
    day0 = dt.date(2020, 6, 1)
    p = Params(hazard={"base_per_year": 0.05}, initial_applications=0, mailouts=[],
               points={"phase1": {"start": dt.date(2020, 7, 1), "lift_per_5000": 0.5, "rush": 6.0, "rush_days": 15,
                                  "deadlines": [{"date": dt.date(2021, 3, 31), "announced": dt.date(2020, 7, 1)},
                                                {"date": dt.date(2021, 4, 30), "announced": dt.date(2020, 12, 15)}]}},
               payout={"lift": 0.0}, support={"lift": 0.0})  # fmt: skip
    r = Rollout(p, cells, day0, 400).run()
    apps = r.daily["applications"]
    at = lambda d: (d - day0).days  # noqa: E731
    before = apps[at(dt.date(2021, 4, 20)) : at(dt.date(2021, 4, 30)) + 1].mean()
    after = apps[at(dt.date(2021, 5, 1)) : at(dt.date(2021, 5, 11))].mean()
    old_deadline = apps[at(dt.date(2021, 3, 21)) : at(dt.date(2021, 3, 31)) + 1].mean()
    assert before > 2 * after  # the rush collapses once the deadline has passed
    assert before > 1.5 * old_deadline  # the superseded 03-31 deadline draws no rush of its own


def test_big_city_counters_with_fewer_staff_per_resident_wait_longer() -> None:
    cells = build_cells(np.array([90_000.0, 120_000.0, 40_000.0, 8_000.0]), np.arange(4), np.ones((21, 2)))
    staff = {"special_ward": 0.5, "designated_city": 0.5, "city": 8.0, "town_village": 8.0}
    p = Params(hazard={"base_per_year": 0.5}, handover={"staff_per_100k": staff})
    r = Rollout(p, cells, dt.date(2016, 1, 1), 200).run()
    big = np.nanmean(r.daily["wait_counter_days_big_cities"][100:])
    assert big > np.nanmean(r.daily["wait_counter_days"][100:])


def test_points_budget_counts_the_holders_on_the_last_deadline_in_force() -> None:
    from twin.models.rollout.report import points_budget

    cells = small_country()
    day0 = dt.date(2020, 6, 1)
    p = Params(hazard={"base_per_year": 0.3})
    r = Rollout(p, cells, day0, 400).run()
    k = (p.points.phase1.deadlines[-1].date - day0).days
    budget = points_budget(p, r)
    assert np.isclose(budget["phase1"], 0.5 * r.daily["holders"][k] * 5000) and budget["phase2"] == 0.0



def _queued_country(response: dict | None, days: int = 240, staff: float = 25.0):  # noqa: ANN202
    """A small country whose usual counter staff (25 per 100,000) leave its first year's hand-overs waiting
    about 165 days."""
    handover = {"staff_per_100k": dict.fromkeys(("special_ward", "designated_city", "city", "town_village"), staff),
                "notice_days": 5.0}  # fmt: skip
    if response is not None:
        handover["staff_response"] = response
    return Rollout(Params(hazard={"base_per_year": 0.5}, handover=handover), small_country(), dt.date(2016, 1, 1), days)


RESPONSE = {"enabled": True, "target_wait_days": 10.0, "lag_days": 20.0, "max_factor": 4.0}


def test_staff_that_follow_the_queue_shorten_the_wait_and_stay_within_their_limit() -> None:
    fixed = _queued_country(None).run()
    assert np.all(fixed.daily["counter_staff_factor"] == 1.0)  # off: the usual staff every day
    r = _queued_country(RESPONSE).run()
    factor = r.daily["counter_staff_factor"]
    assert factor[0] < 1.1 and 3.0 < factor.max() <= 4.0 + 1e-12
    assert r.daily["holders"][-1] > 2.0 * fixed.daily["holders"][-1]
    # measured: about 165 days with the usual staff, about 46 with the response
    assert np.nanmean(r.daily["wait_counter_days"][120:]) < 0.5 * np.nanmean(fixed.daily["wait_counter_days"][120:])


def test_staff_step_through_a_run_as_the_rule_says() -> None:
    """Replaying the run's own queues through the rule gives its staff, town hall by town hall and day by day:
    1/lag of the way toward the multiple of the usual staff that clears the queue in target_wait_days, between
    1 and max_factor (a wrong lag, target or cap, or a step skipped, would not)."""
    r = _queued_country(RESPONSE, days=150)
    factor = np.ones(r.cells.n_munis)
    respond = r.respond
    checked = []

    def replay(day: int) -> np.ndarray:
        nonlocal factor
        queue_days = r.counters.backlog_minutes() / r.usual_day_minutes
        factor = factor + (np.clip(queue_days / 10.0, 1.0, 4.0) - factor) / 20.0
        got = respond(day)
        checked.append(np.allclose(got, factor, rtol=1e-12, atol=0.0))
        return got

    r.respond = replay
    r.run()
    assert len(checked) == 150 and all(checked) and factor.max() > 3.0


def test_a_town_hall_whose_queue_stays_short_keeps_its_usual_staff() -> None:
    r = _queued_country({"enabled": True, "target_wait_days": 365.0, "lag_days": 20.0}, days=120, staff=400.0).run()
    assert np.all(r.daily["counter_staff_factor"] == 1.0)
