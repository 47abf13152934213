"""A certificate-system outage also stops the logins made with a smartphone's certificate (issue 18 item 6).

The phone logins are a demand profile of their own ('phone': a share of the portal and private logins from
each platform's service start) carried by a service that needs the JPKI responder; the report counts the
phone logins lost apart from the card's. One week, no random faults: each test runs in well under a second.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.errors import InputError
from twin.models.failover import report
from twin.models.failover.demand import _home, hourly_demand, phone_served
from twin.models.failover.engine import simulate_year
from twin.models.failover.params import Params
from twin.runs import stream_key
from twin.scenario import load, loads

MONDAY = dt.date(2025, 7, 7)
PHONE_LOGIN = {"title": "phone logins", "carries": ["phone"], "depends_on": [{"service": "jpki_ocsp"}],
               "capacity_per_site_rps": 4000, "service_time_ms": 20}


def _params(share: float, target: str = "jpki_ocsp", **extra: object) -> Params:
    return Params(
        random_faults=False, maintenance={"enabled": False}, demand={"phone_share_of_logins": share},
        services={"phone_login": PHONE_LOGIN,
                  target: {"release": {"detection_minutes": 60, "rollback_minutes": 180, "blast_radius": 1.0}}},
        injected=[{"target": target, "kind": "defect", "start": dt.datetime(2025, 7, 7, 10)}], **extra,
    )


def _year(p: Params, start: dt.date = MONDAY, days: int = 7) -> dict:
    d = hourly_demand(p.demand, start, days)
    return simulate_year(p, start, days, d, lambda name: np.random.default_rng(
        np.random.SeedSequence(1, spawn_key=(stream_key(name),))), keep_hourly=True)


def test_phone_logins_are_a_share_of_the_portal_and_private_logins_from_each_platforms_start() -> None:
    p = Params(demand={"phone_share_of_logins": 0.2, "phone_android_share": 0.4},
               services={"phone_login": PHONE_LOGIN})
    for day, served in ((dt.date(2023, 5, 10), 0.0), (dt.date(2023, 5, 11), 0.4), (dt.date(2025, 6, 23), 0.4),
                        (dt.date(2025, 6, 24), 1.0)):
        d = hourly_demand(p.demand, day, 1)
        logins = d["portal"] + _home([day], p.demand.platform_links * p.demand.platform_logins_per_link_per_day)
        np.testing.assert_allclose(d["phone"], logins * 0.2 * served)
    assert phone_served([dt.date(2025, 6, 24)], 0.4).tolist() == [1.0]


def test_an_ocsp_outage_loses_the_phone_logins_of_its_hours_and_a_ca_outage_does_not() -> None:
    p = _params(0.3)
    year = _year(p)
    down = year["jpki_ocsp"].hourly_down
    assert down.sum() == pytest.approx(4.0)  # detection 60 min + rollback 180 min
    hours = down > 0
    phone = year["phone_login"]
    # every phone login of the outage's hours is lost (its retries meet the same outage), none outside them
    np.testing.assert_allclose(phone.hourly_failed[hours], phone.hourly_demand[hours] * down[hours])
    assert phone.hourly_failed[~hours].sum() == pytest.approx(0.0, abs=1e-6)
    assert phone.failed > 0 and year["myna_portal"].failed > 0  # card logins at the portal stop too
    ca = _year(_params(0.3, target="jpki_ca"))
    assert ca["jpki_ca"].minutes_down == pytest.approx(240.0)
    assert ca["phone_login"].failed == pytest.approx(0.0, abs=1e-6)  # logins need the status service, not the CA


def test_lost_phone_logins_grow_with_the_share_and_the_card_side_does_not_change() -> None:
    years = {s: _year(_params(s)) for s in (0.0, 0.1, 0.3)}
    lost = [years[s]["phone_login"].failed for s in (0.0, 0.1, 0.3)]
    assert lost[0] == 0.0 and lost[2] == pytest.approx(3 * lost[1])
    for svc in ("myna_portal", "jpki_ocsp", "eligibility"):  # phone logins are within the portal and OCSP loads
        assert years[0.3][svc].failed == pytest.approx(years[0.0][svc].failed), svc


def test_the_report_counts_lost_phone_logins_apart() -> None:
    p = _params(0.3)
    head = report.phone_headline([_year(p)], p)
    assert head["lost_phone_logins"] == pytest.approx(head["lost_phone_logins_ocsp_down"])
    assert head["ocsp_down_hours"] == pytest.approx(4.0)
    section = report.phone_section({"phones_30": head})
    said = f"{head['lost_phone_logins_ocsp_down']:,.0f} of the {head['phone_logins_ocsp_down']:,.0f} phone logins"
    assert said in section.blocks[0].text
    assert report.phone_headline([_year(Params())], Params()) == {}  # no phone service: no section


def test_wiring_the_bundled_scenario_sets_the_shares_and_the_outage() -> None:
    s = load("scenarios/failover_phone_logins.yaml")
    assert [o.params.demand.phone_share_of_logins for o in s.options] == [0.0, 0.1, 0.3, 0.3]
    assert [o.params.injected[0].target for o in s.options] == ["jpki_ocsp"] * 3 + ["jpki_ca"]


def test_a_phone_share_without_a_service_to_carry_it_is_refused() -> None:
    with pytest.raises(InputError) as e:
        loads("name: t\nkind: failover\nparams:\n  demand: {phone_share_of_logins: 0.2}\n", "t.yaml")
    assert str(e.value).startswith("t.yaml: params.demand.phone_share_of_logins: 0.2 needs a service that carries "
                                   "the 'phone' profile")
    with pytest.raises(InputError) as e:
        loads("name: t\nkind: failover\nparams:\n  services:\n    p: {carries: [phones]}\n", "t.yaml")
    assert "params.services.p.carries[0]: 'phones'" in str(e.value) and "phone" in str(e.value)


def test_the_report_shows_the_assumed_ranges_of_the_phone_share() -> None:
    p = _params(0.3)
    rows = {a.name: a for a in report.assumptions(p, [])}
    assert rows["demand.phone_share_of_logins"].value == "0.3 (assumed range 0-0.3 of served holders' portal and " \
        "private logins by phone)"
    assert rows["demand.phone_share_of_logins"].source is None
