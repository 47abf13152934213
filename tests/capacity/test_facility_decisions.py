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
import json

import numpy as np
import pytest
from capacity_digest import digest

from twin.metrics import Metrics
from twin.models.capacity.decisions import decide_retries, decision_draws
from twin.models.capacity.facilities import FacilityModel, build_facilities
from twin.models.capacity.params import FACILITY_TYPES, Params
from twin.models.capacity.report_requests import add_metrics, headline, sections
from twin.models.capacity.requests import LOOKUP_CLASSES, build_day, classes, fallback, play, run_day

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


def test_wiring_the_rule_follows_the_type(model: FacilityModel) -> None:
    """Wiring: the limits are the scenario's own (the policy's where a type has none); the fallback shares are
    drawn (binomial bounds). What the decisions do to a day is tested below."""
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


# --- the day they drive ---------------------------------------------------------------------------------------------

#: the request-level day of _params() (and its two other retry policies) with every request at the class policy's
#: limit, as before the facilities decided: sha256 of its tallies and queues. Pinned at commit 1c4f403; pinned again
#: when a card lookup began to ask for its certificate's status first (one request through the OCSP pool, the
#: eligibility pool and the database, instead of an OCSP request of its own beside the lookup): the same 3,422 card
#: and 28,091 number lookups in the immediate day, 33,457 first attempts instead of 36,970: the 3,475 stand-alone
#: OCSP requests are gone (1,344 of them were the surge's copies of OCSP requests, paired with no lookup, while the
#: surge's 1,291 extra card lookups had none); now each of the 3,422 card lookups asks for its status first
BEFORE = {
    "immediate": "87908d3a58dd0d3732c4a7998869a0a5f6c9f0f411c7d9e4691d5aef3c4650ef",
    "backoff_jitter": "1d392616480e41492864e1c4cac8599edd049a5920f6e63f270729b9525dc2ad",
    "budget": "0a8e1eaaad5d68d63ea9a7f237f2c477a1ca462c48747b777644e5d920b99e26",
}
POLICIES = {"immediate": {"policy": "immediate", "max_retries": 3},
            "backoff_jitter": {"policy": "backoff_jitter", "max_retries": 2, "base_seconds": 0.5},
            "budget": {"policy": "backoff_jitter", "max_retries": 3, "base_seconds": 0.5, "budget": 0.1}}


@pytest.mark.parametrize("policy", list(POLICIES))
def test_the_default_rule_gives_the_day_the_class_policy_gave(policy: str) -> None:
    p = _params(**POLICIES[policy])
    r = run_day(p, DAY, np.random.default_rng(2), agents=False, seed=3)
    assert digest(r.result) == BEFORE[policy]
    # and it is the day played without the facilities' decisions (every request the class policy's limit)
    rng = np.random.default_rng(2)
    d = build_day(p, DAY, rng, agents=False, seed=3)
    d.decisions = None
    assert all(c.max_retries is None for c in classes(p, d))
    assert digest(play(p, d, rng)) == BEFORE[policy]
    assert r.result.retries.sum() > 1000 and r.result.failed.sum() > 1000  # the retries mattered


@pytest.mark.parametrize("rule", [{}, RULE])
def test_agent_and_aggregate_fidelity_play_the_same_day(rule: dict) -> None:
    p = _params(rule)
    a = run_day(p, DAY, np.random.default_rng(2), agents=True, seed=3)
    c = run_day(p, DAY, np.random.default_rng(2), agents=False, seed=3)
    assert np.array_equal(a.day.decisions.max_retries, c.day.decisions.max_retries)
    assert np.array_equal(a.day.decisions.falls_back, c.day.decisions.falls_back)
    assert digest(a.result) == digest(c.result)
    assert json.dumps(headline(a), sort_keys=True) == json.dumps(headline(c), sort_keys=True)  # NaN as NaN


