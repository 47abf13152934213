"""The failover world's cards go through the real card lifecycle: its moves, its revocations, its refusals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from twin.models.failover.demand import hourly_demand
from twin.models.failover.engine import simulate_year
from twin.models.failover.invariants import JST, AgentResult, check_option
from twin.models.failover.jpki_world import JpkiWorld
from twin.models.failover.params import Params
from twin.models.failover.replication import Clock
from twin.services.card_lifecycle import CardState, ForbiddenTransitionError
from twin.services.jpki import RevocationReason

START = dt.date(2025, 2, 3)


def world(mode: str = "sync", lag_seconds: float = 5.0, certificates: int = 6) -> JpkiWorld:
    p = Params.model_validate({
        "services": {"jpki_ca": {"replication": {"mode": mode, "lag_seconds": lag_seconds}}},
        "agent": {"enabled": True, "days": 2, "certificates": certificates},
    })  # fmt: skip
    res = AgentResult("sync", mode)
    return JpkiWorld(p, dt.datetime.combine(START, dt.time(), JST), Clock(), np.random.default_rng(3), res)


def ocsp_status(w: JpkiWorld, cert: object, t: float) -> ocsp.OCSPCertStatus:
    """What the active site's responder tells a relying party about ``cert`` at hour ``t``."""
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, w.issuer, hashes.SHA1()).build()
    der = w.site.jpki.ocsp.respond(req.public_bytes(serialization.Encoding.DER), w.when(t))
    return ocsp.load_der_ocsp_response(der).certificate_status


def cert_of(w: JpkiWorld, card_id: str) -> object:
    serial = w.cards.card(card_id).auth_serial
    return next(c for c in w.certs if c.serial_number == serial)


def only(w: JpkiWorld, card_id: str) -> None:
    """Make the world's next random pick fall on ``card_id`` (the draws themselves are not under test)."""
    w._active_cards = lambda: [w.cards.card(card_id)]  # type: ignore[method-assign]


def test_the_cards_in_circulation_were_issued_through_the_lifecycle() -> None:
    w = world(certificates=6)
    cards = list(w.cards)
    assert len(cards) == 6 and all(c.state is CardState.ACTIVE for c in cards)
    assert all([e.action for e in c.history] == ["produce", "ship", "hand_over"] for c in cards)
    assert sorted(c.auth_serial for c in cards) == sorted(c.serial_number for c in w.certs)
    assert all(ocsp_status(w, c, 1.0) is ocsp.OCSPCertStatus.GOOD for c in w.certs)


def test_a_lost_card_is_suspended_and_its_certificate_reported_revoked() -> None:
    w = world()
    card = next(iter(w.cards))
    cert = cert_of(w, card.card_id)
    assert ocsp_status(w, cert, 1.5) is ocsp.OCSPCertStatus.GOOD  # before the report
    only(w, card.card_id)
    w.revoke(2.0)
    card = w.cards.card(card.card_id)
    assert card.state is CardState.SUSPENDED and card.history[-1].action == "report_loss"
    assert w.site.jpki.status(card.auth_serial, w.when(2.0)).reason is RevocationReason.LOSS
    assert ocsp_status(w, cert, 2.5) is ocsp.OCSPCertStatus.REVOKED  # the report dropped the cached answer
    assert w.res.cards_reported_lost == w.res.revocations_acknowledged == 1 and w.revoked_at == {card.auth_serial: 2.0}


def test_a_world_that_asks_a_forbidden_move_fails_instead_of_going_on() -> None:
    w = world()
    card = next(iter(w.cards))
    only(w, card.card_id)
    w.revoke(2.0)
    with pytest.raises(ForbiddenTransitionError, match="cannot report loss a card that is suspended"):
        w.revoke(3.0)  # the lifecycle, not the world, decides what a suspended card may do
    with pytest.raises(ForbiddenTransitionError, match="cannot renew certificates a card that is suspended"):
        w.renew(3.0)


