"""Clients with timeouts and retries: the chunked batch engine is the per-attempt SimPy model.

On the same requests, service times and jitter draws, :func:`twin.sim.clients.simulate` (batch
stations, chunked, speculative long chunks) and :func:`twin.sim.clients.reference` (one SimPy
process per attempt through :class:`twin.sim.Station`) must send the same attempts at the same
times and see the same responses, for every retry policy, with and without admission control, in
overload. Where Erlang C's assumptions hold (Poisson, steady, no retries) the simulated hourly p99
must be Erlang C's.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.sim import BatchStation, Exponential
from twin.sim.clients import OK, SHED, TIMEOUT, RequestClass, RetryPolicy, reference, simulate


def _classes(seed: int, kind: str, n: int = 1500, route=("elig",), rate_factor: float = 1.2):
    rng = np.random.default_rng(seed)
    sends = np.sort(rng.uniform(0, n / (10 * rate_factor), n))  # 10 * rate_factor requests a second
    table = rng.exponential(0.1, (n, 4, len(route)))
    if len(route) > 1:
        table[:, :, 1:] *= 0.1  # a light second station
    jitter = rng.random((n, 4))
    pol = RetryPolicy(kind, 3, base=0.5)
    dists = tuple(Exponential(0.1) for _ in route)
    return [RequestClass("check", sends, route, dists, 2.0, pol, hop=0.01, service_table=table,
                         jitter_table=jitter)]


def _same(a: dict, ref: dict) -> None:
    o = np.lexsort((a["k"], a["req"], a["cls"]))
    assert len(o) == len(ref["req"])
    assert np.array_equal(a["req"][o], ref["req"])
    assert np.array_equal(a["k"][o], ref["k"])
    assert np.array_equal(a["outcome"][o], ref["outcome"])
    assert np.allclose(a["send"][o], ref["send"], rtol=0, atol=1e-9)
    fin = np.isfinite(ref["response"])
    assert np.array_equal(fin, np.isfinite(a["response"][o]))
    assert np.allclose(a["response"][o][fin], ref["response"][fin], rtol=0, atol=1e-9)


@pytest.mark.parametrize("kind", ["none", "immediate", "backoff", "backoff_jitter"])
@pytest.mark.parametrize("shed", [None, {"elig": 1.0}])
def test_batch_clients_are_the_simpy_clients_attempt_by_attempt(kind: str, shed: dict | None) -> None:
    cls = _classes(7, kind)
    rng = np.random.default_rng(1)
    got = simulate(cls, {"elig": BatchStation(None, 1, Exponential(0.1), rng=rng)}, 900.0, rng=rng,
                   shed_after=shed, keep=True)
    ref = reference(cls, {"elig": (1, Exponential(0.1))}, 900.0, rng=rng, shed_after=shed)
    _same(got.attempts, ref)
    assert got.deferred == 0
    # overload: the scenario must actually exercise timeouts (and shedding where it is on)
    assert (ref["outcome"] == TIMEOUT).any() or (ref["outcome"] == SHED).any()
    assert (ref["outcome"] == OK).any()
    if kind != "none":
        assert got.retries.sum() > 0
    # the tallies are the attempts
    assert got.offered.sum() == len(ref["req"])
    assert got.goodput.sum() == (ref["outcome"] == OK).sum()
    assert got.timeouts.sum() == (ref["outcome"] == TIMEOUT).sum()
    assert got.shed.sum() == (ref["outcome"] == SHED).sum()


def test_two_station_route_matches_the_simpy_reference() -> None:
    cls = _classes(3, "backoff_jitter", route=("elig", "db"))
    rng = np.random.default_rng(2)
    st = {"elig": BatchStation(None, 1, Exponential(0.1), rng=rng),
          "db": BatchStation(None, 1, Exponential(0.01), rng=rng)}
    got = simulate(cls, st, 900.0, rng=rng, shed_after={"elig": 1.0}, keep=True)
    ref = reference(cls, {"elig": (1, Exponential(0.1)), "db": (1, Exponential(0.01))}, 900.0, rng=rng,
                    shed_after={"elig": 1.0})
    _same(got.attempts, ref)


def test_long_chunks_give_the_short_chunk_answer() -> None:
    cls = _classes(11, "backoff")
    out = []
    for long_chunk in (1.0, 60.0, 600.0):
        rng = np.random.default_rng(5)
        r = simulate(cls, {"elig": BatchStation(None, 1, Exponential(0.1), rng=rng)}, 900.0, rng=rng,
                     long_chunk=long_chunk, keep=True)
        out.append(r)
    def ordered(a: dict) -> dict:
        o = np.lexsort((a["k"], a["req"], a["cls"]))
        return {k: v[o] for k, v in a.items()}

    base = ordered(out[0].attempts)
    for r in out[1:]:
        a = ordered(r.attempts)
        for f in ("req", "k", "send", "response", "outcome"):
            assert np.array_equal(a[f], base[f], equal_nan=True)
        assert np.array_equal(r.hist, out[0].hist)
        for s in r.queue:
            assert np.array_equal(r.queue[s], out[0].queue[s])


def test_queue_length_per_minute_follows_the_backlog() -> None:
    # 20 requests a second for 2 minutes at a server that does 10: the queue grows by ~600 a minute
    rng = np.random.default_rng(0)
    sends = np.arange(0, 120, 0.05)
    cls = [RequestClass("x", sends, ("p",), (Exponential(0.1),), 1e6, RetryPolicy("none", 0))]
    from twin.sim import Deterministic

    cls[0].service = (Deterministic(0.1),)
    r = simulate(cls, {"p": BatchStation(None, 1, Deterministic(0.1), rng=rng)}, 600.0, rng=rng)
    assert r.queue["p"][1] == pytest.approx(600, abs=2)
    assert r.queue["p"][2] == pytest.approx(1200, abs=2)
    assert r.queue["p"][6] == pytest.approx(0, abs=1)


@pytest.mark.parametrize("seed", [0, 1])
def test_hourly_p99_is_erlang_c_where_its_assumptions_hold(seed: int) -> None:
    from twin.models.capacity.queues import peak_p99

    rng = np.random.default_rng(seed)
    c, s, rho = 8, 0.05, 0.75
    lam = rho * c / s
    horizon = 3 * 3600 + 600
    sends = np.sort(rng.uniform(0, horizon, rng.poisson(lam * horizon)))
    cls = [RequestClass("x", sends, ("p",), (Exponential(s),), 1e6, RetryPolicy("none", 0))]
    r = simulate(cls, {"p": BatchStation(None, c, Exponential(s), rng=rng)}, horizon, rng=rng)
    erlang = peak_p99(lam, s, c)
    for h in range(3):  # hourly p99 after a 10-minute warm-up
        p99 = r.quantile(0.99, minutes=slice(10 + 60 * h, 70 + 60 * h))[0]
        assert p99 == pytest.approx(erlang, rel=0.10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retries": None}, "max_retries: None: retries need a whole-number limit"),
        ({"max_retries": -1}, "max_retries: -1 must be >= 0"),
        ({"base": -1.0}, "base: -1.0 must be"),
        ({"kind": "forever"}, "kind: 'forever' is not one of"),
    ],
)
def test_retry_policy_refuses_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


def test_negative_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match=r"x.timeout: -1.0 must be"):
        RequestClass("x", np.zeros(1), ("p",), (Exponential(1.0),), -1.0, RetryPolicy())


def _storm(policy: RetryPolicy, shed: dict | None) -> np.ndarray:
    """A pool at 65 % load, a 2-minute surge to 130 %: goodput / first attempts per minute."""
    rng = np.random.default_rng(8)
    t = np.sort(np.concatenate([rng.uniform(0, 1200, rng.poisson(65 * 1200)),
                                rng.uniform(120, 240, rng.poisson(65 * 120))]))
    cls = [RequestClass("x", t, ("p",), (Exponential(0.01),), 1.0, policy, hop=0.005)]
    r = simulate(cls, {"p": BatchStation(None, 1, Exponential(0.01), rng=rng)}, 1200.0, rng=rng, shed_after=shed)
    return r.goodput[0] / np.maximum(r.first[0], 1)


def test_immediate_retries_keep_the_pool_down_after_the_surge() -> None:
    """Metastable failure: ten minutes after the surge ended, almost nothing gets through."""
    ratio = _storm(RetryPolicy("immediate", 3), None)
    assert ratio[:2].min() > 0.99  # fine before the surge
    assert ratio[10:20].mean() < 0.2  # the surge is long gone, the storm is not


def test_backoff_with_jitter_and_shedding_recover() -> None:
    ratio = _storm(RetryPolicy("backoff_jitter", 3, base=0.5), {"p": 0.5})
    assert ratio[:2].min() > 0.99
    assert ratio[6:20].min() > 0.95  # back within two minutes of the surge's end


def test_a_retry_budget_caps_retries_and_the_pool_recovers() -> None:
    """At most 0.1 retries per first attempt in any 10 s: the storm cannot feed itself."""
    rng = np.random.default_rng(8)
    t = np.sort(np.concatenate([rng.uniform(0, 1200, rng.poisson(65 * 1200)),
                                rng.uniform(120, 240, rng.poisson(65 * 120))]))
    pol = RetryPolicy("immediate", 3, budget=0.1)
    cls = [RequestClass("x", t, ("p",), (Exponential(0.01),), 1.0, pol, hop=0.005)]
    r = simulate(cls, {"p": BatchStation(None, 1, Exponential(0.01), rng=rng)}, 1200.0, rng=rng)
    # per minute, the retries stay within the budget of the last 10 s of first attempts (+ one window's slack)
    assert r.retries[0].sum() <= 0.1 * r.first[0].sum() + 1
    assert r.retries[0].sum() > 0.05 * 65 * 120  # the budget was used during the surge
    ratio = r.goodput[0] / np.maximum(r.first[0], 1)
    assert ratio[12:20].min() > 0.95  # back within eight minutes of the surge's end


def test_the_reference_refuses_a_retry_budget() -> None:
    cls = [RequestClass("x", np.zeros(1), ("p",), (Exponential(1.0),), 1.0, RetryPolicy("immediate", 1, budget=0.1))]
    with pytest.raises(ValueError, match="retry budgets"):
        reference(cls, {"p": (1, Exponential(1.0))}, 10.0, rng=np.random.default_rng(0))


# --- per-request retry limits (each sender decides how often it tries again) ---------------------------------------

@pytest.mark.parametrize("kind", ["immediate", "backoff_jitter"])
def test_per_request_limits_are_the_simpy_clients_attempt_by_attempt(kind: str) -> None:
    """Requests allowed 0 to 3 retries each: both engines stop each request at its own limit."""
    cls = _classes(7, kind)
    cls[0].max_retries = np.random.default_rng(4).integers(0, 4, len(cls[0].sends))
    cls[0].__post_init__()
    rng = np.random.default_rng(1)
    got = simulate(cls, {"elig": BatchStation(None, 1, Exponential(0.1), rng=rng)}, 900.0, rng=rng, keep=True)
    ref = reference(cls, {"elig": (1, Exponential(0.1))}, 900.0, rng=rng)
    _same(got.attempts, ref)
    a = got.attempts
    per_req = np.bincount(a["req"], minlength=len(cls[0].sends))
    assert (per_req <= cls[0].max_retries + 1).all()
    # the limit binds: some requests used every retry they were allowed, at each limit, and no more
    failed = got.failed_requests[0]
    assert len(failed) == got.failed.sum() > 0
    assert np.array_equal(per_req[failed], cls[0].max_retries[failed] + 1)
    assert {0, 3} <= set(cls[0].max_retries[failed].tolist())


def test_answered_requests_are_those_with_an_attempt_answered_in_time() -> None:
    """The requests a caller can say who sent (a patient's lookup): answered ones are those with an
    attempt answered within the timeout, one per goodput, none also given up; the rest were still waiting at the
    horizon (a budget or a storm leaves some of each)."""
    cls = _classes(7, "immediate", rate_factor=1.5)
    cls[0].max_retries = np.random.default_rng(4).integers(0, 4, len(cls[0].sends))
    cls[0].__post_init__()
    rng = np.random.default_rng(1)
    got = simulate(cls, {"elig": BatchStation(None, 1, Exponential(0.1), rng=rng)}, 900.0, rng=rng, keep=True)
    a = got.attempts
    answered, failed = got.answered_requests[0], got.failed_requests[0]
    assert np.array_equal(answered, np.unique(a["req"][a["outcome"] == 0]))
    assert len(answered) == got.goodput.sum() and np.array_equal(answered, np.unique(answered))
    assert len(np.intersect1d(answered, failed)) == 0
    assert len(failed) > 0 and len(answered) > 0


def _compare(a, b) -> None:  # noqa: ANN001
    for f in ("hist", "offered", "first", "retries", "goodput", "timeouts", "shed", "failed"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    for s in a.queue:
        assert np.array_equal(a.queue[s], b.queue[s]) and np.array_equal(a.busy_seconds[s], b.busy_seconds[s])
    assert a.deferred == b.deferred
    assert all(np.array_equal(x, y) for x, y in zip(a.failed_requests, b.failed_requests, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a.answered_requests, b.answered_requests, strict=True))


@pytest.mark.parametrize("policy", [RetryPolicy("immediate", 3), RetryPolicy("backoff_jitter", 2, base=0.5),
                                    RetryPolicy("immediate", 3, budget=0.1)])
def test_limits_equal_to_the_policy_give_the_same_run_byte_for_byte(policy: RetryPolicy) -> None:
    """A limit per request that is the policy's changes nothing: the same draws, tallies and queues
    (jitter and service times drawn from the run's stream, a surge that makes the retries matter)."""
    rng = np.random.default_rng(8)
    t = np.sort(np.concatenate([rng.uniform(0, 600, rng.poisson(65 * 600)),
                                rng.uniform(120, 240, rng.poisson(65 * 120))]))
    out = []
    for limits in (None, np.full(len(t), policy.max_retries)):
        cls = [RequestClass("x", t, ("p",), (Exponential(0.01),), 1.0, policy, hop=0.005, max_retries=limits)]
        r = np.random.default_rng(3)
        out.append(simulate(cls, {"p": BatchStation(None, 1, Exponential(0.01), rng=r)}, 600.0, rng=r,
                            shed_after={"p": 2.0}))
    assert out[0].retries.sum() > 1000  # the retries happened
    _compare(out[0], out[1])


def test_fewer_retries_per_request_mean_fewer_attempts_in_a_storm() -> None:
    """Half the senders give up after one retry instead of three: fewer attempts, more requests failed
    for good, and every request failed for good was sent exactly its own limit + 1 times."""
    rng = np.random.default_rng(8)
    t = np.sort(np.concatenate([rng.uniform(0, 600, rng.poisson(65 * 600)),
                                rng.uniform(120, 240, rng.poisson(65 * 120))]))
    limits = np.where(rng.random(len(t)) < 0.5, 1, 3)
    res = []
    for lim in (None, limits):
        cls = [RequestClass("x", t, ("p",), (Exponential(0.01),), 1.0, RetryPolicy("immediate", 3), hop=0.005,
                            max_retries=lim)]
        r = np.random.default_rng(3)
        res.append(simulate(cls, {"p": BatchStation(None, 1, Exponential(0.01), rng=r)}, 600.0, rng=r, keep=True))
    policy, own = res
    assert own.offered.sum() < 0.8 * policy.offered.sum()
    att = np.bincount(own.attempts["req"], minlength=len(t))
    failed = own.failed_requests[0]
    assert np.array_equal(att[failed], limits[failed] + 1)
    assert len(failed) == own.failed.sum()


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (np.array([1, 2]), r"x.max_retries: one whole number 0-1000 per request \(3 requests\), got shape \(2,\)"),
        (np.array([1, -1, 2]), r"x.max_retries: one whole number 0-1000 per request .*-1..2"),
        (np.array([1.0, 1.0, 1.0]), r"x.max_retries: .*dtype float64"),
        (np.array([0, 5000, 1]), r"x.max_retries: .*0..5000"),
    ],
)
def test_per_request_limits_refuse_bad_input(limits: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RequestClass("x", np.zeros(3), ("p",), (Exponential(1.0),), 1.0, RetryPolicy(), max_retries=limits)


# --- a status check first: requests that start further along, and a gate (the eligibility centre's route) ----------

def _status_first(seed: int, kind: str, gates: tuple[int, ...] = (0,), second: float = 0.01) -> list[RequestClass]:
    """A card lookup's route: a status station at 140 % load (one worker, 0.1 s, 14 of the 20 requests a second:
    three in ten start at the lookup, a cache answered their status), then the lookup at ``second`` s a
    request."""
    rng = np.random.default_rng(seed)
    n = 1500
    sends = np.sort(rng.uniform(0, n / 20, n))
    table = rng.exponential(0.1, (n, 4, 2))
    table[:, :, 1] = rng.exponential(second, (n, 4))
    first = (rng.random(n) < 0.3).astype(np.int64)
    return [RequestClass("card", sends, ("status", "elig"), (Exponential(0.1), Exponential(second)), 2.0,
                         RetryPolicy(kind, 3, base=0.5), hop=0.01, service_table=table, jitter_table=rng.random((n, 4)),
                         first_stage=first, gates=gates)]


def _status_stations(rng: np.random.Generator, second: float = 0.01) -> dict[str, BatchStation]:
    return {"status": BatchStation(None, 1, Exponential(0.1), rng=rng),
            "elig": BatchStation(None, 1, Exponential(second), rng=rng)}


@pytest.mark.parametrize("kind", ["immediate", "backoff_jitter"])
@pytest.mark.parametrize("shed", [None, {"status": 1.0}])
def test_a_status_check_first_is_the_simpy_clients_attempt_by_attempt(kind: str, shed: dict | None) -> None:
    """Requests that start at the second station, and a gate after the first: both engines send the same
    attempts and see the same responses (a gated attempt is never answered in either)."""
    cls = _status_first(5, kind)
    rng = np.random.default_rng(1)
    got = simulate(cls, _status_stations(rng), 900.0, rng=rng, shed_after=shed, keep=True)
    ref = reference(cls, {"status": (1, Exponential(0.1)), "elig": (1, Exponential(0.01))}, 900.0, rng=rng,
                    shed_after=shed)
    _same(got.attempts, ref)
    assert got.deferred == 0
    assert (ref["outcome"] == (TIMEOUT if shed is None else SHED)).any() and (ref["outcome"] == OK).any()
    if shed is None:  # attempts the gate ended (the server never answered them); shedding ends them sooner
        assert (~np.isfinite(ref["response"])).sum() > 100


def test_a_gate_sends_on_only_the_attempts_whose_client_still_waits() -> None:
    """Behind an overloaded status station, a lookup station that adds microseconds: with the gate it serves the
    attempts that start there and those whose status came back in time (every one answered); without the gate it
    serves every attempt, also those whose client gave up at the status check long ago."""
    out = {}
    for gates in ((0,), ()):
        cls = _status_first(5, "immediate", gates=gates, second=1e-6)
        rng = np.random.default_rng(1)
        out[gates] = simulate(cls, _status_stations(rng, 1e-6), 900.0, rng=rng, keep=True)
    gated, open_ = out[(0,)], out[()]
    a, first = gated.attempts, cls[0].first_stage
    ok = a["outcome"] == OK
    at_lookup = int((first[a["req"]] == 1).sum()) + int((ok & (first[a["req"]] == 0)).sum())
    assert gated.arrivals["elig"].sum() == at_lookup
    assert gated.arrivals["status"].sum() == int((first[a["req"]] == 0).sum())  # the others skip it
    assert open_.arrivals["elig"].sum() == open_.offered.sum()  # no shedding: every attempt reaches the lookup
    assert open_.arrivals["elig"].sum() - gated.arrivals["elig"].sum() > 1000
    # the client sees the same either way: the lookup adds nothing to the response
    assert np.array_equal(gated.goodput, open_.goodput) and np.array_equal(gated.timeouts, open_.timeouts)


def test_bad_first_stages_and_gates_are_refused() -> None:
    with pytest.raises(ValueError, match=r"x.first_stage: one stage 0-1 of the route per request"):
        RequestClass("x", np.zeros(2), ("p", "q"), (Exponential(1.0),) * 2, 1.0, RetryPolicy(),
                     first_stage=np.array([0, 2]))
    with pytest.raises(ValueError, match=r"x.first_stage: one stage"):
        RequestClass("x", np.zeros(2), ("p", "q"), (Exponential(1.0),) * 2, 1.0, RetryPolicy(),
                     first_stage=np.array([0]))
    with pytest.raises(ValueError, match=r"x.gates: \(2,\) are not all stages of the route"):
        RequestClass("x", np.zeros(2), ("p", "q"), (Exponential(1.0),) * 2, 1.0, RetryPolicy(), gates=(2,))
