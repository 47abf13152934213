"""Invariants of the year on random topologies: cascades only add downtime, causes add up, counts are sane."""

from __future__ import annotations

import pytest
from failover_helpers import params, quiet_service, year
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MODES = ["single", "cold", "warm", "hot", "active_active"]


@st.composite
def topologies(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 5))
    services = {}
    for i in range(n):
        mode = draw(st.sampled_from(MODES))
        deps = []
        for j in range(i):  # dependencies only on earlier services: hard edges never cycle
            kind = draw(st.sampled_from([None, "hard", "soft"]))
            if kind:
                deps.append({"service": f"s{j}", "kind": kind, "share": draw(st.floats(0.05, 1.0))})
        services[f"s{i}"] = quiet_service(
            deployment=mode, sites=["east"] if mode == "single" else ["east", "west"], depends_on=deps,
            failure={"mtbf_hours": draw(st.floats(20, 400)), "mttr_hours": draw(st.floats(0.2, 12))},
            release={"defect_escape_rate": draw(st.floats(0, 0.5)), "cadence_days": 2},
            carries=draw(st.sampled_from([[], ["portal"], ["eligibility"], ["card"]])),
            capacity_per_site_rps=draw(st.floats(5, 600)), admission_control=draw(st.booleans()),
        )  # fmt: skip
    return services


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies(), st.integers(0, 2**16))
def test_year_invariants_on_random_topologies(services: dict, seed: int) -> None:
    p = params(services, maintenance={"enabled": True})
    y = year(p, n_days=21, seed=seed)
    for name, svc in p.services.items():
        r = y[name]
        assert 0.0 <= r.availability <= 1.0
        assert 0.0 <= r.failed <= r.requests * (1 + 1e-9)
        assert r.retried >= -1e-9
        assert sum(r.minutes_by_cause.values()) == pytest.approx(r.minutes_down, abs=1e-6)
        for d in svc.depends_on:
            if d.kind == "hard":
                # everything the dependency is down for, the dependent is down for too
                assert r.minutes_down >= y[d.service].minutes_down - 1e-6
        if svc.deployment == "single":
            assert r.failovers == 0 and r.writes_at_risk == 0
        if svc.replication.mode == "sync":
            assert r.writes_at_risk == 0
