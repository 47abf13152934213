"""Smartphone JPKI (スマホ用電子証明書): issued on the card's two signatures, lapsing with the card.

A holder puts the card on the phone; the card signs the application after the auth PIN and after the
signature password; J-LIS issues the phone's own pair under the smartphone profile. These tests run the
whole flow in process: the card OS, the phone's secure element, the one JPKI client, the centre.
"""

from __future__ import annotations

__all__ = ["phone_keys"]  # the fixture, taken by importing it

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from _phone_fixtures import card_of, phone_for, phone_keys, policies_of
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulators.demo import DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD
from emulators.jpki_client import CardToken, JpkiClient, JpkiToken, SecurityStatusNotSatisfied
from emulators.phone_se import BiometricRefused, BiometricUnlock, issue_phone
from twin.services.jpki import (
    Jpki,
    Outcome,
    PhoneApplication,
    PhoneIssuanceError,
    Platform,
    SmartphoneIssuer,
    TokenKind,
    read_basic_info,
    token_kind,
)
from twin.services.jpki.smartphone import PHONE_AUTH_POLICY, PHONE_SIGN_POLICY, SERVICE_START


def test_issuance_gives_the_phone_its_own_pair_under_the_smartphone_profile(jpki, holder_keys, phone_keys, now):
    card, issued = phone_for(jpki, holder_keys, phone_keys, now)
    phone = issued.certificates
    later = now + timedelta(minutes=10)
    assert jpki.validate(phone.auth, later, "auth").ok and jpki.validate(phone.sign, later, "sign").ok
    assert token_kind(phone.auth) is TokenKind.PHONE and token_kind(phone.sign) is TokenKind.PHONE
    assert policies_of(phone.auth) == {PHONE_AUTH_POLICY} and policies_of(phone.sign) == {PHONE_SIGN_POLICY}
    card_sign = JpkiClient(card)
    card.connect()
    card_sign.verify("sign", DEMO_SIGN_PASSWORD)
    card_cert = card_sign.read_certificate("sign")
    card.disconnect()
    assert read_basic_info(phone.sign) == read_basic_info(card_cert)  # the same four basic items
    assert phone.auth.not_valid_after_utc <= card_cert.not_valid_after_utc  # ends with the card's
    assert phone.auth.public_key().public_numbers() != card_cert.public_key().public_numbers()
    assert jpki.store.get(phone.auth.serial_number).person_ref == "p-1"


def test_the_one_client_authenticates_and_signs_with_either_token(jpki, holder_keys, phone_keys, now):
    card, issued = phone_for(jpki, holder_keys, phone_keys, now, biometric=BiometricUnlock(match_rate=1.0))
    tokens: list[JpkiToken] = [CardToken(card), issued.token]
    rng = np.random.default_rng(1)
    later = now + timedelta(minutes=10)
    seen = {}
    for token in tokens:
        assert isinstance(token, JpkiToken)
        auth = token.authenticate(b"challenge-1", pin=DEMO_AUTH_PIN)
        cert = x509.load_der_x509_certificate(auth.certificate)
        cert.public_key().verify(auth.signature, b"challenge-1", padding.PKCS1v15(), hashes.SHA256())
        assert jpki.validate(cert, later, "auth").ok
        sign_der, signature = token.sign_document(b"form", DEMO_SIGN_PASSWORD)
        x509.load_der_x509_certificate(sign_der).public_key().verify(signature, b"form", padding.PKCS1v15(),
                                                                      hashes.SHA256())  # fmt: skip
        seen[token.kind] = token_kind(cert)
    assert seen == {"card": TokenKind.CARD, "android": TokenKind.PHONE}
    bio = issued.token.authenticate(b"challenge-2", rng=rng)  # biometric unlock instead of the PIN
    assert bio.unlock == "biometric" and bio.token == "android"
    issued.token.reader.connect()
    assert JpkiClient(issued.token.reader).token_kind() == "android"
    issued.token.reader.disconnect()


def test_the_phone_secure_element_keeps_its_auth_certificate_behind_the_pin(jpki, holder_keys, phone_keys, now):
    _, issued = phone_for(jpki, holder_keys, phone_keys, now, platform="iphone")
    reader = issued.token.reader
    reader.connect()
    client = JpkiClient(reader)
    assert client.token_label() == "JPKIAPIOSTOKEN"
    with pytest.raises(SecurityStatusNotSatisfied):
        client.read_certificate_der("auth")
    reader.disconnect()


