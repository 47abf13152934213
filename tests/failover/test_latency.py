"""p99 latency in a failover hour: the closed form the engine uses against twin.sim's station."""

from __future__ import annotations

import numpy as np
import pytest

from twin.models.failover.engine import p99_response, response_tail
from twin.sim.batch import BatchStation
from twin.sim.distributions import Exponential


@pytest.mark.parametrize(("lam", "capacity", "service_s"), [(80.0, 100.0, 0.1), (360.0, 450.0, 0.1)])
def test_p99_matches_the_batch_station_on_poisson_arrivals(lam: float, capacity: float, service_s: float) -> None:
    rng = np.random.default_rng(4)
    n = 300_000
    arrivals = np.cumsum(rng.exponential(1 / lam, n))  # seconds
    servers = round(capacity * service_s)
    log = BatchStation(None, servers, Exponential(service_s), rng=np.random.default_rng(5)).serve(arrivals)
    simulated = float(np.quantile((log.end - log.arrival)[n // 10 :], 0.99))
    assert p99_response(lam, capacity, service_s, 30.0) == pytest.approx(simulated, rel=0.04)


def test_tail_is_a_survival_function_and_p99_hits_the_timeout_at_capacity() -> None:
    t = np.linspace(0, 5, 50)
    tail = np.array([response_tail(x, 8.0, 1.0, 10) for x in t])
    assert tail[0] == pytest.approx(1.0) and np.all(np.diff(tail) < 0)
    assert p99_response(100.0, 100.0, 0.1, 30.0) == 30.0
    assert p99_response(10.0, 100.0, 0.1, 30.0) < p99_response(95.0, 100.0, 0.1, 30.0) < 30.0
