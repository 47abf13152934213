"""A card lookup asks for the card certificate's status first, and looks the patient up only when it is answered.

For a patient who shows the My Number card, the reception sends one request with the card's certificate (as
:meth:`twin.services.eligibility.EligibilityService.check_by_card` takes it): the centre asks the OCSP responder
at J-LIS for the certificate's status, and only when the status is answered, while the reception still waits,
looks the qualification up at the eligibility pool and the database. A status check that fails ends the attempt;
the reception tries the whole request again by its limit. Here the OCSP responder is slow (0.4 s a request on one
worker) while the eligibility pool has eight workers: no lookup is late at the eligibility pool, but about half the
card patients' status checks fail for good. Those patients send nothing to the eligibility pool (before this route
each still sent its lookup there, and it was answered), and they are the failed checks, the same at agent and at
aggregate fidelity, facility by facility, and the same when the day is played by the SimPy reference.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from capacity_digest import digest

from twin.models.capacity.params import FACILITY_TYPES, Params
from twin.models.capacity.requests import (
    LOOKUP_CLASSES,
    STATUS_CHECKS,
    Day,
    DayResult,
    build_day,
    checks,
    classes,
    fallback,
    play,
    pool_day,
    run_day,
    service_means,
    stage_means,
    stations,
)
from twin.sim import Exponential
from twin.sim.clients import OK, reference, simulate

SMALL = {"hospital": 80, "clinic": 900, "dental": 700, "pharmacy": 600}  # about 1:100 of the facilities
VOLUME = {"hospital": 12.07e4, "clinic": 86.1e4, "dental": 14.2e4, "pharmacy": 92.6e4}  # and of the checks
DAY = dt.date(2024, 7, 8)
CARD, NUMBER = "eligibility_card", "eligibility_number"


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


def _played(p: Params, agents: bool = False) -> tuple[Day, SimpleNamespace]:
    """The day of ``p`` played as :func:`run_day` plays it, with every attempt kept."""
    rng = np.random.default_rng(2)
    d = build_day(p, DAY, rng, agents=agents, seed=3)
    w0, w1 = (int(x[:2]) * 3600 + int(x[3:]) * 60 for x in p.requests.window)
    return d, simulate(classes(p, d), stations(p, rng), float(w1 - w0), rng=rng, keep=True)


@pytest.fixture(scope="module")
def slow_kept() -> tuple[Day, SimpleNamespace]:
    return _played(_params())


def _surge_day(cdn: float = 0.5) -> Day:
    """A day with a surge from 09:00 to 09:10 (minutes 20-30 of the window) and a CDN answering ``cdn`` of the
    status requests."""
    surge = {"start": "09:00", "minutes": 10, "factor": 2.5}
    return build_day(_params(revocation={"cdn_hit_rate": cdn}, surge=surge), DAY, np.random.default_rng(2),
                     agents=False, seed=3)  # fmt: skip


# --- the route --------------------------------------------------------------------------------------------------------

def test_a_card_lookup_asks_for_its_status_first_and_a_lookup_by_number_does_not() -> None:
    """The card lookups whose status the CDN does not answer start at the OCSP pool, and the OCSP pool is a gate;
    the others, and the lookups by insured number, start at the eligibility pool. No request of the day is a
    status check alone."""
    p = _params(revocation={"cdn_hit_rate": 0.5})
    d = build_day(p, DAY, np.random.default_rng(2), agents=False, seed=3)
    cl = {c.name: c for c in classes(p, d)}
    assert STATUS_CHECKS not in cl and all(c.route != ("ocsp",) or c.name.startswith("ocsp_") for c in cl.values())
    card, number = cl[CARD], cl[NUMBER]
    assert card.route == ("ocsp", "eligibility", "database") and card.gates == (0,)
    assert np.array_equal(card.first_stage, np.where(d.status[CARD], 0, 1))
    assert 0 < d.status[CARD].sum() < len(d.status[CARD])
    assert number.route == ("eligibility", "database") and number.first_stage is None and number.gates == ()
    means = service_means(p)
    assert stage_means(means, CARD, card.route) == (means["ocsp"], means[CARD], means["database"])


def test_the_ocsp_pool_sees_the_status_checks_the_cdn_does_not_answer() -> None:
    """Half the card lookups' status checks are answered by the CDN: the OCSP pool's arrivals are the attempts of
    the card lookups whose status it is asked for, and the private verifiers' (a responder that keeps up)."""
    d, r = _played(_params(ocsp_seconds=0.2, revocation={"cdn_hit_rate": 0.5}))
    a = r.attempts
    card = a["cls"] == r.classes.index(CARD)
    asked = int(d.status[CARD][a["req"][card]].sum())
    private = int((a["cls"] == r.classes.index("ocsp_private")).sum())
    assert r.arrivals["ocsp"].sum() == asked + private
    # every patient's lookup reaches the eligibility pool once (nothing fails)
    assert r.failed.sum() == 0 and r.arrivals["eligibility"].sum() == sum(len(d.sends[c]) for c in LOOKUP_CLASSES)