def test_biometric_unlock_refused_for_someone_else_and_when_not_set_up(jpki, holder_keys, phone_keys, now):
    _, issued = phone_for(jpki, holder_keys, phone_keys, now, biometric=BiometricUnlock(false_accept_rate=0.0))
    with pytest.raises(BiometricRefused, match="not accepted after 3 tries"):
        issued.token.release_pin(np.random.default_rng(2), same_person=False)
    _, plain = phone_for(jpki, holder_keys, phone_keys, now)
    with pytest.raises(BiometricRefused, match="not set up"):
        plain.token.authenticate(b"c", rng=np.random.default_rng(3))


def test_losing_the_phone_revokes_only_the_phone(jpki, holder_keys, phone_keys, now):
    card, issued = phone_for(jpki, holder_keys, phone_keys, now)
    later = now + timedelta(hours=1)
    revoked = SmartphoneIssuer(jpki).report_phone_loss(issued.certificates, later)
    assert sorted(revoked) == sorted(issued.certificates.serials)
    assert jpki.validate(issued.certificates.auth, later).outcome is Outcome.REVOKED
    card_auth = jpki.store.get(issued.certificates.card_auth_serial)
    assert card_auth.revoked_at is None


@pytest.mark.parametrize("event", ["card_loss", "basic_info_changed", "death"])
def test_a_phone_certificate_presented_after_its_card_was_revoked_is_refused(jpki, holder_keys, phone_keys, now,
                                                                              event):  # fmt: skip
    _, issued = phone_for(jpki, holder_keys, phone_keys, now)
    phone = issued.certificates
    later = now + timedelta(hours=1)
    if event == "card_loss":
        jpki.revoke(phone.card_auth_serial, "loss", later)
        jpki.revoke(phone.card_sign_serial, "loss", later)
    elif event == "basic_info_changed":
        jpki.on_basic_info_changed("p-1", later)
    else:
        jpki.revoke_person("p-1", "death", later)
    for cert in (phone.auth, phone.sign):
        result = jpki.validate(cert, later + timedelta(seconds=1))
        assert result.outcome is Outcome.REVOKED, (event, result)
    assert jpki.store.get(phone.auth.serial_number).reason.value in ("card_revoked", "death")


def test_issuance_is_refused_before_the_platform_service_start(infra_keys, holder_keys, phone_keys):
    early = datetime(2025, 6, 1, tzinfo=UTC)
    jpki = Jpki.bootstrap(early, infra_keys)
    card = card_of(jpki, holder_keys, early)
    day_before = datetime(2025, 6, 23, 3, tzinfo=UTC)  # 12:00 JST on 2025-06-23
    with pytest.raises(PhoneIssuanceError, match="platform iphone: smartphone certificates are issued from "
                                                 "2025-06-24, not on 2025-06-23"):  # fmt: skip
        issue_phone(card, DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD, SmartphoneIssuer(jpki), "iphone", phone_keys,
                    day_before, "DEVICE0002")  # fmt: skip
    android = issue_phone(card, DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD, SmartphoneIssuer(jpki), "android", phone_keys,
                          day_before, "DEVICE0003")  # fmt: skip
    assert android.certificates.platform is Platform.ANDROID
    on_the_day = datetime(2025, 6, 23, 15, tzinfo=UTC)  # 00:00 JST on 2025-06-24
    iphone = issue_phone(card, DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD, SmartphoneIssuer(jpki), "iphone", phone_keys,
                         on_the_day, "DEVICE0004")  # fmt: skip
    assert iphone.certificates.platform is Platform.IPHONE
    assert SERVICE_START[Platform.ANDROID].isoformat() == "2023-05-11"


