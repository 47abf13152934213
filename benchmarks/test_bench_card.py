"""My Number card timings: the user-authentication flow in-process and through pcscd + vpcd, and
100,000-APDU fuzz runs (a card with PINs, a PIN-less card) with the card invariants checked after every APDU.

Run with ``make bench`` (or ``.venv/bin/pytest benchmarks/test_bench_card.py --benchmark-only``).
The targets: the in-process flow (SELECT AP, SELECT EF + VERIFY, read the auth certificate in
256-byte chunks, SELECT key + COMPUTE DIGITAL SIGNATURE) >= 1,500 flows/s on one core, bounded by
RSA-2048 signing (``test_rsa_sign_alone`` measures that floor); the same flow through
pcscd + vpcd with a median <= 30 ms.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "card"))

from card_helpers import AUTH_PIN, personalisation  # noqa: E402
from fuzzing import InvariantChecker, PinlessChecker, corpus, mutate  # noqa: E402
from pcsc_rig import running_pcscd, served_card  # noqa: E402

from emulators.card_os import MynaCardOS  # noqa: E402
from emulators.jpki_client import JpkiClient  # noqa: E402
from emulators.readers import InProcessReader  # noqa: E402

FUZZ_APDUS = 100_000


def _flow(client: JpkiClient) -> bytes:
    _, signature = client.authenticate(AUTH_PIN, b"eligibility-challenge")
    return signature


def test_auth_flow_in_process(benchmark):
    """One full user-authentication flow against the card OS called directly."""
    reader = InProcessReader(MynaCardOS(personalisation()))
    reader.connect()
    client = JpkiClient(reader)
    signature = benchmark(_flow, client)
    assert len(signature) == 256
    benchmark.extra_info["flows_per_second"] = 1.0 / benchmark.stats.stats.mean


def test_rsa_sign_alone(benchmark):
    """The floor under one flow: one RSA-2048 PKCS#1 v1.5 signature over a prehashed SHA-256."""
    key = personalisation().auth_key
    benchmark(key.sign, b"\x00" * 32, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


@pytest.mark.system
def test_auth_flow_through_pcscd_and_vpcd(benchmark, tmp_path):
    """The same flow with the card in `twin card serve` behind pcscd's vpcd reader (pyscard)."""
    from real_backends.pcsc import PcscReader

    with running_pcscd(tmp_path) as daemon:
        perso_file = personalisation().save(tmp_path / "card.json")
        with served_card(daemon, perso_file), PcscReader(daemon.reader) as reader:
            client = JpkiClient(reader)
            signature = benchmark.pedantic(_flow, args=(client,), rounds=200, warmup_rounds=5)
            assert len(signature) == 256
            benchmark.extra_info["median_ms"] = benchmark.stats.stats.median * 1000


def _fuzz_run(n: int, pinless: bool = False) -> int:
    perso = dataclasses.replace(personalisation(), pinless=pinless)
    apdus = corpus(perso)
    rng = np.random.default_rng(20260401)
    kind = PinlessChecker if pinless else InvariantChecker
    checker = kind(MynaCardOS(perso), perso)
    checker.card.powerUp()
    for i in range(n):
        if i % 500 == 0:  # a fresh card now and then, so that blocked PINs do not end the story
            checker = kind(MynaCardOS(perso), perso)
            checker.card.powerUp()
        base = apdus[int(rng.integers(len(apdus)))]
        checker.run(base if rng.random() < 0.3 else mutate(base, rng))
    return n


def test_fuzz_100k_apdus_keep_the_invariants(benchmark):
    """100,000 client and mutated APDUs; every answer checked (InvariantChecker asserts)."""
    done = benchmark.pedantic(_fuzz_run, args=(FUZZ_APDUS,), rounds=1, iterations=1)
    assert done == FUZZ_APDUS
    benchmark.extra_info["apdus_per_second"] = FUZZ_APDUS / benchmark.stats.stats.mean


def test_fuzz_100k_apdus_on_a_pinless_card(benchmark):
    """The PIN-less card: 100,000 APDUs, no crash, never a signature, never a PIN, My Number only after 照合番号A."""
    done = benchmark.pedantic(_fuzz_run, args=(FUZZ_APDUS, True), rounds=1, iterations=1)
    assert done == FUZZ_APDUS
    benchmark.extra_info["apdus_per_second"] = FUZZ_APDUS / benchmark.stats.stats.mean
