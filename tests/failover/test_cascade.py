"""Failover modes and cascades on small graphs, with faults placed by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from failover_helpers import START, params, quiet_service, year

T = dt.datetime.combine(START, dt.time(3, 0))  # Monday 03:00


def inject(target: str, hours: float, kind: str = "component") -> list[dict]:
    return [{"target": target, "kind": kind, "start": T, "hours": hours}]


def test_hard_dependency_down_takes_the_dependent_down_for_exactly_as_long() -> None:
    p = params({"db": quiet_service(), "app": quiet_service(depends_on=[{"service": "db"}])},
               injected=inject("db", 2.0), random_faults=False)  # fmt: skip
    y = year(p)
    assert y["db"].minutes_down == pytest.approx(120)
    assert y["app"].minutes_down == pytest.approx(120)
    assert y["app"].minutes_by_cause["dependency"] == pytest.approx(120)
    assert y["app"].incidents["dependency"] == 1 and y["db"].incidents["component"] == 1


def test_soft_dependency_only_degrades_and_fails_its_share_of_requests() -> None:
    p = params(
        {"ocsp": quiet_service(),
         "elig": quiet_service(depends_on=[{"service": "ocsp", "kind": "soft", "share": 0.1}],
                               carries=["eligibility"], capacity_per_site_rps=5000)},
        injected=[{"target": "ocsp", "start": dt.datetime(2025, 1, 6, 10), "hours": 1.0}], random_faults=False,
    )  # fmt: skip
    y = year(p)["elig"]
    assert y.minutes_down == 0
    assert y.minutes_degraded == pytest.approx(60)
    hour = 10
    demand = y.hourly_demand[hour]
    # 10 % fail on the first try; a retry (p=0.7) fails again during the hour: fail = sum over the attempts
    f, r = 0.1, 0.7
    expected = f * (1 - r) + f * f * r * (1 - r) + f**3 * r * r
    assert y.hourly_failed[hour] == pytest.approx(demand * expected)
    assert y.hourly_failed[hour + 1] == 0


def test_chain_of_hard_dependencies_cascades_to_the_top() -> None:
    p = params(
        {"line": quiet_service(), "net": quiet_service(depends_on=[{"service": "line"}]),
         "app": quiet_service(depends_on=[{"service": "net"}]), "other": quiet_service()},
        injected=inject("line", 1.5), random_faults=False,
    )  # fmt: skip
    y = year(p)
    assert [y[s].minutes_down for s in ("line", "net", "app", "other")] == pytest.approx([90, 90, 90, 0])


@pytest.mark.parametrize(
    ("mode", "expected_down"),
    [("single", 120.0), ("cold", 120.0), ("warm", 65.0), ("hot", 15.0), ("active_active", 0.0)],
)
def test_failover_mode_sets_how_long_a_two_hour_primary_failure_is_seen(mode: str, expected_down: float) -> None:
    sites = ["east"] if mode == "single" else ["east", "west"]
    p = params(
        {"x": quiet_service(deployment=mode, sites=sites)},
        failover={"detection_minutes": 5, "rto_minutes": {"cold": 600, "warm": 60, "hot": 10, "active_active": 0}},
        injected=inject("x", 2.0), random_faults=False,
    )  # fmt: skip
    y = year(p)["x"]
    assert y.minutes_down == pytest.approx(expected_down)
    if mode == "active_active":
        assert y.minutes_degraded == pytest.approx(5.0)  # half the requests fail until detection


def test_site_loss_fails_every_service_over_and_a_bad_release_hits_both_sites() -> None:
    aa = quiet_service(deployment="active_active", sites=["east", "west"], release={"detection_minutes": 30,
                       "rollback_minutes": 30})  # fmt: skip
    p = params(
        {"a": aa, "b": quiet_service(deployment="hot", sites=["east", "west"])},
        failover={"detection_minutes": 5, "rto_minutes": {"hot": 10}},
        injected=[{"target": "east", "kind": "site_loss", "start": T, "hours": 24},
                  {"target": "a", "kind": "defect", "start": T + dt.timedelta(days=2)}],
        random_faults=False,
    )  # fmt: skip
    y = year(p)
    assert y["a"].minutes_down == pytest.approx(60)  # the release, not the site
    assert y["a"].minutes_by_cause["release"] == pytest.approx(60)
    assert y["b"].minutes_down == pytest.approx(15)
    assert y["b"].minutes_by_cause["site_loss"] == pytest.approx(15)


def test_maintenance_stops_a_single_site_but_not_a_pair() -> None:
    p = params(
        {"one": quiet_service(), "hot": quiet_service(deployment="hot", sites=["east", "west"]),
         "aa": quiet_service(deployment="active_active", sites=["east", "west"])},
        maintenance={"enabled": True, "hours": 4}, failover={"rto_minutes": {"hot": 10}}, random_faults=False,
    )  # fmt: skip
    y = year(p, n_days=31, start=dt.date(2025, 1, 1))
    assert y["one"].minutes_down == pytest.approx(240)  # third Sunday of January 2025: one window
    assert y["hot"].minutes_down == pytest.approx(10)
    assert y["aa"].minutes_down == 0


def test_cut_line_between_sites_stalls_synchronous_replication_only() -> None:
    from failover_helpers import rng_for

    from twin.models.failover.demand import hourly_demand
    from twin.models.failover.engine import simulate_year

    svc = {"deployment": "hot", "sites": ["east", "west"]}
    p = params(
        {"sync": quiet_service(**svc, replication={"mode": "sync"}),
         "async": quiet_service(**svc, replication={"mode": "async"})},
        links={"ew": {"between": ["east", "west"], "mtbf_hours": 500, "mttr_hours": 1}},
        failover={"detection_minutes": 5, "rto_minutes": {"hot": 10}},
    )  # fmt: skip
    y = simulate_year(p, START, 365, hourly_demand(p.demand, START, 365), rng_for(3))
    assert y["async"].minutes_down == 0
    assert y["sync"].incidents["partition"] > 5
    assert y["sync"].minutes_down == pytest.approx(y["sync"].minutes_by_cause["partition"])


def test_graph_holds_services_sites_and_typed_dependency_edges() -> None:
    from twin.models.failover.params import Params
    from twin.models.failover.topology import build_graph, dependency_order

    p = Params()
    g = build_graph(p)
    assert g.nodes["east"]["type"] == "site" and g.nodes["myna_portal"]["deployment"] == "hot"
    assert g.edges["myna_portal", "jpki_ocsp"]["kind"] == "hard"
    assert g.edges["eligibility", "jpki_ocsp"] == {"type": "depends", "kind": "soft", "share": 0.1113}
    assert g.edges["west", "payout"]["role"] == "standby" and g.edges["east", "payout"]["role"] == "primary"
    order = dependency_order(p)
    for name, svc in p.services.items():
        for d in svc.depends_on:
            assert order.index(d.service) < order.index(name)
