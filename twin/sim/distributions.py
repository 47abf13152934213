"""Service-time distributions: how long one customer keeps a clerk busy.

A clerk checking a My Number card application takes four minutes on average, but some take ten
and a few take forty: the spread matters as much as the mean for how long the queue gets. Each
distribution here is a small frozen object, parameterised explicitly (a mean and a coefficient of
variation, or the distribution's own parameters), with ``mean`` and ``sample(rng, n)``; random
numbers always come from the numpy ``Generator`` passed in, so the same seed gives the same
times. Units are whatever the caller uses; the stations use hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Distribution(Protocol):
    """What a station needs from a service-time (or patience, or repair-time) distribution."""

    @property
    def mean(self) -> float: ...

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    allowed = ">= 0" if allow_zero else "> 0"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a finite number {allowed}") from None
    ok = v >= 0 if allow_zero else v > 0
    if not ok or not math.isfinite(v):
        raise ValueError(f"{name} = {v!r}: must be a finite number {allowed}")
    return v


def _count(n: int) -> int:
    if int(n) != n or n < 0:
        raise ValueError(f"n = {n!r}: the number of samples must be a whole number >= 0")
    return int(n)


@dataclass(frozen=True)
class Exponential:
    """Memoryless times with the given mean (the M in M/M/c)."""

    mean: float

    def __post_init__(self) -> None:
        _positive("Exponential.mean", self.mean)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, _count(n))


@dataclass(frozen=True)
class Deterministic:
    """Every customer takes exactly ``value`` (a machine with a fixed cycle)."""

    value: float

    def __post_init__(self) -> None:
        _positive("Deterministic.value", self.value, allow_zero=True)

    @property
    def mean(self) -> float:
        return float(self.value)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(_count(n), float(self.value))


@dataclass(frozen=True)
class LogNormal:
    """Right-skewed times given by their ``mean`` and coefficient of variation ``cv`` (std / mean)."""

    mean: float
    cv: float

    def __post_init__(self) -> None:
        _positive("LogNormal.mean", self.mean)
        _positive("LogNormal.cv", self.cv)

    @property
    def sigma(self) -> float:
        return math.sqrt(math.log1p(self.cv**2))

    @property
    def mu(self) -> float:
        return math.log(self.mean) - self.sigma**2 / 2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, _count(n))


@dataclass(frozen=True)
class Gamma:
    """Gamma times with ``shape`` k and ``scale`` theta (mean k*theta); see :meth:`from_mean_cv`."""

    shape: float
    scale: float

    def __post_init__(self) -> None:
        _positive("Gamma.shape", self.shape)
        _positive("Gamma.scale", self.scale)

    @classmethod
    def from_mean_cv(cls, mean: float, cv: float) -> Gamma:
        _positive("Gamma mean", mean)
        _positive("Gamma cv", cv)
        shape = 1.0 / cv**2
        return cls(shape=shape, scale=mean / shape)

    @property
    def mean(self) -> float:
        return self.shape * self.scale

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.shape, self.scale, _count(n))


@dataclass(frozen=True)
class Empirical:
    """Resampling of observed times (e.g. measured from the real services), optionally weighted."""

    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None
    _p: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        vals = np.asarray(self.values, dtype=np.float64)
        if vals.ndim != 1 or len(vals) == 0:
            raise ValueError("Empirical.values: need at least one observed value")
        if not np.all(np.isfinite(vals)) or np.any(vals < 0):
            bad = vals[~(np.isfinite(vals) & (vals >= 0))][0]
            raise ValueError(f"Empirical.values: {float(bad)!r} is not a finite time >= 0")
        object.__setattr__(self, "values", tuple(vals.tolist()))
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=np.float64)
            if w.shape != vals.shape:
                raise ValueError(f"Empirical.weights: {len(w)} weights for {len(vals)} values; need one per value")
            if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise ValueError("Empirical.weights: must be finite, >= 0 and not all zero")
            object.__setattr__(self, "weights", tuple(w.tolist()))
            object.__setattr__(self, "_p", w / w.sum())

    @property
    def mean(self) -> float:
        vals = np.asarray(self.values)
        return float(vals.mean() if self._p is None else vals @ self._p)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        idx = rng.choice(len(self.values), size=_count(n), p=self._p)
        return np.asarray(self.values)[idx]
