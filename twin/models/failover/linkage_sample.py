"""A sample of the failover year's linkage queries through the real information-provision network.

In the aggregate year the bodies' linkage queries are a load (the 'linkage' profile) on the
information-provision network and the intermediate servers. Here a sample of them (``linkage_sample.queries``,
at times drawn from that profile over the horizon) goes through :class:`twin.services.linkage.InformationNetwork`
itself: a few bodies of every kind in the lawful table (four town halls, the Japan Pension Service, the Japan
Health Insurance Association, the account register, Myna Portal), a few residents with copies on their
intermediate servers, each query under the requester's own agency code for a procedure, provider and item
the table allows. The health insurer's copy is the resident's qualification (the worlds' one rule,
:func:`twin.services.eligibility.worlds.world_qualification`, made into the copy by
:func:`twin.services.linkage.record_insurance` as in the served worlds), so the messages carry the insurer, insured
number and dates as they would, and none of them is a My Number. The aggregate year's downtime of the network
(its own and its intermediate servers', from replication 0) is put into the real network as outages, so the
queries that fall in it are refused as ``unavailable`` by the service's own rule; that count must equal the
sample's queries inside the aggregate downtime (a mismatch is a violation).

Every message that crosses between bodies (query, provide, supply, answer) passes a tap that looks for a My
Number in any field (:func:`twin.services.linkage.my_number_fields`, with the sample's numbers known): the
issue 17 invariant, checked on every message of the failover run, not only in the service tests. A message
that holds one is a violation, reported by message type and field, never with the number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.models.failover.engine import ServiceYear
from twin.models.failover.intervals import Intervals
from twin.models.failover.params import Params
from twin.services.eligibility import PersonFacts, Qualification
from twin.services.eligibility.worlds import world_qualification
from twin.services.linkage import (
    BodyKind,
    InformationNetwork,
    Item,
    Linkage,
    Message,
    Refusal,
    Refused,
    TableResidentCodes,
    my_number_fields,
    record_insurance,
)
from twin.services.linkage.table import RULES
from twin.services.registry import generate_my_numbers
from twin.services.store import MemoryStore

JST = dt.timezone(dt.timedelta(hours=9))
#: the sample's bodies by kind: four town halls (Chiyoda, Osaka, Sapporo, Fukuoka) and one of each other kind
BODIES: dict[BodyKind, tuple[str, ...]] = {
    BodyKind.MUNICIPALITY: ("muni:131016", "muni:271004", "muni:011002", "muni:401307"),
    BodyKind.PENSION: ("jps",),
    BodyKind.INSURER: ("kyokai",),
    BodyKind.ACCOUNT_REGISTER: ("digital",),
    BodyKind.PORTAL: ("portal",),
}


@dataclass
class SampleResult:
    """What the sample's queries and messages went through."""

    queries: int = 0
    before_network: int = 0  # sampled times before any rule was in force (the network began 2017-07-18): not sent
    answered: int = 0
    refused_unavailable: int = 0
    refused_other: int = 0
    in_aggregate_downtime: int = 0  # queries at a time the aggregate year had the network down
    messages_checked: int = 0
    messages_by_type: dict[str, int] = field(default_factory=dict)
    messages_with_my_number: int = 0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "violations"}
        out["messages_by_type"] = dict(sorted(self.messages_by_type.items()))
        out["violations"] = len(self.violations)
        out["violation_examples"] = self.violations[:5]
        return out