def test_wiring_with_half_the_statuses_answered_by_the_cdn_about_half_the_card_lookups_ask_the_ocsp_pool() -> None:
    """The scenario's own cdn_hit_rate (0.5) read back from the attempts: a check of the wiring, not a result."""
    d, r = _played(_params(ocsp_seconds=0.2, revocation={"cdn_hit_rate": 0.5}))
    a = r.attempts
    card = a["cls"] == r.classes.index(CARD)
    asked = int(d.status[CARD][a["req"][card]].sum())
    assert 0.4 * card.sum() < asked < 0.6 * card.sum()


def test_the_surges_extra_card_lookups_carry_the_status_checks_of_those_they_copy() -> None:
    """A surge's extra requests are copies of requests sent in the surge: an extra card lookup carries its
    original's status check (there are no status checks standing alone, to pair with patients). With half the
    statuses answered by the CDN, the share asked of the OCSP pool is a half inside the surge (three in five card
    lookups there are extras) as outside, within four binomial standard deviations; extras that never asked, or
    always did, would make it 0.2 or 0.8."""
    d = _surge_day()
    s, asked = d.sends[CARD], d.status[CARD]
    inside = (s >= 20 * 60) & (s < 30 * 60)
    n = int(inside.sum())
    assert n > 2000
    assert abs(int(asked[inside].sum()) - n / 2) < 4 * np.sqrt(n / 4), (int(asked[inside].sum()), n)
    assert len(asked) == len(s) == len(d.facility[CARD]) == len(d.hops[CARD])


def test_without_status_checks_the_day_is_the_one_before_the_route() -> None:
    """Facilities that check a cached CRL send no status check: the card lookups' route, and the whole day, are
    what they were before the status check came first (sha256 of the tallies and queues of this day as commit
    177caa7 played it). Days with status checks change: their lookups reach the eligibility pool after the
    status check, and the service draws come in another order."""
    p = _params(crl_cached=True)
    d = build_day(p, DAY, np.random.default_rng(2), agents=False, seed=3)
    assert d.status == {}
    assert {c.name: c.route for c in classes(p, d)}[CARD] == ("eligibility", "database")
    r = play(p, d, np.random.default_rng(5))
    assert digest(r, deferred=False) == CRL_CACHED_DAY


#: the crl_cached day of the test above, played by commit 177caa7 (before the status check came first)
CRL_CACHED_DAY = "ef8fdb3843d756dc9ad8ed1a0d6e4544430338e3c0ae5db2965a5b0fa5022520"


# --- a slow responder: the failed status checks send nothing on ------------------------------------------------------