@pytest.fixture(scope="module")
def storm() -> dict:
    """The surge with the policy's three retries everywhere, and with receptions that give up at once."""
    out = {}
    for name, rule in (("policy", {}), ("give_up", {"max_retries": dict.fromkeys(FACILITY_TYPES, 0)}),
                       ("half_clinics", {"max_retries": dict.fromkeys(FACILITY_TYPES, 0), "share": {"clinic": 0.5}})):
        out[name] = run_day(_params(rule), DAY, np.random.default_rng(2), agents=False, seed=3)
    return out


def test_receptions_that_give_up_sooner_end_the_retry_storm(storm: dict) -> None:
    keep, give_up = storm["policy"], storm["give_up"]
    k, g = headline(keep), headline(give_up)
    assert g["first_attempts"] == k["first_attempts"]  # the same patients and requests
    # the receptions' requests are not retried at all: the only retries left are the portal's, private and linkage
    rows = [i for i, c in enumerate(give_up.result.classes) if c in LOOKUP_CLASSES]
    assert give_up.result.retries[rows].sum() == 0
    assert g["attempts"] < 0.5 * k["attempts"]
    # the pool comes back after the surge instead of staying down
    assert not keep.recovery["recovered"] and give_up.recovery["recovered"]
    assert give_up.recovery["goodput_share_after_surge"] > 0.9 > 0.3 > keep.recovery["goodput_share_after_surge"]


def test_patients_whose_lookup_was_given_up_are_counted_by_how_they_were_confirmed(storm: dict) -> None:
    """A lookup given up for good is a patient given up, whether its attempts failed at the card's status check or
    at the lookup (tests/capacity/test_ocsp_join.py)."""
    for name, r in storm.items():
        res = r.result
        lookups = [i for i, c in enumerate(res.classes) if c in LOOKUP_CLASSES]
        given_up = int(res.failed[lookups].sum())
        fb = fallback(r.day, res)
        assert given_up > 1000, name  # the surge made receptions give up
        assert sum(fb["confirmed_by_fallback"].values()) + sum(fb["unconfirmed"].values()) == given_up, name
        # by type: the facility of each lookup given up, by the type the table gives it
        fac = np.concatenate([r.day.facility[res.classes[i]][res.failed_requests[i]] for i in lookups])
        assert [fb["confirmed_by_fallback"][t] + fb["unconfirmed"][t] for t in FACILITY_TYPES] == \
            np.bincount(r.day.facility_kind[fac], minlength=4).tolist()
    # every facility falls back by default: nobody is left unconfirmed
    assert sum(fallback(storm["give_up"].day, storm["give_up"].result)["unconfirmed"].values()) == 0
    # half the clinics do not: about half the clinics' patients given up are left unconfirmed, nobody else's
    fb = fallback(storm["half_clinics"].day, storm["half_clinics"].result)
    assert [fb["unconfirmed"][t] for t in ("hospital", "dental", "pharmacy")] == [0, 0, 0]
    clinic = fb["unconfirmed"]["clinic"] + fb["confirmed_by_fallback"]["clinic"]
    assert 0.3 < fb["unconfirmed"]["clinic"] / clinic < 0.7


def test_the_report_lists_the_patients_confirmed_another_way(storm: dict) -> None:
    m = Metrics()
    add_metrics(m, "give_up", storm["half_clinics"])
    df = m.frame()
    fb = fallback(storm["half_clinics"].day, storm["half_clinics"].result)
    rows = df[df.metric == "patients_confirmed_by_fallback"]
    assert sorted(rows.value.tolist()) == sorted(float(v) for v in fb["confirmed_by_fallback"].values())
    h = headline(storm["half_clinics"])
    assert h["confirmed_by_fallback"] == fb["confirmed_by_fallback"] and h["unconfirmed"] == fb["unconfirmed"]
    (sec,) = sections({"policy": storm["policy"], "half_clinics": storm["half_clinics"]})
    table = next(b for b in sec.blocks if getattr(b, "title", "").startswith("Patients whose online check"))
    assert [row[0] for row in table.rows] == ["policy", "half_clinics"]
    assert table.rows[1][-1] == sum(fb["unconfirmed"].values())
    assert table.rows[1][1] == sum(fb["confirmed_online"].values()) > 0
