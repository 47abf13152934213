"""Arrivals for an open-model load test: when each request is meant to leave, whatever the server does.

Patients do not wait for the previous patient's eligibility check to finish before walking into the
clinic; in an open model, arrivals follow their own clock. A :class:`RatePlan` is a piecewise
constant rate (requests per second) over the run: constant (``--rate R``), a linear ramp
(``--ramp A:B``, in 1-second steps), or the twin's hourly national demand (the failover model's
Monday with its 09:00 hospital peak, :func:`twin.models.failover.demand.hourly_demand`) with each
hour compressed into ``duration / 24`` seconds and its per-second rate multiplied by ``scale``.
:func:`arrival_times` draws a Poisson process from a plan with a numpy Generator: same seed, same
times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np

PROFILES: Final = {  # load target -> demand profile of the failover model whose curve it follows
    "ocsp": "ocsp", "ocsp-get": "ocsp", "ocsp-live": "ocsp", "portal": "portal",
    "eligibility-card": "eligibility", "eligibility-insurance": "eligibility",
}  # fmt: skip
MAX_ARRIVALS: Final = 5_000_000


@dataclass(frozen=True)
class RatePlan:
    """Rates ``rates[i]`` (per second) during ``[edges[i], edges[i+1])`` seconds from the start."""

    edges: np.ndarray
    rates: np.ndarray
    description: str

    def __post_init__(self) -> None:
        if len(self.edges) != len(self.rates) + 1 or np.any(np.diff(self.edges) <= 0):
            raise ValueError("rate plan: edges must increase and be one longer than rates")
        if np.any(~np.isfinite(self.rates)) or np.any(self.rates < 0):
            raise ValueError("rate plan: rates must be finite and >= 0")

    @property
    def duration(self) -> float:
        return float(self.edges[-1])

    def expected(self) -> float:
        return float(np.sum(self.rates * np.diff(self.edges)))


def _duration(duration: float) -> float:
    if not (isinstance(duration, int | float) and np.isfinite(duration) and 0 < duration <= 86_400):
        raise ValueError(f"--duration: {duration!r} is not allowed; use seconds in (0, 86400]")
    return float(duration)


def constant(rate: float, duration: float) -> RatePlan:
    duration = _duration(duration)
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"--rate: {rate!r} is not allowed; use a number of requests per second > 0")
    return RatePlan(np.array([0.0, duration]), np.array([float(rate)]), f"constant {rate:g}/s")


def parse_ramp(text: str) -> tuple[float, float]:
    """``"A:B"`` -> (A, B) requests per second, both >= 0 and not both 0."""
    parts = text.split(":")
    try:
        a, b = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--ramp: {text!r} is not allowed; use START:END requests per second, e.g. 100:2000") \
            from None
    if not (np.isfinite(a) and np.isfinite(b) and a >= 0 and b >= 0 and a + b > 0):
        raise ValueError(f"--ramp: {text!r} is not allowed; both rates must be >= 0 and not both 0")
    return a, b


def ramp(start: float, end: float, duration: float) -> RatePlan:
    duration = _duration(duration)
    steps = max(1, int(np.ceil(duration)))
    edges = np.linspace(0.0, duration, steps + 1)
    mids = (edges[:-1] + edges[1:]) / 2
    return RatePlan(edges, start + (end - start) * mids / duration, f"ramp {start:g}/s -> {end:g}/s")


def demand_day(demand: object, start: dt.date, target: str, duration: float, scale: float) -> RatePlan:
    """The first Monday on or after ``start`` of the failover model's hourly demand for ``target``."""
    from twin.models.failover.demand import hourly_demand

    if target not in PROFILES:
        raise ValueError(f"target: {target!r} is not allowed; use one of {', '.join(PROFILES)}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"--scale: {scale!r} is not allowed; use a factor > 0")
    duration = _duration(duration)
    monday = start + dt.timedelta(days=(7 - start.weekday()) % 7)
    per_hour = hourly_demand(demand, monday, 1)[PROFILES[target]]
    rates = per_hour / 3600.0 * scale
    return RatePlan(np.linspace(0.0, duration, 25), rates,
                    f"{PROFILES[target]} demand of Monday {monday.isoformat()} x{scale:g}, 1 h = {duration / 24:g} s")


def arrival_times(plan: RatePlan, rng: np.random.Generator) -> np.ndarray:
    """Sorted intended send times (seconds from the start) of a Poisson process following ``plan``."""
    widths = np.diff(plan.edges)
    counts = rng.poisson(plan.rates * widths)
    total = int(counts.sum())
    if total > MAX_ARRIVALS:
        raise ValueError(f"the plan makes {total:,} requests; at most {MAX_ARRIVALS:,} (lower --rate or --duration)")
    starts = np.repeat(plan.edges[:-1], counts)
    out = starts + rng.random(total) * np.repeat(widths, counts)
    out.sort(kind="stable")
    return out
