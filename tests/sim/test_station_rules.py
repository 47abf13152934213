"""What a counter does, customer by customer: hours, patience, rosters and breakdowns.

Each rule is checked on both stations (the SimPy reference and the batch one) where both support it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.sim import BatchStation, Calendar, CustomerLog, Deterministic, Exponential, Failures, StaffSchedule, Station

APRIL = Calendar(dt.date(2020, 4, 1), dt.date(2020, 4, 10))  # Wed 1 April 2020, 08:30-17:15
KINDS = ["simpy", "batch"]


def run(kind: str, servers: int, arrivals, service, patience=None, **kwargs) -> CustomerLog:
    """Serve the given customers on a fresh station of that kind and return their log."""
    rng = np.random.default_rng(0)
    env = simpy.Environment()
    cls = Station if kind == "simpy" else BatchStation
    station = cls(env, servers, Exponential(1.0), rng=rng, **kwargs)
    patience_times = None if patience is None else np.asarray(patience, dtype=float)
    station.submit(np.asarray(arrivals, dtype=float), np.asarray(service, dtype=float), patience_times)
    env.run()
    return station.log()


@pytest.mark.parametrize("kind", KINDS)
def test_customers_arriving_before_opening_are_served_at_0830(kind: str) -> None:
    log = run(kind, 1, [2.0, 3.0], [0.5, 0.5], calendar=APRIL)
    assert log.start.tolist() == [8.5, 9.0]


@pytest.mark.parametrize("kind", KINDS)
def test_service_in_progress_at_closing_finishes_and_the_queue_waits_for_morning(kind: str) -> None:
    log = run(kind, 1, [17.0, 17.1], [1.0, 0.25], calendar=APRIL)
    assert log.start.tolist() == [17.0, 24 + 8.5]
    assert log.end.tolist() == [18.0, 24 + 8.75]


@pytest.mark.parametrize("kind", KINDS)
def test_friday_evening_arrivals_wait_over_the_weekend(kind: str) -> None:
    fri_evening = APRIL.to_hours(dt.datetime(2020, 4, 3, 18, 0))
    log = run(kind, 2, [fri_evening], [0.2], calendar=APRIL)
    assert APRIL.to_datetime(log.start[0]) == dt.datetime(2020, 4, 6, 8, 30)


@pytest.mark.parametrize("kind", KINDS)
def test_a_customer_leaves_when_patience_runs_out_before_service(kind: str) -> None:
    log = run(kind, 1, [9.0, 9.5], [2.0, 0.1], patience=[np.inf, 1.0])
    assert log.reneged.tolist() == [False, True]
    assert log.left[1] == pytest.approx(10.5)
    assert np.isnan(log.start[1]) and np.isnan(log.end[1])


@pytest.mark.parametrize("kind", KINDS)
def test_patience_counts_from_opening_not_from_a_night_arrival(kind: str) -> None:
    # A at 03:00 is served 08:30-10:30; B (04:00, patience 1.5 h) gives up at 10:00; C (05:00,
    # patience 2.5 h) is still there at 10:30.
    log = run(kind, 1, [3.0, 4.0, 5.0], [2.0, 0.5, 0.5], patience=[0.1, 1.5, 2.5], calendar=APRIL)
    assert log.reneged.tolist() == [False, True, False]
    assert log.left[1] == pytest.approx(10.0)
    assert log.start[2] == pytest.approx(10.5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_later_customer_never_overtakes_an_earlier_one(kind: str) -> None:
    # B is impatient and leaves; C is served in B's place but never before A.
    log = run(kind, 1, [0.0, 0.1, 0.2], [1.0, 1.0, 1.0], patience=[np.inf, 0.5, np.inf])
    assert log.start[0] <= log.start[2]
    assert log.reneged.tolist() == [False, True, False] and log.start[2] == 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_a_roster_drop_lets_the_current_case_finish_and_takes_the_first_clerk_to_free_up(kind: str) -> None:
    staff = StaffSchedule(times=(0.0, 10.0), servers=(2, 1))
    log = run(kind, 2, [9.0, 9.0, 9.5], [1.5, 2.5, 1.0], staff=staff)
    # A ends 10:30 and that clerk goes off duty; C waits for B's clerk at 11:30
    assert log.end[:2].tolist() == [10.5, 11.5]
    assert log.start[2] == 11.5


@pytest.mark.parametrize("kind", KINDS)
def test_more_clerks_on_the_roster_start_the_waiting_customers(kind: str) -> None:
    staff = StaffSchedule(times=(0.0, 10.0), servers=(1, 3))
    log = run(kind, 3, [9.0, 9.1, 9.2], [5.0, 1.0, 1.0], staff=staff)
    assert log.start.tolist() == [9.0, 10.0, 10.0]


BREAKDOWN_EVERY_10H = Failures(Deterministic(10.0), Deterministic(1.0), in_progress="finish")


@pytest.mark.parametrize("kind", KINDS)
def test_a_breakdown_in_finish_mode_stops_new_starts_only(kind: str) -> None:
    log = run(kind, 1, [9.5, 10.2], [1.0, 0.5], failures=BREAKDOWN_EVERY_10H, horizon=100.0)
    assert log.end[0] == 10.5  # finished despite the breakdown at 10:00
    assert log.start[1] == 11.0  # nothing starts before the repair at 11:00


def test_a_breakdown_in_restart_mode_interrupts_and_repeats_the_whole_service() -> None:
    restart = Failures(Deterministic(10.0), Deterministic(1.0), in_progress="restart")
    env = simpy.Environment()
    station = Station(env, 1, Exponential(1.0), rng=np.random.default_rng(0), failures=restart, horizon=100.0)
    station.submit(np.array([9.5, 10.2]), np.array([1.0, 0.5]))
    env.run()
    log = station.log()
    # A is interrupted at 10:00, goes to the head of the line, restarts at 11:00 and takes a full hour
    assert log.start.tolist() == [11.0, 12.0]
    assert log.end.tolist() == [12.0, 12.5]
    lost = station._lost_service()
    assert lost is not None and lost[0].tolist() == [9.5] and lost[1].tolist() == [10.0]


@pytest.mark.parametrize(("mode", "end"), [("finish", 18.0), ("restart", 24 + 9.5)])
def test_a_breakdown_after_closing_hits_a_case_still_being_finished(mode: str, end: float) -> None:
    breaks = Failures(Deterministic(17.5), Deterministic(1.0), in_progress=mode)  # type: ignore[arg-type]
    env = simpy.Environment()
    station = Station(env, 1, Exponential(1.0), rng=np.random.default_rng(0), calendar=APRIL, failures=breaks)
    station.submit(np.array([17.0]), np.array([1.0]))
    env.run()
    assert station.log().end.tolist() == [end]  # restart: repeated from 08:30 next morning


def test_the_batch_station_refuses_restart_mode_by_name() -> None:
    restart = Failures(Deterministic(10.0), Deterministic(1.0), in_progress="restart")
    with pytest.raises(ValueError, match="in_progress='restart' are not supported"):
        BatchStation(None, 1, Exponential(1.0), rng=np.random.default_rng(0), failures=restart, horizon=10.0)


def test_failures_need_an_explicit_in_progress_choice_and_a_horizon() -> None:
    with pytest.raises(ValueError, match="in_progress = 'pause': allowed 'finish' or 'restart'"):
        Failures(Exponential(10.0), Exponential(1.0), in_progress="pause")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="failures need a horizon"):
        BatchStation(None, 1, Exponential(1.0), rng=np.random.default_rng(0), failures=BREAKDOWN_EVERY_10H)


def test_a_simpy_model_hands_the_batch_station_a_day_at_a_time() -> None:
    env = simpy.Environment()
    station = BatchStation(env, 2, Exponential(0.2), rng=np.random.default_rng(1), calendar=APRIL)
    finished: list[tuple[float, int]] = []

    def town_hall(env: simpy.Environment):
        for day in range(3):
            arrivals = 24.0 * day + np.linspace(8.0, 16.0, 40)
            log = yield station.submit(arrivals)
            finished.append((env.now, len(log)))
            yield env.timeout(max(24.0 * (day + 1) - env.now, 0.0))

    env.process(town_hall(env))
    env.run()
    assert [n for _, n in finished] == [40, 40, 40]
    all_left = station.log().left.reshape(3, 40).max(axis=1)
    assert [t for t, _ in finished] == pytest.approx(all_left.tolist())


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_bytes(kind: str) -> None:
    def once() -> bytes:
        env = simpy.Environment()
        cls = Station if kind == "simpy" else BatchStation
        st = cls(env, 2, Exponential(0.3), rng=np.random.default_rng(42), calendar=APRIL, patience=Exponential(1.0))
        st.submit(np.sort(np.random.default_rng(1).uniform(0, 200, 300)))
        env.run()
        log = st.log()
        return b"".join(getattr(log, f).tobytes() for f in ("arrival", "start", "end", "reneged", "left"))

    assert once() == once()


@pytest.mark.parametrize("kind", KINDS)
def test_bad_submissions_are_named(kind: str) -> None:
    env = simpy.Environment()
    cls = Station if kind == "simpy" else BatchStation
    st = cls(env, 1, Exponential(0.3), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"arrivals must be sorted: arrivals\[1\] = 1.0 < arrivals\[0\] = 2.0"):
        st.submit(np.array([2.0, 1.0]))
    with pytest.raises(ValueError, match=r"service_times has shape \(1,\), arrivals has \(2,\)"):
        st.submit(np.array([1.0, 2.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="patience_times must be >= 0"):
        st.submit(np.array([1.0]), np.array([1.0]), np.array([-1.0]))
    st.submit(np.array([5.0]))
    if kind == "batch":  # the recursion needs batches in arrival order
        with pytest.raises(ValueError, match=r"arrivals\[0\] = 4.0 is before 5.0"):
            st.submit(np.array([4.0]))
    env.run(until=6.0)
    with pytest.raises(ValueError, match=r"arrivals\[0\] = 5.5 is before 6.0"):
        st.submit(np.array([5.5]))
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        cls(env, 1, Exponential(0.3), rng=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="servers = 0: a station needs a whole number of servers >= 1"):
        cls(env, 0, Exponential(0.3), rng=np.random.default_rng(0))


def test_the_simpy_station_needs_an_environment() -> None:
    with pytest.raises(ValueError, match="env must be a simpy.Environment, got NoneType"):
        Station(None, 1, Exponential(0.3), rng=np.random.default_rng(0))  # type: ignore[arg-type]


def test_a_resident_process_visits_the_counter_and_moves_on() -> None:
    env = simpy.Environment()
    counter = Station(env, 1, Exponential(0.25), rng=np.random.default_rng(3), calendar=APRIL)
    counter.submit(np.array([9.0]), np.array([1.0]))  # someone else is served 09:00-10:00
    seen: list[tuple[str, float]] = []

    def resident(env: simpy.Environment):
        yield env.timeout(9.5)
        i = yield from counter.visit(service_time=0.5)
        seen.append(("served", env.now))
        j = yield from counter.visit(service_time=0.5, patience=0.0)  # straight back: no wait needed
        seen.append(("again", env.now))
        return i, j

    proc = env.process(resident(env))
    env.run()
    assert seen == [("served", 10.5), ("again", 11.0)]
    log = counter.log()
    i, j = proc.value
    assert log.start[i] == 10.0 and log.start[j] == 10.5 and not log.reneged.any()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), servers=st.integers(1, 4), hours=st.booleans())
def test_restart_mode_invariants(seed: int, servers: int, hours: bool) -> None:
    """Under restart-on-failure: every completed service is a full, uninterrupted one that started
    while the station was up and open, and every interruption ended at a breakdown."""
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.uniform(0, 200, 120))
    service = rng.exponential(0.8, 120)
    env = simpy.Environment()
    failures = Failures(Exponential(6.0), Exponential(1.0), in_progress="restart")
    station = Station(
        env,
        servers,
        Exponential(1.0),
        rng=np.random.default_rng(seed + 1),
        failures=failures,
        calendar=APRIL if hours else None,
        horizon=APRIL.horizon,
    )
    station.submit(arrivals, service)
    env.run()
    log = station.log()
    done = ~np.isnan(log.end)
    assert np.allclose(log.end[done] - log.start[done], service[done])
    assert np.all(station.plan.at(log.start[done]) > 0)
    downs, ups = station.down
    lost = station._lost_service()
    assert lost is not None
    # SimPy's clock reaches a breakdown at now + (down - now), which can be one ulp off down
    assert np.all(np.min(np.abs(lost[1][:, None] - downs[None, :]), axis=1) < 1e-9)
    # no completed service overlaps a breakdown
    for b, e in zip(log.start[done], log.end[done], strict=True):
        assert not np.any((downs > b) & (downs < e))


@settings(max_examples=50, deadline=None)
@given(prios=st.lists(st.tuples(st.integers(-2, 1), st.integers(0, 3), st.booleans()), max_size=60))
def test_the_counter_line_is_in_simpys_own_order(prios: list[tuple[int, int, bool]]) -> None:
    """The station's faster line (insert in place) keeps the order SimPy's SortedQueue gives
    (append, then stable sort), ties included."""
    from simpy.resources.resource import SortedQueue

    from twin.sim.station import _InsortQueue

    reqs = []
    for prio, at, preempt in prios:
        r = object.__new__(simpy.resources.resource.PriorityRequest)
        r.key = (prio, float(at), not preempt)
        reqs.append(r)
    ours, simpys = _InsortQueue(), SortedQueue()
    for r in reqs:
        ours.append(r)
        simpys.append(r)
    assert [id(r) for r in ours] == [id(r) for r in simpys]