def test_a_patient_whose_status_check_failed_for_good_sends_no_lookup(slow_kept: tuple) -> None:
    """About half the card patients' requests are given up, at the status check. The eligibility pool's arrivals
    are the attempts by insured number and the card attempts whose status was answered in time (the server answers
    those, and only those: here the eligibility pool answers every one, a few too late). So the pool sees each
    patient's lookup once, less the patients whose status check failed for good: 18,458 arrivals on this day
    against 19,497 patients, 1,039 fewer. Before the route every card patient's lookup reached it (19,497
    arrivals, 583.9 busy worker-seconds; now 552.5) while its status check failed apart."""
    d, r = slow_kept
    a = r.attempts
    card, number = a["cls"] == r.classes.index(CARD), a["cls"] == r.classes.index(NUMBER)
    failed = r.failed_requests[r.classes.index(CARD)]
    assert len(failed) > 500
    assert r.failed.sum(axis=1)[r.classes.index(NUMBER)] == 0 and number.sum() == len(d.sends[NUMBER])
    looked_up = card & np.isfinite(a["response"])  # no shedding: an attempt is answered unless a gate ended it
    assert r.arrivals["eligibility"].sum() == int(number.sum()) + int(looked_up.sum())
    # each patient answered was looked up once; of those given up, only the few whose status came back at the last
    # moment were looked up (and answered too late): the others' every attempt ended at the status check
    answered = r.answered_requests[r.classes.index(CARD)]
    assert np.array_equal(np.bincount(a["req"][looked_up], minlength=len(d.sends[CARD]))[answered],
                          np.ones(len(answered), dtype=np.int64))
    late_lookups = len(np.unique(a["req"][looked_up & np.isin(a["req"], failed)]))
    assert late_lookups <= 5
    patients = sum(len(d.sends[c]) for c in LOOKUP_CLASSES)
    assert patients - r.arrivals["eligibility"].sum() == len(failed) - late_lookups
    # and their retries were retries of the status check: the OCSP pool saw every card attempt
    assert r.arrivals["ocsp"].sum() == int(card.sum()) + int((a["cls"] == r.classes.index("ocsp_private")).sum())


def test_the_patients_whose_status_check_failed_are_the_failed_checks(slow_ocsp: DayResult) -> None:
    """No patient's lookup is late at the eligibility pool; the card patients whose status check failed for good
    are the failed online checks, by the type of their facility, confirmed another way where the facility falls
    back (half the clinics do not)."""
    r, res = slow_ocsp, slow_ocsp.result
    assert len(res.failed_requests[res.classes.index(NUMBER)]) == 0
    lost = res.failed_requests[res.classes.index(CARD)]
    assert len(lost) > 500
    fb = fallback(r.day, res)
    kind = r.day.facility_kind[r.day.facility[CARD][lost]]
    assert [fb["confirmed_by_fallback"][t] + fb["unconfirmed"][t] for t in FACILITY_TYPES] == \
        np.bincount(kind, minlength=4).tolist()
    falls = r.day.decisions.falls_back[r.day.facility[CARD][lost]]
    assert sum(fb["unconfirmed"].values()) == int((~falls).sum()) > 0
    assert [fb["unconfirmed"][t] for t in ("hospital", "dental", "pharmacy")] == [0, 0, 0]
    ch = checks(r.day, res)
    assert not (ch[CARD]["online"] & ch[CARD]["given_up"]).any()
    assert np.array_equal(np.flatnonzero(ch[CARD]["online"]), res.answered_requests[res.classes.index(CARD)])
    patients = sum(len(r.day.sends[c]) for c in LOOKUP_CLASSES)
    counted = sum(sum(fb[k].values()) for k in ("confirmed_online", "confirmed_by_fallback", "unconfirmed"))
    assert patients - 50 <= counted <= patients


def test_without_ocsp_failures_every_patient_is_confirmed_online_and_looked_up_once() -> None:
    """A responder at 0.2 s keeps up: nothing fails, every patient is confirmed online, and the eligibility pool
    sees each patient's lookup once, as before the route (its bytes change: the lookups reach it after the status
    check)."""
    r = run_day(_params(ocsp_seconds=0.2), DAY, np.random.default_rng(2), agents=False, seed=3)
    assert r.result.failed.sum() == 0
    fb = fallback(r.day, r.result)
    patients = sum(len(r.day.sends[c]) for c in LOOKUP_CLASSES)
    assert sum(fb["confirmed_online"].values()) == patients == r.result.arrivals["eligibility"].sum()
    assert sum(fb["confirmed_by_fallback"].values()) + sum(fb["unconfirmed"].values()) == 0


def test_agent_and_aggregate_fidelity_route_the_same_patients_facility_by_facility(slow_ocsp: DayResult) -> None:
    a = run_day(_params(), DAY, np.random.default_rng(2), agents=True, seed=3)
    c = slow_ocsp
    ca, cc = checks(a.day, a.result), checks(c.day, c.result)
    n = len(c.day.facility_kind)
    for cls in LOOKUP_CLASSES:
        for what in ("online", "given_up"):
            per_a = np.bincount(a.day.facility[cls][ca[cls][what]], minlength=n)
            per_c = np.bincount(c.day.facility[cls][cc[cls][what]], minlength=n)
            assert np.array_equal(per_a, per_c), (cls, what)
    assert np.array_equal(a.day.status[CARD], c.day.status[CARD])
    for s in ("ocsp", "eligibility", "database"):
        assert np.array_equal(a.result.arrivals[s], c.result.arrivals[s]), s
    assert cc[CARD]["given_up"].sum() > 500
    assert fallback(a.day, a.result) == fallback(c.day, c.result)


