"""Station throughput: the batch station against the per-customer SimPy station, side by side.

Both serve the same M/M/3 customers at 80 % utilisation; they must give the same waits, and the
batch station must handle at least 20 times as many customers per second. A second benchmark
pushes a national-scale day (three million applications at a counter pool with opening hours and
impatient customers) through the batch station. Run with ``make bench``; figures land in the
benchmark's ``extra_info``.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import simpy

from twin.sim import BatchStation, Calendar, Exponential, LogNormal, Station, erlang

N = 200_000
C = 3
RHO = 0.8


def _customers(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20260401)
    return np.cumsum(rng.exponential(1 / (RHO * C), n)), rng.exponential(1.0, n)


def _simpy(a: np.ndarray, s: np.ndarray) -> np.ndarray:
    env = simpy.Environment()
    station = Station(env, C, Exponential(1.0), rng=np.random.default_rng(0))
    station.submit(a, s)
    env.run()
    return station.log().wait


def _batch(a: np.ndarray, s: np.ndarray) -> np.ndarray:
    station = BatchStation(None, C, Exponential(1.0), rng=np.random.default_rng(0))
    return station.serve(a, s).wait


def test_batch_station_is_20x_the_simpy_station_with_the_same_waits(benchmark) -> None:
    a, s = _customers(N)
    simpy_seconds = []
    for _ in range(2):
        t0 = time.perf_counter()
        simpy_wait = _simpy(a, s)
        simpy_seconds.append(time.perf_counter() - t0)
    batch_wait = benchmark.pedantic(_batch, args=(a, s), rounds=5, iterations=1, warmup_rounds=1)

    simpy_rate = N / min(simpy_seconds)
    batch_rate = N / benchmark.stats.stats.min
    exact = erlang.mean_wait(RHO * C, 1.0, C)
    benchmark.extra_info.update(
        {
            "customers": N,
            "simpy_customers_per_s": round(simpy_rate),
            "batch_customers_per_s": round(batch_rate),
            "speedup": round(batch_rate / simpy_rate, 1),
            "mean_wait_simpy_h": float(simpy_wait.mean()),
            "mean_wait_batch_h": float(batch_wait.mean()),
            "mean_wait_erlang_c_h": exact,
        }
    )
    print(
        f"\nSimPy station {simpy_rate:,.0f} customers/s, batch station {batch_rate:,.0f} customers/s "
        f"({batch_rate / simpy_rate:.0f}x); mean wait {simpy_wait.mean():.4f} h vs {batch_wait.mean():.4f} h "
        f"(Erlang C {exact:.4f} h)"
    )
    # same inputs, same waits: equal to float precision, so equal in every statistic
    assert np.allclose(simpy_wait, batch_wait, rtol=0, atol=1e-9)
    assert batch_rate >= 20 * simpy_rate


def test_a_national_day_through_the_batch_station(benchmark) -> None:
    """3 million applications in one business day at a pool of 6,000 clerks, 08:30-17:15, patience 2 h."""
    n = 3_000_000
    cal = Calendar(dt.date(2020, 5, 11), dt.date(2020, 5, 12))
    rng = np.random.default_rng(7)
    arrivals = np.sort(rng.uniform(8.0, 17.0, n))
    service = LogNormal(mean=0.015, cv=0.8)

    def one_day():
        station = BatchStation(
            None, 6000, service, rng=np.random.default_rng(1), calendar=cal, patience=Exponential(2.0)
        )
        return station.serve(arrivals)

    log = benchmark.pedantic(one_day, rounds=3, iterations=1)
    rate = n / benchmark.stats.stats.min
    summary = log.summary()
    benchmark.extra_info.update({"customers": n, "batch_customers_per_s": round(rate), **summary})
    print(f"\nnational day: {rate:,.0f} customers/s; {summary}")
    assert summary["served"] + summary["reneged"] == n
