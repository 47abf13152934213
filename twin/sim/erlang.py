"""Erlang C: the textbook answer for c clerks, Poisson arrivals and exponential service (M/M/c).

A call centre with ten operators receives 8 calls an hour per operator-hour of work; how likely is
a caller to wait, and for how long? Erlang's formula answers exactly for the M/M/c queue (Poisson
arrivals at rate ``lam``, exponential service at rate ``mu`` per server, ``c`` servers, FIFO, an
infinite waiting room, nobody leaves). The stations are checked against it, and models use it for
first-cut staffing. The formula is computed through the Erlang B recursion, which is stable for
hundreds of servers.
"""

from __future__ import annotations

import math

import numpy as np


def _check(lam: float, mu: float, c: int) -> float:
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lam = {lam!r}: the arrival rate must be a finite number > 0")
    if not (mu > 0 and math.isfinite(mu)):
        raise ValueError(f"mu = {mu!r}: the service rate must be a finite number > 0")
    if int(c) != c or c < 1:
        raise ValueError(f"c = {c!r}: the number of servers must be a whole number >= 1")
    rho = lam / (c * mu)
    if rho >= 1:
        raise ValueError(f"utilisation lam/(c*mu) = {rho:.4g} >= 1: the queue grows without bound")
    return rho


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of c servers offered ``a`` erlangs (M/M/c/c)."""
    b = 1.0
    for k in range(1, int(c) + 1):
        b = a * b / (k + a * b)
    return b


def p_wait(lam: float, mu: float, c: int) -> float:
    """Probability that an arriving customer has to wait (Erlang C)."""
    rho = _check(lam, mu, c)
    b = erlang_b(c, lam / mu)
    return b / (1.0 - rho * (1.0 - b))


def mean_wait(lam: float, mu: float, c: int) -> float:
    """Mean time in the queue before service starts (Wq)."""
    return p_wait(lam, mu, c) / (c * mu - lam)


def mean_response(lam: float, mu: float, c: int) -> float:
    """Mean time in the system: queue plus service (W = Wq + 1/mu)."""
    return mean_wait(lam, mu, c) + 1.0 / mu


def mean_queue_length(lam: float, mu: float, c: int) -> float:
    """Mean number waiting (Lq = lam * Wq, Little's law)."""
    return lam * mean_wait(lam, mu, c)


def wait_cdf(t: np.ndarray | float, lam: float, mu: float, c: int) -> np.ndarray | float:
    """P(Wq <= t): an atom 1 - C at zero, then an exponential tail with rate c*mu - lam."""
    pw = p_wait(lam, mu, c)
    tt = np.asarray(t, dtype=np.float64)
    out = np.where(tt < 0, 0.0, 1.0 - pw * np.exp(-(c * mu - lam) * np.maximum(tt, 0.0)))
    return float(out) if np.ndim(t) == 0 else out


def wait_quantile(q: float, lam: float, mu: float, c: int) -> float:
    """The q-quantile of the waiting time (0 while q is within the no-wait atom)."""
    if not 0 <= q < 1:
        raise ValueError(f"q = {q!r}: a quantile level must be in [0, 1)")
    pw = p_wait(lam, mu, c)
    if q <= 1 - pw:
        return 0.0
    return math.log(pw / (1 - q)) / (c * mu - lam)
