"""Code issuance: one code per person per body; the issuer alone can map between bodies.

Specification: a body's code decodes (for the issuer) to the person's resident-register code and to
no other body; two bodies' codes for the same people show no relation anyone without the secret
could use -- no bit agrees more often than chance, no order is preserved, no XOR or difference is
shared -- and the same checks catch a naive scheme that has one.
"""

from __future__ import annotations

import numpy as np
import pytest
from linkage_world import SECRET
from scipy import stats

from twin.services.linkage import AgencyCode, CodeError, CodeIssuer, directory

D = directory()
A, B = "muni:131016", "jps"
N = 2000


@pytest.fixture(scope="module")
def issuer() -> CodeIssuer:
    return CodeIssuer(SECRET, D.number)


def as_ints(codes: list[AgencyCode]) -> list[int]:
    return [int(c.hex, 16) for c in codes]


def bit_matrix(values: list[int]) -> np.ndarray:
    raw = np.frombuffer(b"".join(v.to_bytes(16, "big") for v in values), dtype=np.uint8).reshape(-1, 16)
    return np.unpackbits(raw, axis=1)


def ranks(values: list[int]) -> np.ndarray:
    out = np.empty(len(values), dtype=np.int64)
    out[sorted(range(len(values)), key=values.__getitem__)] = np.arange(len(values))
    return out


def unlinkability_problems(a: list[int], b: list[int], rrc: list[int]) -> list[str]:
    """What a linker could exploit between two bodies' codes for the same people (empty: nothing found)."""
    problems = []
    n = len(a)
    agree = (bit_matrix(a) == bit_matrix(b)).mean(axis=0)
    worst = float(np.abs(agree - 0.5).max())
    if worst > 5 * np.sqrt(0.25 / n):  # 5 sigma over 128 bit positions
        problems.append(f"a bit position agrees in {0.5 + worst:.3f} of people")
    if len({x ^ y for x, y in zip(a, b, strict=True)}) < n:
        problems.append("two people share code_A XOR code_B")
    if len({(x - y) % 2**128 for x, y in zip(a, b, strict=True)}) < n:
        problems.append("two people share code_A - code_B")
    for name, other in (("code_B", b), ("resident-register code", rrc)):
        rho = stats.pearsonr(ranks(a), ranks(other)).statistic  # Spearman's rho
        if abs(rho) > 5 / np.sqrt(n):
            problems.append(f"code_A order predicts {name} order (rho {rho:.3f})")
    return problems


def test_the_issuer_maps_a_code_back_and_across_bodies(issuer):
    code = issuer.issue(A, 12345678901)
    assert len(code.hex) == 32 and not code.hex.isdigit()
    assert issuer.resident_code(A, code) == 12345678901
    assert issuer.translate(code, A, B) == issuer.issue(B, 12345678901)
    assert issuer.issue(A, 12345678901) == code  # one code per person per body, every time


def test_a_code_is_refused_when_presented_by_another_body_or_made_up(issuer):
    code = issuer.issue(A, 42)
    with pytest.raises(CodeError, match="not one issued to body 'jps'"):
        issuer.resident_code(B, code)
    with pytest.raises(CodeError, match="not one issued"):
        issuer.resident_code(A, AgencyCode("00" * 16))
    with pytest.raises(CodeError, match="not 32 hex digits"):
        issuer.resident_code(A, AgencyCode("123456789012"))
    with pytest.raises(CodeError, match="not in the directory"):
        issuer.issue("muni:999999", 42)
    with pytest.raises(CodeError, match="at most 11 digits"):
        issuer.issue(A, 10**11)


def test_without_the_secret_nobody_can_map_between_bodies(issuer):
    other = CodeIssuer(bytes(32), D.number)  # a party with another key
    code = issuer.issue(A, 777)
    with pytest.raises(CodeError):
        other.resident_code(A, code)
    assert other.issue(A, 777) != code and other.fingerprint != issuer.fingerprint


def test_two_bodies_codes_for_the_same_people_are_unlinkable(issuer):
    rrc = list(range(10**10, 10**10 + N))  # consecutive codes: the most structured input there is
    a = as_ints([issuer.issue(A, r) for r in rrc])
    b = as_ints([issuer.issue(B, r) for r in rrc])
    assert unlinkability_problems(a, b, rrc) == []
    assert len(set(a)) == N and not set(a) & set(b)


def test_the_unlinkability_checks_catch_naive_schemes():
    rrc = list(range(10**10, 10**10 + N))
    mask = 0x5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A
    body_xor = [r ^ mask for r in rrc]  # "code = rrc XOR per-body constant"
    assert any("XOR" in p for p in unlinkability_problems(rrc, body_xor, rrc))
    offset = [(r * 3 + 11) % 2**128 for r in rrc]  # "code = affine(rrc)"
    found = unlinkability_problems(rrc, offset, rrc)
    assert any("order" in p for p in found)