def test_issuance_needs_both_card_signatures_over_this_application(jpki, holder_keys, phone_keys, now):
    card = card_of(jpki, holder_keys, now)
    issuer = SmartphoneIssuer(jpki)
    auth_key, sign_key = phone_keys.key(0), phone_keys.key(1)
    app = PhoneApplication(Platform.ANDROID, auth_key.public_key(), sign_key.public_key(), "DEVICE0005")
    other = PhoneApplication(Platform.ANDROID, auth_key.public_key(), sign_key.public_key(), "DEVICE0006")
    card.connect()
    client = JpkiClient(card)
    client.verify("auth", DEMO_AUTH_PIN)
    card_auth = client.read_certificate_der("auth")
    auth_sig = client.sign(app.signing_bytes(), "auth")
    client.verify("sign", DEMO_SIGN_PASSWORD)
    card_sign = client.read_certificate_der("sign")
    sign_sig = client.sign(other.signing_bytes(), "sign")  # signed a different application
    card.disconnect()
    with pytest.raises(PhoneIssuanceError, match="signature password key does not verify"):
        issuer.issue(app, card_auth, auth_sig, card_sign, sign_sig, now)
    with pytest.raises(PhoneIssuanceError, match="card sign certificate: wrong_ca"):
        issuer.issue(app, card_auth, auth_sig, card_auth, sign_sig, now)
    jpki.revoke(x509.load_der_x509_certificate(card_auth), "loss", now)
    with pytest.raises(PhoneIssuanceError, match=r"card auth certificate: revoked \(revoked \(loss\)\)|revoked"):
        issuer.issue(app, card_auth, auth_sig, card_sign, sign_sig, now)
    with pytest.raises(PhoneIssuanceError, match="platform: 'ipad' is not allowed"):
        Platform.parse("ipad")


def test_the_card_phone_link_is_in_the_ledger_and_survives_a_restart_on_sqlite(tmp_path, infra_keys, holder_keys,
                                                                                  phone_keys, now):  # fmt: skip
    """The link lives in the ledger's lines, so a centre restarted on the same SQLite file still follows it."""
    from real_backends.stores.jpki import RecordsJpkiStore
    from real_backends.stores.sqlite import SqliteStore

    path = tmp_path / "jpki.db"
    first = Jpki.bootstrap(now, infra_keys, store=RecordsJpkiStore(SqliteStore(path)))
    _, issued = phone_for(first, holder_keys, phone_keys, now)
    phone = issued.certificates
    restarted = Jpki(first.auth_ca, first.sign_ca, first.ocsp, RecordsJpkiStore(SqliteStore(path)))
    for ca in (restarted.auth_ca, restarted.sign_ca):
        ca.store = restarted.store
    later = now + timedelta(hours=1)
    restarted.revoke(phone.card_sign_serial, "loss", later)
    for serial in phone.serials:
        record = restarted.store.get(serial)
        assert record.reason.value == "card_revoked" and tuple(record.linked_to) == (phone.card_auth_serial,
                                                                                      phone.card_sign_serial)
    assert restarted.store.get(phone.card_auth_serial).revoked_at is None  # the card's other certificate stays


def test_a_pair_that_fails_halfway_leaves_no_usable_phone_certificate(jpki, holder_keys, phone_keys, now, monkeypatch):
    issuer = SmartphoneIssuer(jpki)
    real = issuer._issue_one

    def failing(kind, *args):
        if kind.value == "sign":
            raise PhoneIssuanceError("sign CA: refused (injected)")
        return real(kind, *args)

    monkeypatch.setattr(issuer, "_issue_one", failing)
    card = card_of(jpki, holder_keys, now)
    before = len(jpki.store)
    with pytest.raises(PhoneIssuanceError, match="injected"):
        issue_phone(card, DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD, issuer, "android", phone_keys, now, "DEVICE0009")
    stray = [jpki.store.get(0x1000 + i) for i in range(before, len(jpki.store))]  # serials are handed out in order
    assert len(stray) == 1 and stray[0].reason.value == "unspecified" and stray[0].revoked_at == now


