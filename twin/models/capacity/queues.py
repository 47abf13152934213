"""A server pool hour by hour: Erlang C while it keeps up, a fluid backlog when it does not.

Picture the OCSP responders on a Monday at 09:00: a few thousand requests a second, spread over a
pool of identical workers, each taking a measured fraction of a millisecond. Within an hour the
arrival rate hardly changes, so each hour is an M/M/c queue in steady state (Erlang C, from
:mod:`twin.sim.erlang`): the response time is the Erlang wait (an atom at zero and an exponential
tail) plus an exponential service, whose distribution has a closed form. When an hour asks for more
than the pool can do, the queue is a fluid: the excess piles up, waits grow as backlog over
capacity, and requests that would wait longer than the timeout give up and count as timeouts.

Everything is vectorised over hours, so a year of hours for four pools takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

HOUR = 3600.0


def erlang_c_vec(lam: np.ndarray, mu: np.ndarray, c: int) -> np.ndarray:
    """P(wait) for each hour (lam, mu per second; nan where lam >= c mu), Erlang B recursion."""
    lam = np.asarray(lam, dtype=float)
    mu = np.broadcast_to(np.asarray(mu, dtype=float), lam.shape)
    a = lam / mu
    b = np.ones_like(a)
    for k in range(1, int(c) + 1):
        b = a * b / (k + a * b)
    rho = a / c
    with np.errstate(invalid="ignore", divide="ignore"):
        pw = b / (1.0 - rho * (1.0 - b))
    return np.where(rho < 1.0, np.where(lam > 0, pw, 0.0), np.nan)


def mmc_tail(lam: np.ndarray, mu: np.ndarray, c: int, pw: np.ndarray) -> Callable[[float], np.ndarray]:
    """``t -> P(response > t)`` in a stable M/M/c hour: (1 - C) e^{-mu t} + C * P(Exp(c mu - lam) + Exp(mu) > t),
    with what does not depend on ``t`` (the rates' split, ``np.isclose`` of the two) worked out once: a quantile's
    bisection asks for the tail about a hundred times, and on a one-hour pool numpy's per-call cost is the whole
    cost. Call the returned function inside an errstate that ignores over/invalid/divide (:meth:`PoolHours.sf`)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mu = np.broadcast_to(np.asarray(mu, dtype=float), np.shape(lam))
        a = c * mu - lam
        same = np.isclose(a, mu, rtol=1e-9)
        gap = np.where(same, 1.0, a - mu)
        neg_mu, neg_a, stay = -mu, -a, 1 - pw

    def at(t: float | np.ndarray) -> np.ndarray:
        ta = np.asarray(t, dtype=float)
        e = np.exp(neg_mu * ta)
        hypo = np.where(same, (1 + mu * ta) * e, (a * e - mu * np.exp(neg_a * ta)) / gap)
        return stay * e + pw * hypo

    return at


@dataclass(frozen=True)
class PoolHours:
    """One pool's hours: what came, what was served, how long it took."""

    arrivals: np.ndarray  # requests per hour
    service_seconds: np.ndarray  # mean service time per hour
    servers: int
    utilisation: np.ndarray  # busy share of the pool (<= 1)
    p_wait: np.ndarray  # Erlang C per stable hour, 1 in overloaded hours
    backlog_wait: np.ndarray  # seconds of fluid backlog ahead of a request (0 in stable hours)
    timeouts: np.ndarray  # requests per hour that gave up
    timeout_seconds: float

    def sf(self, t: float) -> np.ndarray:
        """P(response > t) per hour."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._tail()(t)

    def _tail(self) -> Callable[[float], np.ndarray]:
        """``t -> P(response > t)`` per hour: :func:`mmc_tail` in the stable hours (its t-free parts worked out
        once), the fluid backlog's wait then service in the overloaded ones. Call it inside an errstate that ignores
        over/invalid/divide, as :meth:`sf` does."""
        mu = 1.0 / self.service_seconds
        stable_tail = mmc_tail(self.arrivals / HOUR, mu, self.servers, np.nan_to_num(self.p_wait, nan=1.0))
        stable, neg_mu, backlog = self.backlog_wait <= 0, -mu, self.backlog_wait

        def at(t: float) -> np.ndarray:
            s_over = np.where(t < backlog, 1.0, np.exp(neg_mu * np.maximum(t - backlog, 0.0)))
            return np.where(stable, stable_tail(t), s_over)

        return at

    def quantile(self, q: float, hours: np.ndarray | None = None) -> float:
        """Response-time quantile over the requests of ``hours`` (all by default), by bisection."""
        if not 0 < q < 1:
            raise ValueError(f"q = {q!r}: a quantile level must be in (0, 1)")
        w = self.arrivals if hours is None else np.where(hours, self.arrivals, 0.0)
        total = w.sum()
        if total <= 0:
            return 0.0

        tail = self._tail()

        def above(t: float) -> bool:  # more than 1 - q of the requests take longer than t
            return bool((w * tail(t)).sum() / total > 1 - q)

        # Bracket first: near saturation the tail runs to many service times (M/M/1 at rho 0.94 has its
        # p99 at 73 s for 1 s of service), so a fixed ceiling would cut the quantile short.
        lo, hi = 0.0, float(np.max(self.backlog_wait) + np.max(self.service_seconds) + 1.0)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while above(hi):
                lo, hi = hi, 2 * hi
                if not np.isfinite(hi):
                    raise ArithmeticError(f"the {q} quantile of the response time is not finite")
            for _ in range(80):
                mid = 0.5 * (lo + hi)
                if above(mid):
                    lo = mid
                else:
                    hi = mid
        return hi


def simulate_pool(arrivals: np.ndarray, service_seconds: np.ndarray, servers: int, timeout: float) -> PoolHours:
    """Run the pool through the hours: Erlang C while stable, fluid backlog with abandonment otherwise."""
    arrivals = np.asarray(arrivals, dtype=float)
    s = np.broadcast_to(np.asarray(service_seconds, dtype=float), arrivals.shape).copy()
    if np.any(arrivals < 0) or not np.all(np.isfinite(arrivals)):
        raise ValueError("arrivals: requests per hour must be finite and >= 0")
    if np.any(s <= 0):
        raise ValueError("service_seconds: must be > 0")
    if int(servers) != servers or servers < 1:
        raise ValueError(f"servers = {servers!r}: a whole number >= 1")
    cap = servers / s * HOUR  # requests the pool can serve per hour
    lam = arrivals / HOUR
    pw = erlang_c_vec(lam, 1.0 / s, servers)
    # fluid backlog, hour by hour (only overloaded stretches carry one)
    n = len(arrivals)
    backlog = np.zeros(n + 1)
    timeouts = np.zeros(n)
    wait = np.zeros(n)
    over = np.flatnonzero(arrivals >= cap * 0.999)
    if len(over):
        for h in range(int(over[0]), n):
            room = cap[h] / HOUR * timeout  # the most that can wait without timing out
            b = backlog[h] + arrivals[h] - cap[h]
            timeouts[h] = max(0.0, b - room)
            backlog[h + 1] = min(max(b, 0.0), room)
            if backlog[h] > 0 or backlog[h + 1] > 0 or arrivals[h] >= cap[h] * 0.999:
                wait[h] = max(0.5 * (backlog[h] + backlog[h + 1]) / cap[h] * HOUR, 1e-12)
    util = np.minimum(arrivals / cap, 1.0)
    pw = np.where(wait > 0, 1.0, pw)
    return PoolHours(arrivals, s, int(servers), util, pw, wait, timeouts, timeout)


@lru_cache(maxsize=4096)
def peak_p99(lam_per_s: float, service_seconds: float, servers: int) -> float:
    """The 99th percentile of response time at a steady ``lam_per_s`` (inf when unstable).

    A pure function of its three numbers, kept (as :func:`knee`): the options of a scenario usually
    share their aggregate demand, so they ask for the same knees and sweep points, and each costs
    about a hundred evaluations of the response-time tail. A kept answer is the same float.
    """
    if lam_per_s * service_seconds >= servers:
        return float("inf")
    ph = simulate_pool(np.array([lam_per_s * HOUR]), np.array([service_seconds]), servers, 1e9)
    return ph.quantile(0.99)


@lru_cache(maxsize=256)
def knee(lam_per_s: float, service_seconds: float, servers: int, slo: float) -> float:
    """The load multiplier at which the peak hour's p99 reaches ``slo`` (bisection)."""
    if lam_per_s <= 0:
        return float("inf")
    if peak_p99(lam_per_s, service_seconds, servers) > slo:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = 1.0, servers / (lam_per_s * service_seconds)  # p99 is infinite at saturation
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if peak_p99(mid * lam_per_s, service_seconds, servers) > slo:
            hi = mid
        else:
            lo = mid
    return lo
