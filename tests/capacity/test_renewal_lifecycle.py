"""The renewal wave's sample through the real card lifecycle and JPKI: the moves, the ledger, the counts."""

from __future__ import annotations

import numpy as np
import pytest

from twin.models.renewal.cards import sample
from twin.models.renewal.params import Params
from twin.models.renewal.wave import simulate, towns
from twin.services.card_lifecycle import CardState
from twin.services.jpki import RevocationReason

SUBSET = np.arange(0, 1741, 43)  # as tests/capacity/test_renewal.py
N = 25


@pytest.fixture(scope="module")
def wave():  # noqa: ANN201
    return simulate(Params(), towns(), subset=SUBSET)


def _sample(wave, seed: int = 7, **update):  # noqa: ANN001, ANN003, ANN202
    return sample(Params.model_validate(update), wave, towns().code[SUBSET], seed, N)


def test_every_sampled_renewal_is_a_lifecycle_move_and_the_ledger_agrees(wave) -> None:  # noqa: ANN001
    s = _sample(wave)
    assert s.violations == []
    life = s.life
    for cls, c in s.classes.items():
        assert c.sampled == c.lifecycle_renewals == N
        people = [f"{cls}-{i}" for i in range(N)]
        for person in people:
            cards = life.cards_of(person)
            if cls == "card":
                old, new = cards
                assert old.state is CardState.RETIRED and old.retired_because == "replaced"
                assert [e.action for e in new.history] == ["produce", "ship", "hand_over"]
                assert new.replaces == old.card_id
            else:
                (card,) = cards
                assert card.history[-1].action == "renew_certificates" and card.state is CardState.ACTIVE
    renewal_revocations = [
        r for r in (life.jpki.store.get(i) for i in range(life.jpki.store.FIRST_SERIAL, life.jpki.store.next_serial()))
        if r is not None and r.reason is RevocationReason.RENEWAL
    ]  # fmt: skip
    assert len(renewal_revocations) == sum(c.revoked for c in s.classes.values())
    # an adult's certificate renewal ends both certificates and issues two: counted from the ledger
    assert s.classes["certificate"].per_renewal("revoked") == 2.0
    assert s.classes["certificate"].per_renewal("issued") == 2.0


def test_minors_under_15_have_no_signature_certificate_to_revoke(wave) -> None:  # noqa: ANN001
    adults = _sample(wave, due={"minor_card_share": 0.0}).classes["card"]
    minors = _sample(wave, due={"minor_card_share": 1.0}).classes["card"]
    assert adults.per_renewal("revoked") == 2.0
    assert 1.0 <= minors.per_renewal("revoked") < 2.0  # the lifecycle gave some of them no signature certificate


def test_the_national_figures_scale_the_sample_by_the_waves_renewals(wave) -> None:  # noqa: ANN001
    c = _sample(wave).classes["certificate"]
    fy = wave.dates() >= np.datetime64(wave.fy_start)
    assert c.wave_renewed_fy == pytest.approx(float(wave.renewed_daily[:, 1, fy].sum()), rel=1e-12)
    assert c.national("revoked") == pytest.approx(c.revoked / N * c.wave_renewed_fy, rel=1e-12)


def test_the_sample_is_reproducible(wave) -> None:  # noqa: ANN001
    def fingerprint(s):  # noqa: ANN001, ANN202
        return [(c.card_id, c.state, c.issued_on, c.expires_on, c.auth_serial, c.sign_serial,
                 tuple((e.at, e.action) for e in c.history)) for c in s.life]  # fmt: skip

    a, b, other = _sample(wave, 3), _sample(wave, 3), _sample(wave, 4)
    assert fingerprint(a) == fingerprint(b) and a.classes == b.classes
    assert fingerprint(a) != fingerprint(other)


def test_pin_resets_and_loss_reports_go_through_the_lifecycle(wave) -> None:  # noqa: ANN001
    s = _sample(wave, counters={"pin_reset_share": 1.0}, due={"lost_before_renewal_share": 1.0, "minor_card_share": 0})
    assert s.violations == []
    cert, card = s.classes["certificate"], s.classes["card"]
    assert cert.pin_resets == N and cert.per_renewal("pin_resets") == 1.0
    for i in range(N):
        (c,) = s.life.cards_of(f"certificate-{i}")
        actions = [e.action for e in c.history]
        assert actions[-3:] == ["lock_pin", "reset_pin", "renew_certificates"] and not c.locked_pins
        old, new = s.life.cards_of(f"card-{i}")
        assert "report_loss" in [e.action for e in old.history] and old.state is CardState.RETIRED
    # the old cards' certificates were revoked for the loss, not for the renewal: counted from the CA
    assert card.losses == N and card.revoked_loss == 2 * N and card.revoked == 0
    none = _sample(wave, counters={"pin_reset_share": 0.0}, due={"lost_before_renewal_share": 0.0}).classes
    assert none["certificate"].pin_resets == 0 and none["card"].losses == 0


def test_pin_resets_take_counter_time_in_the_wave() -> None:
    from twin.models.renewal.wave import visit_minutes

    quick = Params.model_validate({"counters": {"pin_reset_share": 0.0}})
    slow = Params.model_validate({"counters": {"pin_reset_share": 0.3, "minutes_pin_reset": 20.0}})
    assert visit_minutes(slow)[1] == visit_minutes(quick)[1] + 6.0 and visit_minutes(slow)[0] == 15.0
    a, b = (simulate(p, towns(), subset=SUBSET) for p in (quick, slow))
    waited = [float(w.counter_days.sum() / w.counter_served.sum()) for w in (a, b)]
    assert waited[1] > waited[0] * 1.05, waited  # the same visitors wait longer for the same counters