def test_a_renewal_at_the_counter_revokes_the_old_certificate_and_issues_a_good_one() -> None:
    w = world()
    card = next(iter(w.cards))
    old = cert_of(w, card.card_id)
    only(w, card.card_id)
    w.renew(10.2)
    card = w.cards.card(card.card_id)
    assert card.history[-1].action == "renew_certificates" and card.state is CardState.ACTIVE
    new = cert_of(w, card.card_id)
    assert new.serial_number != old.serial_number
    assert w.site.jpki.status(old.serial_number, w.when(11)).reason is RevocationReason.RENEWAL
    assert ocsp_status(w, old, 11.0) is ocsp.OCSPCertStatus.REVOKED
    assert ocsp_status(w, new, 11.0) is ocsp.OCSPCertStatus.GOOD
    assert w.revoked_at == {old.serial_number: 10.2} and w.res.certificate_renewals == 1


def test_a_locked_pin_waits_for_the_counter_and_a_card_lost_meanwhile_cannot_be_reset() -> None:
    w = world()
    a, b = list(w.cards)[:2]
    for card in (a, b):
        only(w, card.card_id)
        w.lock_pin(1.0)
    assert w.cards.card(a.card_id).locked_pins == {"auth"} and w.pin_locked == [a.card_id, b.card_id]
    only(w, b.card_id)
    w.revoke(3.0)
    w.counter(9.6)
    assert w.cards.card(a.card_id).locked_pins == frozenset()
    assert w.cards.card(a.card_id).history[-1].action == "reset_pin"
    assert w.cards.card(b.card_id).locked_pins == {"auth"}  # suspended: the lifecycle allows no reset
    assert (w.res.pin_locks, w.res.pin_resets, w.res.pin_resets_refused, w.pin_locked) == (2, 1, 1, [])


def test_after_a_takeover_the_lifecycle_calls_the_surviving_site() -> None:
    w = world("sync")
    card = next(iter(w.cards))
    cert = cert_of(w, card.card_id)
    w.fail_over(5.0)
    assert w.cards.jpki is w.site.jpki
    only(w, card.card_id)
    w.revoke(6.0)
    assert ocsp_status(w, cert, 6.5) is ocsp.OCSPCertStatus.REVOKED


def test_a_renewal_lost_in_a_takeover_never_gets_another_holders_certificate_revoked() -> None:
    w = world("async", lag_seconds=3600 * 24)
    x = next(iter(w.cards))
    only(w, x.card_id)
    w.clock.now = 30.0
    w.renew(30.0)  # revokes x's first certificate and issues a second: neither reaches the standby
    lost = w.cards.card(x.card_id).auth_serial
    w.shipper.ship(31.0)  # ships what is a day old: the cards in circulation, not the renewal
    w.fail_over(31.0)
    assert (w.res.issuances_lost, w.res.revocations_lost) == (1, 1)
    assert lost not in {c.serial_number for c in w.certs}
    y = w._new_card(32.0)  # the surviving ledger hands the lost serial out again
    assert y.auth_serial == lost
    only(w, x.card_id)
    w.revoke(33.0)  # x's holder reports the card lost: the lifecycle suspends it ...
    assert w.cards.card(x.card_id).state is CardState.SUSPENDED and w.res.revocations_refused == 1
    assert ocsp_status(w, cert_of(w, y.card_id), 33.5) is ocsp.OCSPCertStatus.GOOD  # ... and spares y's certificate


def test_the_agent_run_with_cards_is_reproducible_and_every_event_is_counted() -> None:
    p = Params.model_validate({"agent": {"enabled": True, "days": 7}})
    y = simulate_year(p, START, 7, hourly_demand(p.demand, START, 7), lambda n: np.random.default_rng(5))
    a = check_option(p, START, 7, y, np.random.default_rng(11)).summary()
    b = check_option(p, START, 7, y, np.random.default_rng(11)).summary()
    assert a == b
    assert a["cards_issued"] > 0 and a["certificate_renewals"] > 0 and a["pin_resets"] > 0
    assert a["cards_suspended"] > 0  # by calls to the call centre (tests/failover/test_card_suspension_world.py)
    holders_asked = a["cards_reported_lost"] + a["cards_suspended"]
    assert holders_asked == a["revocations_acknowledged"] + a["revocations_refused"]
    assert a["violations"] == 0, a["violation_examples"]
