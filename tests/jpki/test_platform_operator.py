"""A platform operator (プラットフォーム事業者) verifying JPKI for private providers: links by certificate
serial, 現況確認 that carries a renewed certificate's link over with consent and breaks it on any other
revocation, and the refusals, each naming its reason."""

from __future__ import annotations

import datetime as dt
from datetime import date

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from twin.services.jpki import RevocationReason
from twin.services.platform import LinkState, PlatformOperator, PlatformRefusal, Problem
from twin.services.registry import generate_my_numbers

BIRTH = date(1980, 2, 17)


class Holder:
    """A card holder: a key pair on the card and the centre's certificate for it."""

    def __init__(self, jpki, key, person_ref: str, now: dt.datetime):
        self.jpki, self.key, self.person_ref = jpki, key, person_ref
        self.renew(now)

    def renew(self, now: dt.datetime):
        self.cert = self.jpki.issue_auth_certificate(self.key.public_key(), BIRTH, now, 13101,
                                                     person_ref=self.person_ref)  # fmt: skip
        return self.cert

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def answer(self, op: PlatformOperator, provider: str, now: dt.datetime) -> tuple[bytes, bytes, bytes]:
        c = op.challenge(provider, now)
        return c, self.der, self.key.sign(c, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture
def op(jpki):
    counter = iter(range(1, 10**6))
    o = PlatformOperator(jpki, b"s" * 32, nonce_bytes=lambda n: next(counter).to_bytes(n, "big"))
    o.register_provider("bank-a", "A銀行")
    o.register_provider("broker-b", "B証券")
    return o


@pytest.fixture
def alice(jpki, holder_keys, now):
    return Holder(jpki, holder_keys.key(0), "alice", now)


@pytest.fixture
def bob(jpki, holder_keys, now):
    return Holder(jpki, holder_keys.key(1), "bob", now)


def test_link_then_login_by_serial_never_by_my_number(op, alice, now):
    link = op.link("bank-a", "u-1001", *alice.answer(op, "bank-a", now), now)
    assert (link.serial, link.state) == (alice.cert.serial_number, LinkState.ACTIVE)
    assert op.login("bank-a", *alice.answer(op, "bank-a", now), now) == "u-1001"
    # the same certificate is not linked at another provider until the holder links it there
    with pytest.raises(PlatformRefusal) as e:
        op.login("broker-b", *alice.answer(op, "broker-b", now), now)
    assert e.value.problem is Problem.NOT_LINKED


def test_challenges_are_single_use_per_provider_and_expire(op, alice, now):
    c, der, sig = alice.answer(op, "bank-a", now)
    op.link("bank-a", "u-1", c, der, sig, now)
    with pytest.raises(PlatformRefusal, match="already used") as e:
        op.login("bank-a", c, der, sig, now)
    assert e.value.problem is Problem.CHALLENGE
    with pytest.raises(PlatformRefusal, match="another provider"):
        op.login("broker-b", *alice.answer(op, "bank-a", now), now)
    with pytest.raises(PlatformRefusal, match="expired"):
        op.login("bank-a", *alice.answer(op, "bank-a", now), now + dt.timedelta(minutes=6))
    forged = bytearray(alice.answer(op, "bank-a", now)[0])
    forged[0] ^= 1
    with pytest.raises(PlatformRefusal, match="not one this operator issued"):
        op.login("bank-a", bytes(forged), alice.der, alice.key.sign(bytes(forged), padding.PKCS1v15(), hashes.SHA256()),
                 now)  # fmt: skip


def test_a_signature_by_another_key_or_over_other_bytes_is_refused(op, alice, bob, now):
    c, der, _ = alice.answer(op, "bank-a", now)
    with pytest.raises(PlatformRefusal) as e:
        op.link("bank-a", "u-1", c, der, bob.key.sign(c, padding.PKCS1v15(), hashes.SHA256()), now)
    assert e.value.problem is Problem.BAD_SIGNATURE
    with pytest.raises(PlatformRefusal) as e:
        op.link("bank-a", "u-1", *alice.answer(op, "bank-a", now)[:2], b"\x00" * 256, now)
    assert e.value.problem is Problem.BAD_SIGNATURE
    with pytest.raises(PlatformRefusal) as e:
        op.link("bank-a", "u-1", alice.answer(op, "bank-a", now)[0], b"not der", b"", now)
    assert e.value.problem is Problem.MALFORMED
    assert op.links() == []


def test_renewal_awaits_consent_and_carries_the_link_to_the_new_serial(op, alice, jpki, now):
    op.link("bank-a", "u-7", *alice.answer(op, "bank-a", now), now)
    old = alice.cert.serial_number
    later = now + dt.timedelta(days=30)
    assert op.check_status(later).good == 1
    new = alice.renew(later).serial_number
    jpki.revoke(old, RevocationReason.RENEWAL, later)
    run = op.check_status(later + dt.timedelta(hours=1))
    assert (run.checks, run.good, run.awaiting_consent, run.broken) == (1, 0, 1, {})
    (link,) = op.links("bank-a")
    assert (link.state, link.reason) == (LinkState.AWAITING_CONSENT, "renewal")
    t = later + dt.timedelta(hours=2)
    with pytest.raises(PlatformRefusal, match="renewed; consent") as e:
        op.login("bank-a", *alice.answer(op, "bank-a", t), t)
    assert e.value.problem is Problem.CONSENT
    with pytest.raises(PlatformRefusal, match="did not consent"):
        op.carry_over("bank-a", "u-7", *alice.answer(op, "bank-a", t), t, consent=False)
    assert link.state is LinkState.AWAITING_CONSENT
    op.carry_over("bank-a", "u-7", *alice.answer(op, "bank-a", t), t, consent=True)
    assert (link.state, link.serial, link.history) == (LinkState.ACTIVE, new, [old])
    assert op.login("bank-a", *alice.answer(op, "bank-a", t), t) == "u-7"
    assert op.check_status(t).good == 1


def test_another_holders_certificate_cannot_take_over_a_renewed_link(op, alice, bob, jpki, now):
    op.link("bank-a", "u-7", *alice.answer(op, "bank-a", now), now)
    later = now + dt.timedelta(days=1)
    alice.renew(later)
    jpki.revoke(op.links()[0].serial, RevocationReason.RENEWAL, later)
    op.check_status(later)
    with pytest.raises(PlatformRefusal, match="does not confirm") as e:
        op.carry_over("bank-a", "u-7", *bob.answer(op, "bank-a", later), later, consent=True)
    assert e.value.problem is Problem.CONSENT
    assert op.links()[0].state is LinkState.AWAITING_CONSENT


@pytest.mark.parametrize("reason", [RevocationReason.LOSS, RevocationReason.DEATH, RevocationReason.CARD_RETURN,
                                    RevocationReason.SUSPENSION])  # fmt: skip
def test_any_other_revocation_breaks_the_link(op, alice, jpki, now, reason):
    op.link("bank-a", "u-9", *alice.answer(op, "bank-a", now), now)
    op.link("broker-b", "x-9", *alice.answer(op, "broker-b", now), now)
    later = now + dt.timedelta(days=3)
    jpki.revoke(alice.cert.serial_number, reason, later)
    run = op.check_status(later)
    assert (run.checks, run.good, run.awaiting_consent, run.broken) == (2, 0, 0, {reason.value: 2})
    assert {(x.state, x.reason) for x in op.links()} == {(LinkState.BROKEN, reason.value)}
    assert op.check_status(later).checks == 0  # broken links are not checked again
    alice.renew(later)  # even a new certificate of the same holder does not carry a broken link
    with pytest.raises(PlatformRefusal, match="broken") as e:
        op.carry_over("bank-a", "u-9", *alice.answer(op, "bank-a", later), later, consent=True)
    assert e.value.problem is Problem.BROKEN
    relinked = op.link("bank-a", "u-9", *alice.answer(op, "bank-a", later), later)  # linking anew works
    assert relinked.state is LinkState.ACTIVE and relinked.history == [op.links("broker-b")[0].serial]


def test_the_revoked_certificate_itself_is_refused_at_once(op, alice, jpki, now):
    op.link("bank-a", "u-1", *alice.answer(op, "bank-a", now), now)
    jpki.revoke(alice.cert.serial_number, RevocationReason.LOSS, now + dt.timedelta(minutes=1))
    t = now + dt.timedelta(minutes=2)
    with pytest.raises(PlatformRefusal, match="revoked") as e:
        op.login("bank-a", *alice.answer(op, "bank-a", t), t)
    assert e.value.problem is Problem.CERTIFICATE


def test_expiry_breaks_the_link(op, alice, jpki, now):
    op.link("bank-a", "u-1", *alice.answer(op, "bank-a", now), now)
    end = jpki.store.get(alice.cert.serial_number).not_after
    assert op.check_status(end).good == 1  # valid through its last second
    run = op.check_status(end + dt.timedelta(seconds=1))
    assert run.broken == {"expired": 1}


def test_status_requests_count_every_authentication_and_every_check(op, alice, bob, now):
    op.link("bank-a", "a", *alice.answer(op, "bank-a", now), now)
    op.link("bank-a", "b", *bob.answer(op, "bank-a", now), now)
    op.login("bank-a", *bob.answer(op, "bank-a", now), now)
    for day in range(3):
        op.check_status(now + dt.timedelta(days=day))
    assert op.status_requests == 3 + 3 * 2
    assert op.verifications["valid"] == 3


def test_bad_ids_and_my_numbers_are_refused_without_repeating_the_number(op, alice, now):
    number = f"{int(generate_my_numbers(__import__('numpy').random.default_rng(1), 1)[0]):012d}"
    for uid in (number, f"user-{number}", f"{number}/x"):
        with pytest.raises(PlatformRefusal) as e:
            op.link("bank-a", uid, *alice.answer(op, "bank-a", now), now)
        assert e.value.problem is Problem.MALFORMED and number not in str(e.value)
    for uid in ("", "a" * 65, "has space", 12):
        with pytest.raises(PlatformRefusal, match="user_id"):
            op.link("bank-a", uid, *alice.answer(op, "bank-a", now), now)
    with pytest.raises(PlatformRefusal) as e:
        op.challenge("nobody", now)
    assert e.value.problem is Problem.UNKNOWN_PROVIDER
    with pytest.raises(PlatformRefusal, match="already registered"):
        op.register_provider("bank-a", "again")
    with pytest.raises(ValueError, match="16 random bytes"):
        PlatformOperator(op.jpki, b"short")
