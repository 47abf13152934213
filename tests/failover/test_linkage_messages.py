"""Issue 17's invariant in the failover run: a sample of the year's linkage queries goes through the real
information-provision network, with the aggregate year's downtime as its outages, and every message between
bodies is checked for a My Number (twin.models.failover.linkage_sample)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from failover_helpers import START, params, quiet_service, year

from twin.models.failover import report
from twin.models.failover.demand import hourly_demand
from twin.models.failover.linkage_sample import BODIES, JST, SampleWorld, run_sample
from twin.services.eligibility.worlds import world_qualification
from twin.services.linkage import BodyKind, InsuranceQualification, Item, insurance_copy, my_number_fields


def linkage(**extra):  # noqa: ANN001, ANN201
    """The network over the intermediate servers, single site, no nightly stop; 300 sampled queries."""
    inter = quiet_service(daily_stop=None)
    net = quiet_service(depends_on=[{"service": "intermediate_servers"}], carries=["linkage"])
    extra.setdefault("linkage_sample", {"queries": 300, "people": 12})
    return params({"intermediate_servers": inter, "info_network": net}, random_faults=False, **extra)


def sample(p, n_days: int = 3, world: SampleWorld | None = None):  # noqa: ANN001, ANN201
    y = year(p, n_days=n_days)
    return run_sample(p, START, y, hourly_demand(p.demand, START, n_days)["linkage"], np.random.default_rng(7),
                      world)  # fmt: skip


def test_every_message_of_the_sample_is_checked_and_none_holds_a_my_number() -> None:
    r = sample(linkage())
    assert r.queries == 300 and r.answered == 300 and r.refused_other == 0
    # each answered query is four messages: query, provide, supply, answer
    assert r.messages_checked == 4 * r.answered + r.refused_unavailable
    assert set(r.messages_by_type.values()) == {300}
    assert r.messages_with_my_number == 0 and r.violations == []


def test_the_real_network_refuses_exactly_the_queries_in_the_aggregate_downtime() -> None:
    # the intermediate servers down 10:00-13:00 on Tuesday: the network is down with them (hard dependency)
    out = [{"target": "intermediate_servers", "start": dt.datetime(2025, 1, 7, 10), "hours": 3.0}]
    r = sample(linkage(injected=out))
    assert r.in_aggregate_downtime > 0
    assert r.refused_unavailable == r.in_aggregate_downtime
    assert r.messages_checked == 4 * r.answered + r.refused_unavailable  # a refused query was still checked
    assert r.violations == []


def test_a_my_number_a_business_system_puts_in_a_copy_is_caught_on_the_messages_that_carry_it() -> None:
    p = linkage()
    t0 = dt.datetime.combine(START, dt.time(), JST)
    world = SampleWorld(12, np.random.default_rng(7), t0 - dt.timedelta(hours=22))
    holds = {BodyKind.MUNICIPALITY: (Item.LOCAL_TAX_INCOME, Item.RESIDENT_RECORD, Item.CHILD_ALLOWANCE,
                                     Item.PUBLIC_ASSISTANCE),
             BodyKind.PENSION: (Item.PENSION,), BodyKind.INSURER: (Item.HEALTH_INSURANCE,),
             BodyKind.ACCOUNT_REGISTER: (Item.BENEFIT_ACCOUNT,)}  # fmt: skip
    for kind, items in holds.items():
        for body in BODIES[kind]:
            for n in world.numbers:  # a memo field with the person's number, registered as the copy
                for item in items:
                    world.network.agency(body).publish(n, item, ("memo", f"resident {n}"), START, t0)
    r = sample(p, world=world)
    # the copy travels in the supply and the answer of every answered query: both are caught
    assert r.answered == 300 and r.messages_with_my_number == 2 * r.answered
    assert r.violations[0] == "a My Number in SupplyMessage field(s) copy.value[1]"
    assert not any(n in v for v in r.violations for n in world.numbers)  # reported without the number
    text = report.linkage_sample_paragraph({"leaky": r}).text
    assert "600 held a My Number (violation)" in text and "300 queries, 300 answered and 0 refused" in text
    assert "(0 fell in the aggregate downtime)" in text and not any(n in text for n in world.numbers)


def test_the_insurers_copy_is_the_residents_qualification_as_the_served_worlds_build_it() -> None:
    """What kyokai supplies is an InsuranceQualification made by the served worlds' rule and copy (no tuple, no My
    Number): 協会けんぽ 01130012, insured number 70000 + i, from 2,191 days (six years at the default epoch) before
    the day the copies were refreshed, every 7th ended 366 days before it; the copy is dated its first day."""
    t0 = dt.datetime.combine(START, dt.time(), JST)
    refreshed = t0 - dt.timedelta(hours=22)
    world = SampleWorld(12, np.random.default_rng(7), refreshed)
    epoch = refreshed.date()  # 2025-01-05
    for i, n in enumerate(world.numbers):
        code = world.network.agency("muni:131016").code_for(n)
        a = world.network.query("muni:131016", code, "public_assistance", "kyokai", Item.HEALTH_INSURANCE.value, t0)
        ended = i % 7 == 6
        want = InsuranceQualification("全国健康保険協会", "01130012", f"{70000 + i}", "00", "association",
                                      dt.date(2019, 1, 6), dt.date(2024, 1, 5) if ended else None)  # fmt: skip
        assert a.found and a.value == want and a.as_of == want.valid_from, (i, a.value)  # type: ignore[union-attr]
        assert (dt.date(2019, 1, 6), dt.date(2024, 1, 5)) == (epoch - dt.timedelta(days=2191),
                                                                epoch - dt.timedelta(days=366))  # fmt: skip
        q = SampleWorld.qualification(i, epoch)
        assert q == world_qualification(i, q.holder, f"resident-{i}", epoch) and insurance_copy(q) == ("kyokai", want)
        assert a.value.insured_number not in world.known and my_number_fields(a, world.known) == []  # type: ignore[union-attr]


def test_no_sample_without_a_service_carrying_the_linkage_or_with_none_asked_for() -> None:
    p = params({"jpki_ocsp": quiet_service(carries=["ocsp"])}, random_faults=False)
    assert sample(p) is None
    assert sample(linkage(linkage_sample={"queries": 0})) is None


@pytest.mark.parametrize("n", [1, 50])
def test_the_sample_is_reproducible(n: int) -> None:
    p = linkage(linkage_sample={"queries": n, "people": 5})
    assert sample(p).summary() == sample(p).summary()
