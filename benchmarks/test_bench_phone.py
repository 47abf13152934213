"""Smartphone JPKI timings: the phone's user-authentication flow in process, and J-LIS issuing phone pairs.

Run with ``make bench`` (or ``.venv/bin/pytest benchmarks/test_bench_phone.py --benchmark-only``).
The targets (issue 18): a smartphone-token authentication in process >= 1,500 flows/s on one core, as
the card's (``test_bench_card.py``); issuing smartphone certificates >= 200/s on one core with the RSA
keys pre-pooled, as J-LIS must at a campaign peak. The issuance figure counts the centre's work only:
the holders' card signatures over their applications are made before the clock starts (they happen on
millions of phones, not at J-LIS), the centre checks both card certificates and signatures, signs two
certificates and records and links them. ``extra_info`` gives flows/s, phones/s and certificates/s.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _jpki_fixtures import NOW, SEED  # noqa: E402
from _phone_fixtures import card_of, phone_for  # noqa: E402

from emulators.demo import DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD  # noqa: E402
from emulators.jpki_client import JpkiClient  # noqa: E402
from twin.services.jpki import Jpki, KeySource, PhoneApplication, Platform, SmartphoneIssuer  # noqa: E402

POOL = 8  # phone key pairs generated before the campaign; issuance cycles over them


def test_phone_auth_flow_in_process(benchmark):
    """SELECT AP, VERIFY the auth PIN, read the auth certificate, SIGN: the phone's secure element called directly."""
    jpki = Jpki.bootstrap(NOW, KeySource(SEED))
    _, issued = phone_for(jpki, KeySource(SEED, pool_size=2), KeySource(SEED + 1, pool_size=2), NOW)
    reader = issued.token.reader
    reader.connect()
    client = JpkiClient(reader)
    _, signature = benchmark(client.authenticate, DEMO_AUTH_PIN, b"portal-challenge")
    assert len(signature) == 256
    benchmark.extra_info["flows_per_second"] = 1.0 / benchmark.stats.stats.mean
    benchmark.extra_info["flows_per_second_at_median"] = 1.0 / benchmark.stats.stats.median


def test_issuing_smartphone_certificates(benchmark):
    """J-LIS's side of one phone: check the card's two certificates and signatures, issue and link two."""
    jpki = Jpki.bootstrap(NOW, KeySource(SEED))
    issuer = SmartphoneIssuer(jpki)
    card = card_of(jpki, KeySource(SEED, pool_size=2), NOW)
    pool = KeySource(SEED + 2, pool_size=POOL)
    keys = [pool.key(i) for i in range(POOL)]  # pre-pooled: derived (or read from the cache) before timing
    card.connect()
    client = JpkiClient(card)
    client.verify("auth", DEMO_AUTH_PIN)
    card_auth = client.read_certificate_der("auth")
    client.verify("sign", DEMO_SIGN_PASSWORD)
    card_sign = client.read_certificate_der("sign")
    rounds = 400
    signed = []
    for i in range(rounds + 2):
        app = PhoneApplication(Platform.ANDROID, keys[(2 * i) % POOL].public_key(),
                               keys[(2 * i + 1) % POOL].public_key(), f"DEVICE{i:06d}")  # fmt: skip
        doc = app.signing_bytes()
        signed.append((app, card_auth, client.sign(doc, "auth"), card_sign, client.sign(doc, "sign")))
    card.disconnect()
    queue = iter(signed)
    when = NOW + timedelta(minutes=5)

    def issue(app, auth_der, auth_sig, sign_der, sign_sig):
        return issuer.issue(app, auth_der, auth_sig, sign_der, sign_sig, when)

    phone = benchmark.pedantic(issue, setup=lambda: (next(queue), {}), rounds=rounds, warmup_rounds=1)
    assert jpki.store.get(phone.auth.serial_number).linked_to == (phone.card_auth_serial, phone.card_sign_serial)
    phones = 1.0 / benchmark.stats.stats.mean
    benchmark.extra_info["phones_per_second"] = phones
    benchmark.extra_info["certificates_per_second"] = 2 * phones
    benchmark.extra_info["certificates_per_second_at_median"] = 2.0 / benchmark.stats.stats.median
