"""The 'linkage' request profile in the failover model (issue 17 item 5): queries between bodies carried by
the information-provision network, which needs the intermediate servers; their outages fail linkage queries
and nothing else."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from failover_helpers import START, params, quiet_service, year

from twin.models.capacity.demand import linkage_per_hour
from twin.models.capacity.params import Params as CapacityParams
from twin.models.failover.demand import hourly_demand
from twin.models.failover.params import Params


def topology(stop: dict | None = None, injected: list | None = None) -> Params:
    inter = quiet_service(daily_stop=stop)
    net = quiet_service(depends_on=[{"service": "intermediate_servers"}], carries=["linkage"],
                        capacity_per_site_rps=400, service_time_ms=200)  # fmt: skip
    elig = quiet_service(depends_on=[], carries=["eligibility"], capacity_per_site_rps=5_000, service_time_ms=100)
    return params({"intermediate_servers": inter, "info_network": net, "eligibility": elig},
                  random_faults=False, injected=injected or [])  # fmt: skip


def test_failover_and_capacity_see_the_same_linkage_demand() -> None:
    days = [START + dt.timedelta(days=i) for i in range(14)]
    cap = linkage_per_hour(CapacityParams(), days)
    fo = hourly_demand(Params().demand, START, 14)["linkage"]
    np.testing.assert_allclose(fo, cap)
    # business days only, and the day sums to the assumed volume
    assert fo[:24].sum() == pytest.approx(CapacityParams().demand.linkage_queries_per_business_day)
    assert fo[5 * 24:7 * 24].sum() == 0.0  # the weekend


def test_an_intermediate_server_outage_fails_linkage_queries_but_not_eligibility_checks() -> None:
    outage = {"target": "intermediate_servers", "start": dt.datetime(2025, 1, 7, 10), "hours": 3.0}
    y = year(topology(injected=[outage]), n_days=3)
    link, elig = y["info_network"], y["eligibility"]
    assert link.minutes_down == pytest.approx(180)
    hours = slice(24 + 10, 24 + 13)
    assert link.hourly_failed[hours].sum() > 0.5 * link.hourly_demand[hours].sum()
    assert link.retried > 0
    assert elig.failed == 0 and elig.hourly_demand[hours].sum() > 0
    # nothing lost outside the outage
    outside = np.ones(len(link.hourly_failed), bool)
    outside[hours] = False
    assert link.hourly_failed[outside].sum() == 0


def test_the_nightly_copy_registration_stop_costs_only_the_queries_sent_at_two_o_clock() -> None:
    quiet = year(topology(), n_days=7)["info_network"]
    assert quiet.failed == 0 and quiet.requests > 0
    y = year(topology(stop={"start_hour": 2.0, "hours": 1.0}), n_days=7)["info_network"]
    assert y.minutes_down == pytest.approx(7 * 60)
    # the default batch window (19-23) and office hours send nothing at 02:00: the stop loses no query
    assert y.failed == 0
    # a batch window over the stop loses queries
    p = topology(stop={"start_hour": 2.0, "hours": 1.0})
    p = p.model_copy(update={"demand": p.demand.model_copy(update={"linkage_batch_hours": (1, 4)})})
    late = year(p, n_days=7)["info_network"]
    at_two = np.arange(len(late.hourly_failed)) % 24 == 2
    assert late.failed > 0 and late.hourly_failed[~at_two].sum() == 0


def test_wiring_the_default_network_carries_the_linkage_profile() -> None:
    assert "linkage" in Params().services["info_network"].carries


@pytest.mark.parametrize("seed", [1, 2])
def test_in_the_default_topology_linkage_queries_are_lost_only_while_the_path_is_down(seed: int) -> None:
    p = Params()
    y = year(p, n_days=60, seed=seed)
    net = y["info_network"]
    assert net.requests == pytest.approx(hourly_demand(p.demand, START, 60)["linkage"].sum())
    assert 0 <= net.failed <= net.requests
    down = (net.hourly_down > 0) | (y["intermediate_servers"].hourly_down > 0)
    assert net.hourly_failed[~down].sum() == pytest.approx(0.0, abs=1e-6)


def test_a_fault_in_the_registration_window_leaves_a_day_of_stale_answers() -> None:
    """An outage of the intermediate servers inside the nightly window on day 1 misses that night's copy
    registration: the queries served from the window's end to the next night's window are answered from copies a
    day out of date; the stop alone misses nothing."""
    stop = {"start_hour": 2.0, "hours": 1.0}
    plain = year(topology(stop=stop), n_days=4)
    assert plain["intermediate_servers"].refresh_missed_days.size == 0 and plain["info_network"].stale_answers == 0
    fault = {"target": "intermediate_servers", "start": dt.datetime(2025, 1, 7, 2, 30), "hours": 1.0}
    y = year(topology(stop=stop, injected=[fault]), n_days=4)
    assert y["intermediate_servers"].refresh_missed_days.tolist() == [1]
    net = y["info_network"]
    window = slice(24 + 4, 48 + 2)  # from the end of day 1's outage hour (03:30 -> the 04:00 bin) to day 2, 02:00
    served = net.hourly_demand - net.hourly_failed
    # the outage ran to 03:30: hour 3 of day 1 is still partly down, its queries are not stale answers
    assert net.stale_answers == pytest.approx(served[window].sum() + served[24 + 3])
    assert net.stale_answers > 0 and net.stale_max_age_days == 2
    # an outage outside the window fails queries but misses no registration
    noon = {"target": "intermediate_servers", "start": dt.datetime(2025, 1, 7, 12), "hours": 2.0}
    z = year(topology(stop=stop, injected=[noon]), n_days=4)
    assert z["intermediate_servers"].refresh_missed_days.size == 0 and z["info_network"].stale_answers == 0
