"""Measure the service times of the real code paths the capacity scenario's server pools run.

One server of each pool is one Python worker running the service code, so the time one request
takes on one core is the pool's mean service time. This script times, on this machine:

- ``ocsp_fresh``: the OCSP responder signs a new answer (request with a nonce, never cached);
- ``ocsp_cached``: the answer comes from the pre-signed cache;
- ``crl_download``: a municipality's CRL partition is signed and serialised;
- ``eligibility_card_pin``: check by card with the PIN path (signature over a challenge verified,
  chain and time, OCSP status through the responder, person, qualification);
- ``eligibility_card_face``: the same after a face match (no signature to verify);
- ``eligibility_number``: check by insured number and birth date;
- ``portal_login``: Myna Portal login: the signature over a challenge, chain and time, OCSP;
- ``certificate_issue``: a renewal at the counter (auth and signature certificate issued).

and writes them with the machine and date to twin/models/capacity/service_times.json, which the
scenario's ``Params`` read as defaults. Run: ``.venv/bin/python scripts/measure_service_times.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "twin" / "models" / "capacity" / "service_times.json"


def _time(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds per call over ``repeats`` rounds of a short burst (warm caches, no GC noise)."""
    fn()
    rounds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(5):
            fn()
        rounds.append((time.perf_counter() - t0) / 5)
    return statistics.median(rounds)


def measure(repeats: int = 15) -> dict[str, float]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp

    from emulators.demo import DEMO_AUTH_PIN, demo_resident
    from emulators.jpki_client import JpkiClient
    from twin.models.capacity.cards import issue_card
    from twin.services.eligibility import (
        Consent,
        EligibilityService,
        InsurerKind,
        PersonFacts,
        Qualification,
        QualificationBook,
    )
    from twin.services.jpki import Jpki, KeySource
    from twin.services.store import MemoryStore

    now = dt.datetime(2026, 4, 1, 0, 30, tzinfo=dt.UTC)
    jpki = Jpki.bootstrap(now, KeySource(20260401))
    holder_keys = KeySource(20260401, pool_size=2)
    book = QualificationBook(MemoryStore())
    svc = EligibilityService(book, jpki)
    r = demo_resident("demo-1")
    q = Qualification(
        "06130012", "12340", "00", InsurerKind.SOCIETY,
        PersonFacts(r.info.name, r.info.birth_date, r.info.sex), dt.date(2020, 4, 1),
    )
    book.register(q)
    book.link(q.key, "p-1")
    card = issue_card(jpki, holder_keys, r, "p-1", now)
    challenge = b"measure-challenge-0000000000000000"
    with card.reader() as reader:
        cert_der, sig = JpkiClient(reader).authenticate(DEMO_AUTH_PIN, challenge)
    from cryptography import x509

    cert = x509.load_der_x509_certificate(cert_der)
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, jpki.auth_ca.certificate, hashes.SHA1())
    plain = builder.build().public_bytes(Encoding.DER)
    with_nonce = builder.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False).build().public_bytes(
        Encoding.DER
    )
    jpki.ocsp.presign([cert], now)

    def portal_login() -> None:
        cert = x509.load_der_x509_certificate(cert_der)
        from cryptography.hazmat.primitives.asymmetric import padding

        cert.public_key().verify(sig, challenge, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg,arg-type]
        if not jpki.validate(cert, now, kind="auth").ok or svc.ocsp_status(cert, now) != ocsp.OCSPCertStatus.GOOD:
            raise RuntimeError("portal login refused a good card")

    key = holder_keys.key(0)

    def issue() -> None:
        jpki.issue_auth_certificate(key.public_key(), r.info.birth_date, now, 13101, person_ref="p-1")
        from twin.services.jpki import BasicInfo

        info = BasicInfo(r.info.name, r.info.address, r.info.birth_date, r.info.sex)
        jpki.issue_sign_certificate(key.public_key(), info, now, 13101, person_ref="p-1")

    paths: dict[str, Callable[[], object]] = {
        "ocsp_fresh": lambda: jpki.ocsp.respond(with_nonce, now),
        "ocsp_cached": lambda: jpki.ocsp.respond(plain, now),
        "crl_download": lambda: jpki.crl("auth", now, 13101).public_bytes(Encoding.DER),
        "eligibility_card_pin": lambda: svc.check_by_card(
            cert_der, now, challenge=challenge, signature=sig, consent=Consent(True, True)
        ),
        "eligibility_card_face": lambda: svc.check_by_card(cert_der, now, face_verified=True),
        "eligibility_number": lambda: svc.check_by_number(*q.key, r.info.birth_date, now),
        "portal_login": portal_login,
        "certificate_issue": issue,
    }
    return {name: _time(fn, repeats) for name, fn in paths.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats {args.repeats}: use 1 or more")
    seconds = measure(args.repeats)
    doc = {
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "method": f"median of {args.repeats} bursts of 5 calls, one thread, warm",
        "seconds": {k: round(v, 7) for k, v in seconds.items()},
    }
    args.out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    for k, v in seconds.items():
        print(f"{k:24s} {v * 1000:9.3f} ms")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
