"""Overload collapse: below capacity nothing fails; above it retries make it worse; admission control caps it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.models.failover.engine import overload, p99_response, retry_factors


def test_below_capacity_nothing_fails_and_nobody_retries() -> None:
    f, made, fail = overload(np.array([10.0, 99.0]), np.array([100.0, 100.0]), 0.7, 3, 2.0, False)
    np.testing.assert_allclose(f, 0.0)
    np.testing.assert_allclose(made, 1.0)
    np.testing.assert_allclose(fail, 0.0)


@settings(max_examples=60, deadline=None)
@given(st.floats(1.05, 5.0), st.floats(0.0, 0.95))
def test_collapse_is_worse_than_admission_control_and_retries_amplify(x: float, r: float) -> None:
    first, cap = np.array([x * 100.0]), np.array([100.0])
    f_c, made_c, fail_c = overload(first, cap, r, 3, 2.0, False)
    f_a, made_a, fail_a = overload(first, cap, r, 3, 2.0, True)
    assert fail_c[0] >= fail_a[0] - 1e-9
    assert made_c[0] >= 1.0 and made_a[0] >= 1.0
    # goodput under admission control is the capacity (to the fixed point's precision)
    goodput = first[0] * made_a[0] * (1 - f_a[0])
    assert abs(goodput - 100.0) < 1.0


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(1, 6))
def test_retry_factors_are_probabilities_and_sum_to_the_expected_attempts(f: float, r: float, n: int) -> None:
    made, fail = retry_factors(np.array([f]), r, n)
    assert 0.0 <= fail[0] <= 1.0 + 1e-12
    assert 1.0 <= made[0] <= n + 1e-12
    # a request succeeds on some attempt or fails: check by direct enumeration
    ok = sum((f * r) ** k * (1 - f) for k in range(n))
    assert abs(ok + fail[0] - 1.0) < 1e-9


def test_p99_grows_with_load_and_is_the_timeout_at_capacity() -> None:
    lo = p99_response(100.0, 1000.0, 0.1, 30.0)
    hi = p99_response(980.0, 1000.0, 0.1, 30.0)
    assert 0.1 * np.log(100) <= lo < hi < 30.0
    assert p99_response(1000.0, 1000.0, 0.1, 30.0) == 30.0