EVENTS = ["phone_loss", "card_auth_loss", "card_sign_loss", "basic_info_changed", "renew_card"]


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(EVENTS), max_size=4))
def test_invariant_phone_certificates_live_only_while_the_card_and_phone_are_fine(infra_keys, holder_keys,
                                                                                  phone_keys, now, events):  # fmt: skip
    """Whatever happens in whatever order: the phone pair is revoked iff the phone was lost or a card
    certificate was revoked; losing the phone never touches the card; revoked stays revoked."""
    jpki = Jpki.bootstrap(now, infra_keys)  # a fresh centre per example
    _, issued = phone_for(jpki, holder_keys, phone_keys, now)
    phone = issued.certificates
    issuer = SmartphoneIssuer(jpki)
    at = now + timedelta(minutes=10)
    card_hit = phone_lost = False
    for i, event in enumerate(events):
        at += timedelta(minutes=i + 1)
        if event == "phone_loss":
            issuer.report_phone_loss(phone, at)
            phone_lost = True
            continue
        serial = {"card_auth_loss": phone.card_auth_serial, "card_sign_loss": phone.card_sign_serial}.get(event)
        if event == "basic_info_changed":
            card_hit |= bool(jpki.on_basic_info_changed("p-1", at))
        elif event == "renew_card":
            for s in (phone.card_auth_serial, phone.card_sign_serial):
                if jpki.store.get(s).revoked_at is None:
                    jpki.revoke(s, "renewal", at)
                    card_hit = True
        elif jpki.store.get(serial).revoked_at is None:
            jpki.revoke(serial, "loss", at)
            card_hit = True
    later = at + timedelta(seconds=1)
    for cert in (phone.auth, phone.sign):
        assert (jpki.validate(cert, later).outcome is Outcome.REVOKED) == (card_hit or phone_lost), events
    if not card_hit:
        assert jpki.validate(x509.load_der_x509_certificate(jpki.store.get(phone.card_auth_serial).der), later).ok


# ---- the card's own lifecycle events (the counter's moves, not the centre's revoke) end the phone too ------


@pytest.mark.parametrize(
    ("event", "card_reason"),
    [("report_loss", "loss"), ("suspend", "suspension"), ("return_card", "card_return"),
     ("change_basic_info", "basic_info_changed"), ("record_death", "death")],
)  # fmt: skip
def test_a_card_lifecycle_event_that_ends_a_card_certificate_ends_the_phone_pair(jpki, holder_keys, phone_keys, now,
                                                                                event, card_reason):  # fmt: skip
    """Loss report, suspension (一時停止), return, a move (the four items change) and death, done through
    :class:`CardLifecycle` as a town hall does them: the phone pair issued from that card is refused after."""
    from twin.services.card_lifecycle import CardLifecycle
    from twin.services.jpki import BasicInfo

    life = CardLifecycle(jpki)
    info = BasicInfo("山田\u3000太郎", "東京都千代田区霞が関１丁目２番３号", datetime(1980, 2, 17).date(), "1")
    key = holder_keys.key(0)
    day = timedelta(days=1)
    card = life.apply("p-9", info, 13101, now)
    life.produce(card.card_id, now + day, key.public_key(), key.public_key())
    life.ship(card.card_id, now + 2 * day)
    card = life.hand_over(card.card_id, now + 3 * day, auth_pin="1234", support_pin="5678", sign_password="ABC123")
    app = PhoneApplication(Platform.ANDROID, phone_keys.key(0).public_key(), phone_keys.key(1).public_key(), "D9")
    signature = key.sign(app.signing_bytes(), padding.PKCS1v15(), hashes.SHA256())  # the card's one key, both roles
    at = now + 4 * day
    phone = SmartphoneIssuer(jpki).issue(app, jpki.store.get(card.auth_serial).der, signature,
                                         jpki.store.get(card.sign_serial).der, signature, at)  # fmt: skip
    assert all(jpki.validate(c, at).outcome is Outcome.VALID for c in (phone.auth, phone.sign))

    later = at + day
    if event == "change_basic_info":
        moved = BasicInfo(info.name, "大阪府大阪市北区１丁目", info.birth_date, "1")
        life.change_basic_info(card.card_id, moved, later)
    elif event == "record_death":
        life.record_death("p-9", later)
    else:
        getattr(life, event)(card.card_id, later)
    for cert in (phone.auth, phone.sign):
        assert jpki.validate(cert, later + timedelta(seconds=1)).outcome is Outcome.REVOKED, (event, cert)
    assert {jpki.store.get(s).reason.value for s in phone.serials} <= {"card_revoked", "death"}
    card_reasons = {jpki.store.get(s).reason for s in (card.auth_serial, card.sign_serial)} - {None}
    assert {r.value for r in card_reasons} == {card_reason}  # the card's own reason; the phone's is the link
