"""Downtime as sets of time intervals: when was it down, and for how long, exactly.

An operations log says "relay server down 10:02-11:40, again 14:10-14:25". A service with a hot
standby is down only while both copies are down; a service is down whenever any of its hard
dependencies is. Those are set operations on down intervals: union ("any of them is down"),
intersection ("all of them are down"), and more generally "at least k of n are down". This
module does that algebra exactly (no time grid), on sorted arrays of disjoint half-open
intervals ``[start, end)`` in hours, with a sweep over start/end events, so availability figures
are exact to float precision and can be checked against closed forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Intervals:
    """Disjoint, sorted half-open intervals ``[starts[i], ends[i])`` (hours)."""

    starts: np.ndarray
    ends: np.ndarray

    @staticmethod
    def empty() -> Intervals:
        return Intervals(np.zeros(0), np.zeros(0))

    @staticmethod
    def of(starts: Sequence[float] | np.ndarray, ends: Sequence[float] | np.ndarray) -> Intervals:
        """Any intervals (overlapping, unsorted, empty ones allowed) normalised to a disjoint set."""
        s = np.asarray(starts, dtype=np.float64)
        e = np.asarray(ends, dtype=np.float64)
        if s.shape != e.shape:
            raise ValueError(f"interval starts ({s.size}) and ends ({e.size}) differ in number")
        if np.any(e < s):
            i = int(np.flatnonzero(e < s)[0])
            raise ValueError(f"interval {i}: ends at {e[i]} before it starts at {s[i]}")
        return at_least(1, [(s, e)])

    def __len__(self) -> int:
        return int(self.starts.size)

    @property
    def total(self) -> float:
        """Total length (hours)."""
        return float((self.ends - self.starts).sum())

    def clip(self, t0: float, t1: float) -> Intervals:
        s = np.clip(self.starts, t0, t1)
        e = np.clip(self.ends, t0, t1)
        keep = e > s
        return Intervals(s[keep], e[keep])

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        """Down time accumulated in ``[-inf, t)`` for each ``t`` (exact, piecewise linear)."""
        t = np.asarray(t, dtype=np.float64)
        if not len(self):
            return np.zeros_like(t)
        before = np.concatenate([[0.0], np.cumsum(self.ends - self.starts)])
        i = np.searchsorted(self.starts, t, side="right")  # intervals starting at or before t
        j = np.maximum(i - 1, 0)
        partial = np.where(i > 0, np.clip(t - self.starts[j], 0.0, self.ends[j] - self.starts[j]), 0.0)
        return before[j] + partial

    def per_bin(self, edges: np.ndarray) -> np.ndarray:
        """Down time inside each bin ``[edges[k], edges[k+1])`` (e.g. hours of the year)."""
        return np.diff(self.cumulative(edges))

    def shifted_ends(self, limit: np.ndarray | float) -> Intervals:
        """Each interval cut to at most ``limit`` hours long (an outage a failover ends early)."""
        e = np.minimum(self.ends, self.starts + limit)
        return Intervals.of(self.starts, np.maximum(e, self.starts))


def at_least(k: int, sets: Sequence[Intervals | tuple[np.ndarray, np.ndarray]]) -> Intervals:
    """Times covered by at least ``k`` of the given interval sets (1: union; len(sets): intersection).

    Each set must itself be disjoint (an :class:`Intervals`) except when ``k == 1``.
    """
    if k < 1:
        raise ValueError(f"k = {k}: need at least one set down")
    pairs = [(x.starts, x.ends) if isinstance(x, Intervals) else x for x in sets]
    if not pairs:
        return Intervals.empty()
    s = np.concatenate([np.asarray(p[0], dtype=np.float64) for p in pairs])
    e = np.concatenate([np.asarray(p[1], dtype=np.float64) for p in pairs])
    keep = e > s
    s, e = s[keep], e[keep]
    if not s.size:
        return Intervals.empty()
    times = np.concatenate([s, e])
    delta = np.concatenate([np.ones(s.size, np.int64), -np.ones(e.size, np.int64)])
    # ends before starts at the same instant: [a, b) and [b, c) touch but do not overlap
    order = np.lexsort((delta, times))
    times, delta = times[order], delta[order]
    depth = np.cumsum(delta)
    inside = depth >= k
    prev = np.concatenate([[False], inside[:-1]])
    opens = times[inside & ~prev]
    closes = times[~inside & prev]
    if not opens.size:
        return Intervals.empty()
    # merge [a, b) [b, c) into [a, c)
    gap = opens[1:] > closes[:-1]
    first = np.concatenate([[True], gap])
    last = np.concatenate([gap, [True]])
    return Intervals(opens[first], closes[last])


def union(*sets: Intervals) -> Intervals:
    return at_least(1, sets)


def intersect(*sets: Intervals) -> Intervals:
    return at_least(len(sets), sets) if sets else Intervals.empty()


def minus(a: Intervals, b: Intervals, horizon: float) -> Intervals:
    """Times in ``a`` but not in ``b`` (within ``[0, horizon)``)."""
    return intersect(a, complement(b, horizon))


def complement(a: Intervals, horizon: float) -> Intervals:
    a = a.clip(0.0, horizon)
    s = np.concatenate([[0.0], a.ends])
    e = np.concatenate([a.starts, [horizon]])
    keep = e > s
    return Intervals(s[keep], e[keep])
