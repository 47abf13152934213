"""A card patient is confirmed online only when both requests the reception sends are answered.

For a patient who shows the My Number card, the reception sends two requests: the eligibility lookup and the
OCSP request for the card certificate's status. Each OCSP request is linked to the card lookup of its patient
(``Day.lookup``); the patient is confirmed online when both are answered, and when either is given up for good
the online check has failed, and the facility's decision says what happens next (confirmed another way, or
not). Here the OCSP responder is slow (0.4 s a request on one worker) while the eligibility pool has eight
workers: no lookup fails, but about half the OCSP requests do. Before the join those patients were counted as
confirmed online; now they are counted as failed checks, the same at agent and at aggregate fidelity,
facility by facility, and the same when the day is played by the SimPy reference.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest

from twin.models.capacity.params import FACILITY_TYPES, Params
from twin.models.capacity.requests import (
    LOOKUP_CLASSES,
    Day,
    DayResult,
    build_day,
    checks,
    classes,
    fallback,
    run_day,
    service_means,
    stations,
)
from twin.sim import Exponential
from twin.sim.clients import OK, reference, simulate

SMALL = {"hospital": 80, "clinic": 900, "dental": 700, "pharmacy": 600}  # about 1:100 of the facilities
VOLUME = {"hospital": 12.07e4, "clinic": 86.1e4, "dental": 14.2e4, "pharmacy": 92.6e4}  # and of the checks
DAY = dt.date(2024, 7, 8)


def _params(ocsp_seconds: float = 0.4, revocation: dict | None = None, **req) -> Params:
    """08:40-09:40 with the 09:00 openings; eight eligibility workers, one OCSP worker at ``ocsp_seconds``
    a request (a degraded responder); one retry; half the clinics do not fall back."""
    return Params(
        facilities={"count": SMALL, "checks_reference_month": VOLUME},
        demand={"portal_logins_per_day": 10_000, "platform_logins_per_link_per_day": 5_000 / 20_000_000,
                "linkage_queries_per_business_day": 10_000},
        pools={"eligibility": {"servers": 8}, "ocsp": {"servers": 1}, "portal": {"servers": 1}, "ca": {"servers": 1}},
        service_times={"ocsp_cached": ocsp_seconds, "ocsp_fresh": ocsp_seconds}, revocation=revocation or {},
        requests={"enabled": True, "knee": False, "window": ["08:40", "09:40"], "timeout_seconds": 2.0,
                  "tls_seconds": 0.03, "database_seconds": 0.0005, "database": {"servers": 4},
                  "retry": {"policy": "immediate", "max_retries": 1}, "fallback": {"share": {"clinic": 0.5}},
                  **req})


@pytest.fixture(scope="module")
def slow_ocsp() -> DayResult:
    return run_day(_params(), DAY, np.random.default_rng(2), agents=False, seed=3)


def _lookups_of_failed_ocsp(r: DayResult) -> np.ndarray:
    i = r.result.classes.index("ocsp_reception")
    link = r.day.lookup["ocsp_reception"][r.result.failed_requests[i]]
    return np.unique(link[link >= 0])


def _surge_day() -> Day:
    """A day with a surge from 09:00 to 09:10 (minutes 20-30 of the window) and a CDN answering half the status
    requests."""
    surge = {"start": "09:00", "minutes": 10, "factor": 2.5}
    return build_day(_params(revocation={"cdn_hit_rate": 0.5}, surge=surge), DAY, np.random.default_rng(2),
                     agents=False, seed=3)  # fmt: skip


def test_each_ocsp_request_is_linked_to_the_card_lookup_of_its_patient() -> None:
    """Same facility, same send time, same hop, one OCSP request per lookup at most. A surge's extra OCSP requests
    are copies of other requests (load, no patient's) and join no lookup; the surge does not move the others'
    links."""
    d = _surge_day()
    link = d.lookup["ocsp_reception"]
    mine = link >= 0
    card = "eligibility_card"
    assert np.array_equal(d.sends["ocsp_reception"][mine], d.sends[card][link[mine]])
    assert np.array_equal(d.facility["ocsp_reception"][mine], d.facility[card][link[mine]])
    assert np.array_equal(d.hops["ocsp_reception"][mine], d.hops[card][link[mine]])
    assert len(np.unique(link[mine])) == mine.sum()
    # the extras were all sent in the surge
    t = d.sends["ocsp_reception"][~mine]
    assert (~mine).sum() > 100 and (t >= 20 * 60).all() and (t < 30 * 60).all()


def test_wiring_with_half_the_status_requests_answered_by_the_cdn_about_half_the_card_lookups_have_one() -> None:
    """The CDN's hit rate is the scenario's (0.5): this checks that it is applied once per card lookup outside the
    surge, within four binomial standard deviations."""
    d = _surge_day()
    card, mine = "eligibility_card", d.lookup["ocsp_reception"] >= 0
    s = d.sends[card]
    outside = (s < 20 * 60) | (s >= 30 * 60)
    n, got = int(outside.sum()), int((mine & ((d.sends["ocsp_reception"] < 20 * 60)
                                              | (d.sends["ocsp_reception"] >= 30 * 60))).sum())
    assert abs(got - n / 2) < 4 * np.sqrt(n / 4), (got, n)


def test_a_patient_whose_ocsp_request_failed_is_not_confirmed_online(slow_ocsp: DayResult) -> None:
    """No lookup fails, about half the card patients' OCSP requests do: those patients are the failed online
    checks, by the type of their facility, confirmed another way where the facility falls back (half the
    clinics do not). Before the join every one of them was counted confirmed online, and nobody given up."""
    r, res = slow_ocsp, slow_ocsp.result
    assert all(len(res.failed_requests[res.classes.index(c)]) == 0 for c in LOOKUP_CLASSES)
    lost = _lookups_of_failed_ocsp(r)
    assert len(lost) > 500
    fb = fallback(r.day, res)
    kind = r.day.facility_kind[r.day.facility["eligibility_card"][lost]]
    assert [fb["confirmed_by_fallback"][t] + fb["unconfirmed"][t] for t in FACILITY_TYPES] == \
        np.bincount(kind, minlength=4).tolist()
    falls = r.day.decisions.falls_back[r.day.facility["eligibility_card"][lost]]
    assert sum(fb["unconfirmed"].values()) == int((~falls).sum()) > 0
    assert [fb["unconfirmed"][t] for t in ("hospital", "dental", "pharmacy")] == [0, 0, 0]
    # every patient is in one column or waiting at the window's end; the patients confirmed online are those whose
    # lookup and OCSP request were both answered
    ch = checks(r.day, res)
    card = ch["eligibility_card"]
    assert not (card["online"] & card["given_up"]).any()
    i = res.classes.index("ocsp_reception")
    answered = np.zeros(len(r.day.lookup["ocsp_reception"]), dtype=bool)
    answered[res.answered_requests[i]] = True
    with_ocsp = r.day.lookup["ocsp_reception"][answered]
    lookup_ok = res.answered_requests[res.classes.index("eligibility_card")]
    assert np.array_equal(np.flatnonzero(card["online"]), np.intersect1d(lookup_ok, with_ocsp))
    patients = sum(len(r.day.sends[c]) for c in LOOKUP_CLASSES)
    counted = sum(sum(fb[k].values()) for k in ("confirmed_online", "confirmed_by_fallback", "unconfirmed"))
    assert patients - 50 <= counted <= patients


def test_without_ocsp_failures_the_join_changes_no_count() -> None:
    """A responder at 0.2 s keeps up: no OCSP request fails, and every patient is confirmed online, as before."""
    r = run_day(_params(ocsp_seconds=0.2), DAY, np.random.default_rng(2), agents=False, seed=3)
    assert r.result.failed.sum() == 0
    fb = fallback(r.day, r.result)
    assert sum(fb["confirmed_online"].values()) == sum(len(r.day.sends[c]) for c in LOOKUP_CLASSES)
    assert sum(fb["confirmed_by_fallback"].values()) + sum(fb["unconfirmed"].values()) == 0


def test_agent_and_aggregate_fidelity_join_the_same_patients_facility_by_facility(slow_ocsp: DayResult) -> None:
    a = run_day(_params(), DAY, np.random.default_rng(2), agents=True, seed=3)
    c = slow_ocsp
    ca, cc = checks(a.day, a.result), checks(c.day, c.result)
    n = len(c.day.facility_kind)
    for cls in LOOKUP_CLASSES:
        for what in ("online", "given_up"):
            per_a = np.bincount(a.day.facility[cls][ca[cls][what]], minlength=n)
            per_c = np.bincount(c.day.facility[cls][cc[cls][what]], minlength=n)
            assert np.array_equal(per_a, per_c), (cls, what)
    assert cc["eligibility_card"]["given_up"].sum() > 500
    assert fallback(a.day, a.result) == fallback(c.day, c.result)


def _outcomes_of(attempts: dict[str, np.ndarray], cl: list) -> SimpleNamespace:
    """Answered and given-up requests per class from per-attempt arrays (no budget: a request is given up when
    its last allowed attempt failed)."""
    answered, failed = [], []
    for ci, c in enumerate(cl):
        m = attempts["cls"] == ci
        req, k, ok = attempts["req"][m], attempts["k"][m], attempts["outcome"][m] == OK
        answered.append(np.unique(req[ok]))
        last = ~ok & (k == c.retries_of(req))
        failed.append(np.unique(req[last]))
    return SimpleNamespace(classes=tuple(c.name for c in cl), answered_requests=tuple(answered),
                           failed_requests=tuple(failed))


@pytest.mark.slow
def test_the_joined_counts_are_the_simpy_references() -> None:
    """09:00-09:10, the openings on the slow responder: the batch run's joined counts are those of the per-request
    SimPy run on the same service times and jitter (and the batch run's answered and given-up requests are
    those its own attempts show)."""
    p = _params(window=["09:00", "09:10"])
    rng = np.random.default_rng(1)
    day = build_day(p, DAY, rng, agents=False, seed=1)
    cl = classes(p, day)
    means = service_means(p)
    for c in cl:
        n, k = len(c.sends), c.most_retries + 1
        c.service_table = np.stack([rng.exponential(means["database"] if s == "database" else
                                                    means.get(c.name, means["ocsp"]), (n, k)) for s in c.route], 2)
        c.jitter_table = rng.random((n, k))
    horizon = 600.0
    got = simulate(cl, stations(p, rng), horizon, rng=rng, keep=True)
    assert got.deferred == 0  # the batch run is exact then (clients.py)
    ref = reference(cl, {s: (b.servers, Exponential(1.0)) for s, b in stations(p, rng).items()}, horizon, rng=rng)
    mine = _outcomes_of(got.attempts, cl)
    for a, b in zip(("answered_requests", "failed_requests"), ("answered_requests", "failed_requests"), strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(getattr(got, a), getattr(mine, b), strict=True)), a
    fb = fallback(day, got)
    assert fb == fallback(day, _outcomes_of(ref, cl))
    assert sum(fb["confirmed_by_fallback"].values()) + sum(fb["unconfirmed"].values()) > 100
