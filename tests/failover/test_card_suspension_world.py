"""A card suspended by a call to the call centre (一時停止) in the failover world, and what the counter does with it.

The holder misses the card and phones the 24/365 call centre: the lifecycle suspends the card and
revokes its certificate, so relying parties are told it is revoked. Some days later the holder is
at the counter: a card found is resumed (一時停止解除) with a new certificate, the old one staying
revoked; a card not found is declared lost and a replacement applied for (再交付申請).
"""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.x509 import ocsp
from test_card_lifecycle_world import START, cert_of, ocsp_status, only, world

from twin.models.failover import invariants
from twin.models.failover.demand import hourly_demand
from twin.models.failover.engine import simulate_year
from twin.models.failover.jpki_world import JpkiWorld
from twin.models.failover.params import Params
from twin.services.card_lifecycle import CardState
from twin.services.jpki import RevocationReason

#: check_option's summary over 7 days of the defaults (seeds 5 and 11) at commit 324716a, before the
#: call centre's suspensions existed: with none, the run must be that one
BEFORE_SUSPENSIONS = {
    "applications_acknowledged": 90, "transfers_by_bank": 66, "cards_issued": 5, "certificate_renewals": 11,
    "cards_reported_lost": 7, "pin_locks": 7, "pin_resets": 6, "pin_resets_refused": 0,
    "revocations_acknowledged": 7, "revocations_refused": 0, "issuances_lost": 0, "status_checks": 728,
    "violations": 0,
}  # fmt: skip
OTHER_FLOWS = ("applications_acknowledged", "transfers_by_bank", "cards_issued", "certificate_renewals",
               "cards_reported_lost", "pin_locks")  # fmt: skip


def run(days: int = 7, **agent: float) -> tuple[dict, list[JpkiWorld]]:
    """check_option over ``days`` with ``agent`` overrides; its summary and the JPKI world it ran."""
    p = Params.model_validate({"agent": {"enabled": True, "days": days, **agent}})
    y = simulate_year(p, START, days, hourly_demand(p.demand, START, days), lambda n: np.random.default_rng(5))
    seen: list[JpkiWorld] = []

    class Seen(JpkiWorld):
        def __init__(self, *a, **k) -> None:  # noqa: ANN002, ANN003
            super().__init__(*a, **k)
            seen.append(self)

    mp = pytest.MonkeyPatch()
    mp.setattr(invariants, "JpkiWorld", Seen)
    try:
        return invariants.check_option(p, START, days, y, np.random.default_rng(11)).summary(), seen
    finally:
        mp.undo()


def test_a_suspended_card_is_revoked_until_the_counter_resumes_it_with_a_new_certificate() -> None:
    w = world()
    w.found_share = 1.0  # the card turns up
    card = next(iter(w.cards))
    old = cert_of(w, card.card_id)
    assert ocsp_status(w, old, 1.5) is ocsp.OCSPCertStatus.GOOD
    only(w, card.card_id)
    w.suspend(2.0)
    assert w.cards.card(card.card_id).state is CardState.SUSPENDED
    assert w.site.jpki.status(old.serial_number, w.when(2.0)).reason is RevocationReason.SUSPENSION
    assert ocsp_status(w, old, 2.5) is ocsp.OCSPCertStatus.REVOKED
    w.counter(2.0 + 72 - 0.5)  # an office hour before the holder comes (3 days, the default)
    assert w.cards.card(card.card_id).state is CardState.SUSPENDED and w.res.cards_resumed == 0
    assert ocsp_status(w, old, 74.0) is ocsp.OCSPCertStatus.REVOKED
    w.counter(74.6)
    card = w.cards.card(card.card_id)
    assert card.state is CardState.ACTIVE
    assert [e.action for e in card.history][-3:] == ["suspend", "resume", "renew_certificates"]
    new = cert_of(w, card.card_id)
    assert new.serial_number != old.serial_number
    assert ocsp_status(w, new, 75.0) is ocsp.OCSPCertStatus.GOOD
    assert ocsp_status(w, old, 75.0) is ocsp.OCSPCertStatus.REVOKED  # resuming restores no certificate
    assert w.site.jpki.status(old.serial_number, w.when(75.0)).reason is RevocationReason.SUSPENSION
    assert (w.res.cards_suspended, w.res.cards_resumed, w.res.revocations_acknowledged) == (1, 1, 1)
    assert w.revoked_at == {old.serial_number: 2.0} and w.suspended == []


def test_a_card_not_found_is_declared_lost_at_the_counter_and_a_replacement_applied_for() -> None:
    w = world()
    w.found_share = 0.0
    card = next(iter(w.cards))
    old = cert_of(w, card.card_id)
    only(w, card.card_id)
    w.suspend(2.0)
    w.counter(74.6)
    assert w.cards.card(card.card_id).state is CardState.SUSPENDED  # until the replacement is handed over
    (new,) = [c for c in w.cards if c.replaces == card.card_id]
    assert new.state is CardState.APPLIED and new.person_ref == card.person_ref
    assert ocsp_status(w, old, 75.0) is ocsp.OCSPCertStatus.REVOKED
    assert (w.res.cards_suspended, w.res.cards_resumed, w.res.suspended_reported_lost) == (1, 0, 1)


def test_every_suspension_ends_resumed_declared_lost_or_still_waiting_as_the_lifecycle_recorded() -> None:
    s, (w,) = run(suspensions_per_day=4.0, suspended_days=1.0)
    assert s["cards_suspended"] > 10 and s["cards_resumed"] > 0 and s["suspended_reported_lost"] > 0
    assert s["suspended_at_end"] > 0
    assert s["cards_suspended"] == s["cards_resumed"] + s["suspended_reported_lost"] + s["suspended_at_end"]
    events = [e.action for c in w.cards for e in c.history]
    replaced = {c.replaces for c in w.cards if c.replaces is not None}
    waiting = [c for c in w.cards if c.state is CardState.SUSPENDED and c.history[-1].action == "suspend"
               and c.card_id not in replaced]  # fmt: skip
    assert events.count("suspend") == s["cards_suspended"]
    assert events.count("resume") == s["cards_resumed"]
    assert len(replaced) == s["suspended_reported_lost"] and len(waiting) == s["suspended_at_end"]
    assert s["cards_reported_lost"] + s["cards_suspended"] == s["revocations_acknowledged"] + s["revocations_refused"]
    assert s["violations"] == 0, s["violation_examples"]


def test_without_suspensions_the_run_is_the_one_before_they_existed() -> None:
    s, _ = run(suspensions_per_day=0.0)
    assert {k: s[k] for k in BEFORE_SUSPENSIONS} == BEFORE_SUSPENSIONS
    assert (s["cards_suspended"], s["cards_resumed"], s["suspended_reported_lost"], s["suspended_at_end"]) == (0,) * 4


def test_the_calls_draw_from_their_own_stream_and_move_no_other_flow() -> None:
    s, _ = run()  # the default rate
    assert s["cards_suspended"] > 0
    assert {k: s[k] for k in OTHER_FLOWS} == {k: BEFORE_SUSPENSIONS[k] for k in OTHER_FLOWS}
