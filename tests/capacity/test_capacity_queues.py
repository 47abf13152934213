"""The hourly pool model: Erlang C in stable hours, checked against the closed forms and a station."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from twin.models.capacity.queues import HOUR, erlang_c_vec, knee, peak_p99, simulate_pool
from twin.sim import BatchStation, Exponential, erlang


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 200), rho=st.floats(0.01, 0.97), s=st.floats(1e-6, 10.0))
@example(c=1, rho=0.9375, s=1.0)  # p99 at 73 s, beyond the old fixed ceiling of 51 s: the quantile was cut short
def test_each_hour_is_erlang_c(c, rho, s):
    lam = rho * c / s
    pool = simulate_pool(np.array([lam * HOUR]), np.array([s]), c, 1e12)
    assert pool.p_wait[0] == pytest.approx(erlang.p_wait(lam, 1 / s, c), rel=1e-9)
    assert pool.utilisation[0] == pytest.approx(rho)
    ts = np.linspace(0, 50 * s, 101)
    assert np.all(np.diff(pool.sf(ts)) <= 1e-12)  # a survival function falls
    q99 = pool.quantile(0.99)
    assert pool.sf(q99)[0] == pytest.approx(0.01, abs=1e-6)


def test_the_mean_of_the_response_distribution_is_erlangs_mean_response():
    lam, s, c = 7.0, 1.0, 9
    pool = simulate_pool(np.array([lam * HOUR]), np.array([s]), c, 1e12)
    ts = np.linspace(0, 80, 80_001)
    assert np.trapezoid(pool.sf(ts), ts) == pytest.approx(erlang.mean_response(lam, 1 / s, c), rel=1e-4)


@pytest.mark.slow
def test_a_batch_station_at_the_peak_hour_gives_the_same_percentiles():
    rng = np.random.default_rng(11)
    c, lam, s, n = 4, 3.4, 1.0, 400_000
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    services = rng.exponential(s, n)
    log = BatchStation(None, c, Exponential(s), rng=np.random.default_rng(0)).serve(arrivals, services)
    response = (log.wait + services)[n // 100 :]
    pool = simulate_pool(np.array([lam * HOUR]), np.array([s]), c, 1e12)
    for q in (0.5, 0.95, 0.99):
        assert np.quantile(response, q) == pytest.approx(pool.quantile(q), rel=0.03)
    assert log.wait[n // 100 :].mean() == pytest.approx(erlang.mean_wait(lam, 1 / s, c), rel=0.05)


def test_an_overloaded_stretch_backs_up_times_out_and_conserves_requests():
    cap = 2 / 0.5 * HOUR  # 2 servers, 0.5 s
    arrivals = np.array([0.5, 1.6, 2.0, 0.5, 0.2, 0.2]) * cap
    pool = simulate_pool(arrivals, np.full(6, 0.5), 2, timeout=30.0)
    served = np.minimum(arrivals, cap)  # never more than capacity
    assert pool.timeouts[:1].sum() == 0 and pool.timeouts[1:3].sum() > 0
    # every request is served within the horizon or timed out: nothing invented or lost
    assert arrivals.sum() - pool.timeouts.sum() <= served.sum() + cap * 30 / HOUR + 1e-6
    assert pool.backlog_wait[1] > 0 and pool.backlog_wait[-1] == 0
    assert pool.quantile(0.99) > 25.0  # the overloaded hours' requests waited about the timeout


def test_the_knee_is_where_the_peak_p99_reaches_the_slo():
    lam, s, c, slo = 100.0, 0.02, 4, 0.1
    k = knee(lam, s, c, slo)
    assert peak_p99(k * lam * 0.999, s, c) < slo < peak_p99(k * lam * 1.001, s, c)
    assert peak_p99(lam * c / (lam * s) * 1.0, s, c) == float("inf")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.array([-1.0]), np.array([1.0]), 1, 1.0), "arrivals"),
        ((np.array([1.0]), np.array([0.0]), 1, 1.0), "service_seconds"),
        ((np.array([1.0]), np.array([1.0]), 0, 1.0), "servers"),
    ],
)
def test_bad_pool_inputs_are_refused_by_name(args, message):
    with pytest.raises(ValueError, match=message):
        simulate_pool(*args)


def test_erlang_c_vectorised_marks_unstable_hours():
    pw = erlang_c_vec(np.array([1.0, 5.0]), np.array([1.0, 1.0]), 4)
    assert pw[0] == pytest.approx(erlang.p_wait(1.0, 1.0, 4)) and np.isnan(pw[1])


def test_servers_needed_is_the_smallest_pool_within_the_slo():
    from twin.models.capacity.aggregate import servers_needed

    lam, s, slo = 50.0, 0.1, 0.5
    pool = simulate_pool(np.array([lam * HOUR]), np.array([s]), 10, 1e9)
    c = servers_needed(pool, slo)
    assert peak_p99(lam, s, c) <= slo < peak_p99(lam, s, c - 1)


def test_the_tail_the_quantile_bisects_is_response_sf_to_the_last_bit():
    """PoolHours works out the t-free parts of the tail once per quantile (queues.mmc_tail); the floats stay those of
    the formula as it was computed at every t before (written out here: stable hours) and the fluid backlog's
    (overloaded hours), bit for bit, so no number of a run moves."""

    def response_sf(t, lam, mu, c, pw):  # noqa: ANN001, ANN202  the tail as computed whole at each t until 4637fc0
        mu = np.broadcast_to(np.asarray(mu, dtype=float), np.shape(lam))
        a = c * mu - lam
        t = np.asarray(t, dtype=float)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            same = np.isclose(a, mu, rtol=1e-9)
            gap = np.where(same, 1.0, a - mu)
            hypo = np.where(same, (1 + mu * t) * np.exp(-mu * t), (a * np.exp(-mu * t) - mu * np.exp(-a * t)) / gap)
        return (1 - pw) * np.exp(-mu * t) + pw * hypo

    rng = np.random.default_rng(5)
    s = rng.uniform(0.001, 0.5, 48)
    cap = 3 / s * HOUR
    arrivals = cap * rng.uniform(0.05, 1.2, 48)  # stable hours and overloaded stretches
    arrivals[7] = cap[7] * 2 / 3  # c mu - lam == mu: the hypoexponential's equal-rates branch
    pool = simulate_pool(arrivals, s, 3, 5.0)
    assert (pool.backlog_wait > 0).any() and (pool.backlog_wait <= 0).any()
    mu, lam = 1 / pool.service_seconds, pool.arrivals / HOUR
    for t in (0.0, 1e-3, 0.05, 0.7, 3.0, 40.0):
        with np.errstate(invalid="ignore"):
            stable = response_sf(t, lam, mu, 3, np.nan_to_num(pool.p_wait, nan=1.0))
        over = np.where(t < pool.backlog_wait, 1.0, np.exp(-mu * np.maximum(t - pool.backlog_wait, 0.0)))
        assert pool.sf(t).tobytes() == np.where(pool.backlog_wait <= 0, stable, over).tobytes()


def test_options_that_share_their_peak_hour_compute_its_knee_once():
    """knee and peak_p99 are kept per argument: a second option with the same peak hour costs no evaluation."""
    knee.cache_clear()
    peak_p99.cache_clear()
    first = knee(450.0, 0.0019, 1, 0.5)
    evaluations = peak_p99.cache_info().misses
    assert evaluations >= 40  # the bisection's evaluations
    assert knee(450.0, 0.0019, 1, 0.5) == first and peak_p99.cache_info().misses == evaluations
    assert knee(460.0, 0.0019, 1, 0.5) < first  # other arguments are computed, not looked up
