"""The information-provision network and the intermediate servers in the failover topology (issue 17
item 5): their own outage modes (component faults covered by the standby, a nightly batch stop that
no standby covers) and what their outages do to the services that query through them."""

from __future__ import annotations

import datetime as dt

import pytest
from failover_helpers import params, quiet_service, year

from twin.models.failover.params import DEFAULT_SERVICES, Params
from twin.models.failover.topology import build_graph, dependency_order

HOT = {"deployment": "hot", "sites": ["east", "west"]}


def linkage_pair(stop: dict | None = None, **extra) -> Params:
    inter = quiet_service(**HOT, daily_stop=stop)  # None removes the default nightly stop
    net = quiet_service(**HOT, depends_on=[{"service": "intermediate_servers"}])
    return params({"intermediate_servers": inter, "info_network": net, **extra.pop("services", {})},
                  random_faults=False, **extra)  # fmt: skip


def test_wiring_the_default_topology_has_the_network_over_the_intermediate_servers() -> None:
    assert {"info_network", "intermediate_servers"} <= set(DEFAULT_SERVICES)
    p = Params()
    g = build_graph(p)
    assert g.edges["info_network", "intermediate_servers"]["kind"] == "hard"
    order = dependency_order(p)
    assert order.index("intermediate_servers") < order.index("info_network")
    assert p.services["intermediate_servers"].daily_stop is not None
    assert p.services["info_network"].daily_stop is None


def test_the_nightly_batch_stop_is_not_covered_by_the_standby_and_stops_the_network_too() -> None:
    y = year(linkage_pair(stop={"start_hour": 2.0, "hours": 1.0}), n_days=7)
    assert y["intermediate_servers"].minutes_down == pytest.approx(7 * 60)
    assert y["intermediate_servers"].minutes_by_cause["maintenance"] == pytest.approx(7 * 60)
    assert y["info_network"].minutes_down == pytest.approx(7 * 60)
    assert y["info_network"].minutes_by_cause["dependency"] == pytest.approx(7 * 60)


def test_a_failed_intermediate_server_instance_costs_only_detection_and_takeover() -> None:
    start = dt.datetime(2025, 1, 7, 10)
    y = year(linkage_pair(injected=[{"target": "intermediate_servers", "start": start, "hours": 3.0}]), n_days=3)
    p = Params()
    takeover = p.failover.detection_minutes + p.failover.rto_minutes["hot"]
    assert y["intermediate_servers"].minutes_down == pytest.approx(takeover)
    assert y["info_network"].minutes_down == pytest.approx(takeover)
    # a single-site intermediate server is down for the whole repair
    single = linkage_pair(injected=[{"target": "intermediate_servers", "start": start, "hours": 3.0}])
    single.services["intermediate_servers"] = single.services["intermediate_servers"].model_copy(
        update={"deployment": "single", "sites": ["east"]}
    )
    assert year(single, n_days=3)["info_network"].minutes_down == pytest.approx(180)


def test_a_service_that_queries_through_the_network_is_degraded_while_it_is_down() -> None:
    payout = quiet_service(depends_on=[{"service": "info_network", "kind": "soft", "share": 0.5}],
                           carries=["payout"], capacity_per_site_rps=5_000)  # fmt: skip
    y = year(linkage_pair(stop={"start_hour": 2.0, "hours": 1.0}, services={"payout": payout}), n_days=2)
    assert y["payout"].minutes_down == 0
    assert y["payout"].minutes_degraded == pytest.approx(2 * 60)
    night = y["payout"]
    assert night.hourly_failed[2] > 0 and night.hourly_failed[12] == 0
