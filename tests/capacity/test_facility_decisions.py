"""The receptions decide when to give up on the online check, and whether to confirm another way.

One rule (:func:`twin.models.capacity.decisions.decide_retries`) is applied by the Mesa agents, one
facility at a time, and by the aggregate path to the facility columns: on the same facilities they must
decide the same, row by row, and the request-level day they drive must be the same day. With the
default rule (every facility retries as the retry policy says) the day is the one the class policy gave
before facilities decided, byte for byte. With fewer retries the surge's retry storm shrinks, and the
patients whose lookups were given up are counted as confirmed another way, or not, by facility type.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.capacity.decisions import decide_retries, decision_draws
from twin.models.capacity.facilities import FacilityModel, build_facilities
from twin.models.capacity.params import FACILITY_TYPES, Params
from twin.models.capacity.requests import build_day

SMALL = {"hospital": 80, "clinic": 900, "dental": 700, "pharmacy": 600}  # about 1:100 of the facilities
VOLUME = {"hospital": 12.07e4, "clinic": 86.1e4, "dental": 14.2e4, "pharmacy": 92.6e4}  # and of the checks
DAY = dt.date(2024, 7, 8)


def _params(fallback: dict | None = None, **retry) -> Params:
    """One worker per pool, half busy at 08:40 and pushed over by the 09:00 openings and a surge at 09:00:
    with three immediate retries the eligibility pool stays down (a metastable failure)."""
    return Params(
        facilities={"count": SMALL, "checks_reference_month": VOLUME},
        demand={"portal_logins_per_day": 10_000, "platform_logins_per_link_per_day": 5_000 / 20_000_000,
                "linkage_queries_per_business_day": 10_000},
        pools={"eligibility": {"servers": 1}, "ocsp": {"servers": 1}, "portal": {"servers": 1}, "ca": {"servers": 1}},
        requests={"enabled": True, "knee": False, "window": ["08:40", "09:40"], "timeout_seconds": 2.0,
                  "tls_seconds": 0.03, "database_seconds": 0.0005, "database": {"servers": 4},
                  "retry": retry or {"policy": "immediate", "max_retries": 3},
                  "surge": {"start": "09:00", "minutes": 10, "factor": 2.5},
                  "fallback": fallback or {}})


# --- the rule, by the agents and by the columns ----------------------------------------------------------------------

RULE = {"max_retries": {"hospital": 5, "clinic": 1, "pharmacy": 0}, "share": {"clinic": 0.6, "dental": 0.3}}


@pytest.fixture(scope="module")
def model() -> FacilityModel:
    p = _params(RULE)
    return FacilityModel(p, build_facilities(p, np.random.default_rng(3)), seed=11)


def test_mesa_agents_decide_what_the_columns_decide(model: FacilityModel) -> None:
    agents = model.decide_retries()
    cols = decide_retries(model.table.kind, decision_draws(11, len(model.table)), model.params)
    assert np.array_equal(agents.max_retries, cols.max_retries)
    assert np.array_equal(agents.falls_back, cols.falls_back)
    # and the agents' own attributes, read through the AgentSet, are those decisions
    rows = np.array(model.agents.get("row"))
    assert np.array_equal(np.array(model.agents.get("max_retries")), cols.max_retries[rows])
    by_type = model.falling_back_by_type()  # groupby
    assert [by_type[t] for t in FACILITY_TYPES] == np.bincount(model.table.kind[cols.falls_back], minlength=4).tolist()


def test_the_rule_follows_the_type(model: FacilityModel) -> None:
    d = model.decide_retries()
    kind = model.table.kind
    # a type without its own limit keeps the retry policy's (3); the others their own
    assert [set(d.max_retries[kind == k].tolist()) for k in range(4)] == [{5}, {1}, {3}, {0}]
    # a share of 1 falls back always; otherwise the facility's draw against its type's share
    assert d.falls_back[kind == 0].all() and d.falls_back[kind == 3].all()
    for k, share in ((1, 0.6), (2, 0.3)):
        n = int((kind == k).sum())
        got = int(d.falls_back[kind == k].sum())
        assert abs(got - share * n) < 4 * np.sqrt(n * share * (1 - share)), FACILITY_TYPES[k]


def test_the_order_the_agents_decide_in_changes_nothing(model: FacilityModel) -> None:
    """shuffle_do draws a new order each time from the Model's stream; every facility reads its own draw."""
    first = model.decide_retries()
    order = [a.row for a in model.agents.shuffle()]
    again = model.decide_retries()
    assert order != sorted(order)
    assert np.array_equal(first.falls_back, again.falls_back)
    assert np.array_equal(first.max_retries, again.max_retries)


def test_the_decisions_draw_from_their_own_stream() -> None:
    """The decisions' draws come from the run's seed and move no other draw: the day's patients and sends are
    the same whatever the facilities decide."""
    a = build_day(_params(), DAY, np.random.default_rng(2), agents=False, seed=3)
    b = build_day(_params(RULE), DAY, np.random.default_rng(2), agents=False, seed=3)
    assert all(np.array_equal(a.sends[k], b.sends[k]) for k in a.sends)
    assert all(np.array_equal(a.facility[k], b.facility[k]) for k in a.facility)
    assert not np.array_equal(a.decisions.max_retries, b.decisions.max_retries)
    assert np.array_equal(decision_draws(3, 10), decision_draws(3, 10))
    assert not np.array_equal(decision_draws(3, 10), decision_draws(4, 10))


def test_bad_decision_parameters_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"requests.fallback.max_retries.clinic\n.*is not in \[0, 20\]"):
        _params({"max_retries": {"clinic": 21}})
    with pytest.raises(ValueError, match=r"requests.fallback.share.clinic\n.*is not in \[0, 1\]"):
        _params({"share": {"clinic": 1.5}})
    with pytest.raises(ValueError, match=r"requests.fallback.share.vet.\[key\]\n.*'hospital', 'clinic', 'dental'"):
        _params({"share": {"vet": 0.5}})