def test_the_knee_plays_each_pool_alone() -> None:
    """For its knee the OCSP pool plays the card lookups' status checks (those the CDN does not answer) as requests
    of their own, and the eligibility pool the lookups without them."""
    d = _surge_day()
    ocsp, elig = pool_day(d, "ocsp"), pool_day(d, "eligibility")
    assert np.array_equal(ocsp.sends[STATUS_CHECKS], d.sends[CARD][d.status[CARD]])
    assert np.array_equal(ocsp.hops[STATUS_CHECKS], d.hops[CARD][d.status[CARD]])
    assert set(ocsp.sends) == {STATUS_CHECKS, "ocsp_private"} and set(elig.sends) == {CARD, NUMBER}
    p = _params(revocation={"cdn_hit_rate": 0.5})
    assert {c.name: c.route for c in classes(p, elig)}[CARD] == ("eligibility", "database")
    assert {c.name: c.route for c in classes(p, ocsp)}[STATUS_CHECKS] == ("ocsp",)


def test_the_report_counts_the_status_checks_at_the_ocsp_pool(slow_ocsp: DayResult) -> None:
    """The card lookups' status checks are no requests of the OCSP pool's own (their latency is the lookups'), but
    its arrivals count them: the per-pool table lists them beside the private verifiers' first attempts."""
    from twin.models.capacity.report_requests import headline, sections

    res, h = slow_ocsp.result, headline(slow_ocsp)
    assert h["arrivals"] == {s: int(res.arrivals[s].sum()) for s in res.arrivals}
    private = res.offered[res.classes.index("ocsp_private")].sum()
    card = res.offered[res.classes.index(CARD)].sum()
    assert h["arrivals"]["ocsp"] == private + card > h["ocsp_first_attempts"]
    (sec,) = sections({"slow": slow_ocsp})
    table = next(b for b in sec.blocks if getattr(b, "title", "").startswith("Per pool"))
    rows = {row[1]: row for row in table.rows}
    assert rows["ocsp"][-1] == h["arrivals"]["ocsp"] and rows["eligibility"][-1] == h["arrivals"]["eligibility"]


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
def test_the_routed_counts_are_the_simpy_references() -> None:
    """09:00-09:10, the openings on the slow responder: the batch run's patients by outcome are those of the
    per-request SimPy run on the same service times and jitter, attempt by attempt (and the batch run's answered
    and given-up requests are those its own attempts show)."""
    p = _params(window=["09:00", "09:10"])
    rng = np.random.default_rng(1)
    day = build_day(p, DAY, rng, agents=False, seed=1)
    cl = classes(p, day)
    means = service_means(p)
    for c in cl:
        n, k = len(c.sends), c.most_retries + 1
        c.service_table = np.stack([rng.exponential(m, (n, k)) for m in stage_means(means, c.name, c.route)], 2)
        c.jitter_table = rng.random((n, k))
    horizon = 600.0
    got = simulate(cl, stations(p, rng), horizon, rng=rng, keep=True)
    assert got.deferred == 0  # the batch run is exact then (clients.py)
    ref = reference(cl, {s: (b.servers, Exponential(1.0)) for s, b in stations(p, rng).items()}, horizon, rng=rng)
    att = got.attempts
    o = np.lexsort((att["k"], att["req"], att["cls"]))
    for f in ("cls", "req", "k", "outcome"):
        assert np.array_equal(att[f][o], ref[f]), f
    assert np.array_equal(np.isfinite(att["response"][o]), np.isfinite(ref["response"]))  # the gate ended the same
    mine = _outcomes_of(got.attempts, cl)
    for a, b in zip(("answered_requests", "failed_requests"), ("answered_requests", "failed_requests"), strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(getattr(got, a), getattr(mine, b), strict=True)), a
    fb = fallback(day, got)
    assert fb == fallback(day, _outcomes_of(ref, cl))
    assert sum(fb["confirmed_by_fallback"].values()) + sum(fb["unconfirmed"].values()) > 100