class SampleWorld:
    """The real network over a few bodies and ``people`` residents, with every message checked."""

    def __init__(self, people: int, rng: np.random.Generator, refreshed: dt.datetime) -> None:
        self.numbers = [f"{n:012d}" for n in generate_my_numbers(rng, people)]
        self.known = frozenset(self.numbers)
        codes = TableResidentCodes({n: 10**9 + i for i, n in enumerate(self.numbers)})
        self.link = Linkage.build(MemoryStore(), codes, rng.bytes(32))
        self.network: InformationNetwork = self.link.network
        self.result = SampleResult()
        self.network.taps.append(self._check)
        self._seed(refreshed)

    def _seed(self, refreshed: dt.datetime) -> None:
        net = self.network
        fy = dt.date(refreshed.year if refreshed.month >= 4 else refreshed.year - 1, 4, 1)
        for i, n in enumerate(self.numbers):
            town = net.agency(BODIES[BodyKind.MUNICIPALITY][i % 4])
            town.record(n, Item.LOCAL_TAX_INCOME, ("assessed", 1_500_000 + 10_000 * (i % 400), i % 5 != 0), fy)
            town.record(n, Item.RESIDENT_RECORD, (town.body, "世帯主" if i % 2 == 0 else "世帯員"), fy)
            town.record(n, Item.CHILD_ALLOWANCE, (i % 3 == 0, i % 3), fy)
            town.record(n, Item.PUBLIC_ASSISTANCE, i % 17 == 0, fy)
            net.agency("jps").record(n, Item.PENSION, ("老齢基礎年金", 780_000), fy)
            record_insurance(net, n, [self.qualification(i, refreshed.date())])
            if i % 3 == 0:
                net.agency("digital").publish(n, Item.BENEFIT_ACCOUNT, ("0001", "123", "普通", f"{i:07d}"), fy,
                                              refreshed)  # fmt: skip
        for body in (*BODIES[BodyKind.MUNICIPALITY], "jps", "kyokai"):
            net.agency(body).refresh(refreshed)

    @staticmethod
    def qualification(i: int, epoch: dt.date) -> Qualification:
        """Resident ``i``'s health insurance with 協会けんぽ, by the worlds' one rule in a world set at ``epoch`` (the
        day the copies were refreshed): insured number 70000 + i, never her My Number; from six years before the
        epoch, every 7th ended a year and a day before it. The insurer's record of her (a name label, a birth date, a
        sex) is not read by the sample."""
        facts = PersonFacts(f"住民\u3000{i}", dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28), "12"[i % 2])
        return world_qualification(i, facts, f"resident-{i}", epoch)

    def _check(self, message: Message) -> None:
        r = self.result
        r.messages_checked += 1
        kind = type(message).__name__
        r.messages_by_type[kind] = r.messages_by_type.get(kind, 0) + 1
        bad = my_number_fields(message, self.known)
        if bad:
            r.messages_with_my_number += 1
            r.violations.append(f"a My Number in {kind} field(s) {', '.join(bad)}")

    def query(self, rng: np.random.Generator, at: dt.datetime) -> Refusal | object | None:
        """One lawful query at ``at``: a rule in force, a body of each side's kind, a resident, an item (None: no
        rule in force yet)."""
        rules = [r for r in RULES if r.valid_from <= at.date()]
        if not rules:
            return None
        rule = rules[int(rng.integers(len(rules)))]
        requester = _pick(rng, BODIES[rule.requester])
        provider = _pick(rng, [b for b in BODIES[rule.provider] if b != requester] or BODIES[rule.provider])
        item = sorted(rule.items)[int(rng.integers(len(rule.items)))]
        number = self.numbers[int(rng.integers(len(self.numbers)))]
        code = self.network.agency(requester).code_for(number)  # inside the requester: its own address book
        return self.network.query(requester, code, rule.procedure, provider, item.value, at)


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def carrier(params: Params) -> str | None:
    """The service that carries the linkage queries (the 'linkage' profile), if any."""
    return next((n for n, s in params.services.items() if "linkage" in s.carries), None)


def query_hours(linkage: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` times (hours from 00:00 of the first day), drawn in proportion to the hourly linkage queries."""
    total = float(linkage.sum())
    if n <= 0 or total <= 0:
        return np.zeros(0)
    hours = rng.choice(linkage.size, size=n, p=linkage / total)
    return np.sort(hours + rng.random(n))


def run_sample(p: Params, start: dt.date, year: dict[str, ServiceYear], linkage: np.ndarray,
               rng: np.random.Generator, world: SampleWorld | None = None) -> SampleResult | None:
    """The sample's queries through the real network with the aggregate year's outages; None when the topology
    carries no linkage or the sample is off. ``world``: a prepared world (the tests corrupt one)."""
    name = carrier(p)
    n = p.linkage_sample.queries
    if name is None or n == 0:
        return None
    t0 = dt.datetime.combine(start, dt.time(), JST)
    times = query_hours(linkage, n, rng)
    world = world or SampleWorld(p.linkage_sample.people, rng, t0 - dt.timedelta(hours=22))
    down: Intervals = year[name].down
    for s, e in zip(down.starts.tolist(), down.ends.tolist(), strict=True):
        world.network.add_outage("network", t0 + dt.timedelta(hours=s), t0 + dt.timedelta(hours=e))
    r = world.result
    first_rule = min(rule.valid_from for rule in RULES)
    sent = times[np.array([(t0 + dt.timedelta(hours=h)).date() >= first_rule for h in times.tolist()], dtype=bool)]
    if len(down) and sent.size:
        inside = np.searchsorted(down.starts, sent, side="right") - 1
        r.in_aggregate_downtime = int(np.count_nonzero((inside >= 0) & (sent < down.ends[np.maximum(inside, 0)])))
    for h in times.tolist():
        answer = world.query(rng, t0 + dt.timedelta(hours=h))
        if answer is None:
            r.before_network += 1
            continue
        r.queries += 1
        if not isinstance(answer, Refusal):
            r.answered += 1
        elif answer.reason is Refused.UNAVAILABLE:
            r.refused_unavailable += 1
        else:
            r.refused_other += 1
            r.violations.append(f"a lawful query was refused: {answer.reason.value}")
    if r.refused_unavailable != r.in_aggregate_downtime:
        r.violations.append(f"{r.refused_unavailable} queries refused as unavailable, but {r.in_aggregate_downtime} "
                            f"fell in {name}'s downtime in the aggregate year")
    return r
