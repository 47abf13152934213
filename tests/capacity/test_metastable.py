"""The metastable-failure scenario's options, played at small scale through the scenario's own wiring.

``scenarios/capacity_metastable.yaml`` puts a 10-minute surge on a pool that is half busy. Here
every option of that file (its retry policy, retry budget and load shedding, through
``requests.policy``/``classes``/``stations``/``play``) meets the same shape at a small scale: the
pool's service time stretched twentyfold and the arrivals thinned twentyfold, so the utilisation
and the surge are the scenario's while the run takes a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from twin.models.capacity.requests import Day, play, recovery, service_means
from twin.scenario import load

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "capacity_metastable.yaml"


def _small_day(params, rate: float, rng: np.random.Generator) -> Day:  # noqa: ANN001
    """The window's eligibility lookups at ``rate`` a second, times the scenario's surge."""
    rq = params.requests
    h0, m0 = (int(x) for x in rq.window[0].split(":"))
    h1, m1 = (int(x) for x in rq.window[1].split(":"))
    length = ((h1 - h0) * 60 + (m1 - m0)) * 60.0
    t = rng.uniform(0, length, rng.poisson(rate * length))
    hs, ms = (int(x) for x in rq.surge.start.split(":"))
    s0 = ((hs - h0) * 60 + (ms - m0)) * 60.0
    s1 = s0 + rq.surge.minutes * 60.0
    extra = rng.uniform(s0, s1, rng.poisson((rq.surge.factor - 1) * rate * (s1 - s0)))
    sends = np.sort(np.concatenate([t, extra]))
    return Day(dt.date(2024, 7, 8), h0 * 60 + m0, {"eligibility_number": sends}, {"eligibility_number": 0.005},
               len(sends), 1, {})


def _outcomes() -> dict[str, dict]:
    sc = load(SCENARIO)
    out = {}
    for opt in sc.options:
        p = opt.params
        # stretch the service time twentyfold (TLS carries the stretch), keep the utilisation 0.5
        base = service_means(p)["eligibility_number"]
        p = p.model_copy(update={"requests": p.requests.model_copy(update={"tls_seconds": p.requests.tls_seconds
                                                                           + 19 * base})})
        s = service_means(p)["eligibility_number"]
        rng = np.random.default_rng(11)
        d = _small_day(p, 0.5 / s, rng)
        res = play(p, d, rng)
        out[opt.name] = recovery(p, d, res)
    return out


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict]:
    return _outcomes()


def test_immediate_retries_keep_the_pool_down_after_the_surge(outcomes: dict[str, dict]) -> None:
    r = outcomes["immediate_retries"]
    assert not r["recovered"]
    assert r["goodput_share_after_surge"] < 0.2


def test_backoff_with_jitter_alone_does_not_prevent_the_storm(outcomes: dict[str, dict]) -> None:
    """Three retries each, only seconds later: the same retry load, the same outcome."""
    assert not outcomes["backoff_jitter"]["recovered"]


@pytest.mark.parametrize("option", ["backoff_jitter_budget", "backoff_jitter_shedding"])
def test_a_retry_budget_or_load_shedding_brings_goodput_back(outcomes: dict[str, dict], option: str) -> None:
    r = outcomes[option]
    assert r["recovered"]
    assert r["minutes_to_recover"] <= 20
    assert r["goodput_share_after_surge"] > 0.75
