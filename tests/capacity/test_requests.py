"""The request-level day: the batch run of a peak hour is the per-request SimPy run, and the day's
tallies hold together (every attempt ends once; goodput never exceeds what was sent)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.capacity.params import Params
from twin.models.capacity.requests import build_day, classes, run_day, service_means, stage_means, stations
from twin.sim import Exponential
from twin.sim.clients import reference, simulate

SMALL = {"hospital": 80, "clinic": 900, "dental": 700, "pharmacy": 600}  # about 1:100 of the facilities
VOLUME = {"hospital": 12.07e4, "clinic": 86.1e4, "dental": 14.2e4, "pharmacy": 92.6e4}  # and of the checks
DAY = dt.date(2024, 7, 8)


def _params(**req) -> Params:
    return Params(
        facilities={"count": SMALL, "checks_reference_month": VOLUME},
        demand={"portal_logins_per_day": 10_000, "platform_logins_per_link_per_day": 5_000 / 20_000_000,
                "linkage_queries_per_business_day": 10_000},
        pools={"eligibility": {"servers": 1}, "ocsp": {"servers": 1}, "portal": {"servers": 1},
               "ca": {"servers": 1}},
        requests={"enabled": True, "knee": False, "window": ["09:00", "10:00"], "timeout_seconds": 2.0,
                  **req},
    )


@pytest.mark.slow
def test_peak_hour_batch_run_is_the_per_request_simpy_run() -> None:
    # service times scaled so the busiest minutes overload one worker: timeouts and retries happen
    p = _params(tls_seconds=0.09, database_seconds=0.0005, database={"servers": 4},
                retry={"policy": "backoff_jitter", "max_retries": 2, "base_seconds": 0.2})
    rng = np.random.default_rng(1)
    day = build_day(p, DAY, rng, agents=False, seed=1)
    cl = classes(p, day)
    means = service_means(p)
    for c in cl:
        n = len(c.sends)
        k = c.policy.retries + 1
        c.service_table = np.stack([rng.exponential(m, (n, k)) for m in stage_means(means, c.name, c.route)], axis=2)
        c.jitter_table = rng.random((n, k))
    horizon = 3600.0
    got = simulate(cl, stations(p, rng), horizon, rng=rng, keep=True)
    # the batch run is exact when no retry was decided only after its time (clients.py docstring);
    # with one deferred retry (a 09:00-09:10 window does that) a few attempts legitimately differ
    assert got.deferred == 0
    spec = {s: (b.servers, Exponential(1.0)) for s, b in stations(p, rng).items()}
    ref = reference(cl, spec, horizon, rng=rng)
    a = got.attempts
    o = np.lexsort((a["k"], a["req"], a["cls"]))
    assert len(o) == len(ref["req"]) > 5_000
    for f in ("cls", "req", "k", "outcome"):
        assert np.array_equal(a[f][o], ref[f]), f
    assert np.allclose(a["send"][o], ref["send"], atol=1e-9)
    fin = np.isfinite(ref["response"])
    assert np.allclose(a["response"][o][fin], ref["response"][fin], atol=1e-9)
    assert got.retries.sum() > 0 and got.timeouts.sum() > 0  # the hour is not trivially quiet


@pytest.mark.parametrize("agents", [False, True])
def test_day_tallies_hold_together(agents: bool) -> None:
    p = _params(window=["08:00", "12:00"])
    r = run_day(p, DAY, np.random.default_rng(2), agents=agents, seed=3).result
    ended = r.goodput + r.timeouts + r.shed
    assert np.array_equal(ended.sum(axis=1), r.offered.sum(axis=1))
    assert np.array_equal(r.offered, r.first + r.retries)
    assert (r.queue["eligibility"] >= 0).all()
    q = r.quantile(0.99)
    assert np.nanmax(q) > 0
    # the 08:30 and 09:00 openings: the busiest minute is well above the busiest hour's mean
    per_min = r.first.sum(axis=0)
    per_hour = per_min.reshape(-1, 60).sum(axis=1)
    assert per_min.max() > 1.3 * per_hour.max() / 60


def test_the_request_day_splits_logins_by_token_at_the_days_phone_share() -> None:
    """Phones on: their share of the day's portal logins and private authentications become classes of their own
    (the hourly model's share for the day); phones off: no phone class, and the same draws as before."""
    from scipy.stats import binom

    from twin.models.capacity.demand import phone_share_by_day
    from twin.models.capacity.requests import GROUPS

    day = dt.date(2027, 7, 5)  # both platforms served for years: a large share
    p = _params(window=["00:00", "23:59"])
    on = Params.model_validate({**p.model_dump(), "phones": {"uptake": [[0, 0.0], [1, 0.3], [3, 0.5]]}})
    share = float(phone_share_by_day(on, [day])[0])
    assert 0.3 < share < 0.5
    off_day = build_day(p, day, np.random.default_rng(5), agents=False, seed=5)
    again = build_day(p, day, np.random.default_rng(5), agents=False, seed=5)
    assert "portal_phone" not in off_day.sends and "ocsp_phone" not in off_day.sends
    assert all(np.array_equal(off_day.sends[k], again.sends[k]) for k in off_day.sends)
    d = build_day(on, day, np.random.default_rng(5), agents=False, seed=5)
    card, phone = len(d.sends["portal"]), len(d.sends["portal_phone"])
    n = card + phone
    assert binom.ppf(0.0005, n, share) <= phone <= binom.ppf(0.9995, n, share), (phone, n, share)
    assert n == pytest.approx(len(off_day.sends["portal"]), rel=0.05)  # the logins are split, not added
    assert {GROUPS[c.name] for c in classes(on, d) if c.name.endswith("_phone")} == {"portal", "ocsp"}
    st, ph = on.service_times, on.phones  # wiring: the phone certificates' own pre-signed cache
    assert service_means(on)["ocsp_phone"] == pytest.approx(
        ph.presigned_share * st.ocsp_cached + (1 - ph.presigned_share) * st.ocsp_fresh + on.requests.tls_seconds)
