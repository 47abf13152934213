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
