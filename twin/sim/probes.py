"""Metric probes: what happened to each customer, and the queue seen hour by hour.

The clipboard by the counter: for every customer the time they arrived, when a clerk started on
their case, when they left the counter, and whether they gave up waiting (reneged). These go into
columnar arrays (:class:`CustomerLog`, one element per customer, cheap for millions). From them
:func:`record_series` derives time-binned series — mean queue length, mean busy servers, servers
available, utilisation (busy / positions) — and adds them as tidy rows to
:class:`twin.metrics.Metrics`. Both stations write the same log, so their series are comparable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from twin.metrics import Metrics
from twin.sim.calendar import Calendar
from twin.sim.capacity import CapacityPlan


@dataclass(frozen=True)
class CustomerLog:
    """Per-customer outcomes as parallel arrays (hours). ``start``/``end`` are NaN for customers
    never served (reneged or still waiting); ``left`` is the departure or reneging time (NaN while
    still in the station). Under restart-on-failure, ``start`` is the start of the service that
    completed; interrupted service counts as waiting."""

    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray
    reneged: np.ndarray
    left: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.arrival)
        for name in ("start", "end", "reneged", "left"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"CustomerLog.{name} has {len(getattr(self, name))} entries, arrival has {n}")

    @property
    def wait(self) -> np.ndarray:
        """Time from arrival to start of service (NaN if never served)."""
        return self.start - self.arrival

    @classmethod
    def empty(cls) -> CustomerLog:
        z = np.zeros(0)
        return cls(z, z, z, np.zeros(0, dtype=bool), z)

    @classmethod
    def concat(cls, logs: list[CustomerLog]) -> CustomerLog:
        if not logs:
            return cls.empty()
        return cls(*(np.concatenate([getattr(g, f) for g in logs]) for f in _FIELDS))

    def __len__(self) -> int:
        return len(self.arrival)

    def served(self) -> np.ndarray:
        """Mask of customers whose service has started."""
        return ~np.isnan(self.start)

    def summary(self) -> dict[str, float]:
        """Counts and wait statistics (hours) of the served customers."""
        w = self.wait[self.served()]
        return {
            "customers": float(len(self)),
            "served": float(len(w)),
            "reneged": float(self.reneged.sum()),
            "mean_wait": float(w.mean()) if len(w) else float("nan"),
            "p90_wait": float(np.quantile(w, 0.9)) if len(w) else float("nan"),
            "max_wait": float(w.max()) if len(w) else float("nan"),
        }

    def take(self, index: np.ndarray | slice) -> CustomerLog:
        """The customers selected by ``index`` (a slice, mask or index array)."""
        return CustomerLog(*(getattr(self, f)[index] for f in _FIELDS))


_FIELDS = ("arrival", "start", "end", "reneged", "left")


def mean_occupancy(begin: np.ndarray, finish: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Time-average number of intervals [begin, finish) open in each bin of ``edges``.

    NaN ``finish`` means still open (counted to the end). Exact, O(n log n), no per-bin loop.
    """
    b = np.sort(np.asarray(begin, dtype=np.float64))
    f = np.asarray(finish, dtype=np.float64)
    f = np.sort(np.where(np.isnan(f), np.inf, f))
    e = np.asarray(edges, dtype=np.float64)

    def area(sorted_x: np.ndarray) -> np.ndarray:
        # sum over i of min(x_i, e) - 0 for each edge e, via prefix sums
        k = np.searchsorted(sorted_x, e, side="right")
        finite = np.where(np.isfinite(sorted_x), sorted_x, 0.0)
        prefix = np.concatenate([[0.0], np.cumsum(finite)])
        return prefix[k] + e * (len(sorted_x) - k)

    integral = area(f) - area(b)
    return np.diff(integral) / np.diff(e)


def record_series(
    metrics: Metrics,
    log: CustomerLog,
    plan: CapacityPlan,
    *,
    bin_hours: float,
    until: float,
    calendar: Calendar | None = None,
    origin: dt.datetime | None = None,
    lost: tuple[np.ndarray, np.ndarray] | None = None,
    option: str = "",
    **labels: object,
) -> None:
    """Add ``queue_length``, ``busy_servers``, ``servers_available`` and ``utilisation`` series,
    time-averaged per bin of ``bin_hours`` over [0, until), stamped with each bin's start."""
    if not (bin_hours > 0 and np.isfinite(bin_hours)):
        raise ValueError(f"bin_hours = {bin_hours!r}: must be a finite number of hours > 0")
    if not (until > 0 and np.isfinite(until)):
        raise ValueError(f"until = {until!r}: must be a finite number of hours > 0")
    if calendar is None and origin is None:
        raise ValueError("record_series needs a calendar or an origin datetime to stamp the bins")
    edges = np.arange(0.0, until + bin_hours * 0.5, bin_hours)
    if edges[-1] < until:
        edges = np.append(edges, until)
    edges[-1] = until
    served = log.served()
    queue_end = np.where(served, log.start, log.left)
    queue = mean_occupancy(log.arrival, queue_end, edges)
    busy_b, busy_f = log.start[served], log.end[served]
    if lost is not None and len(lost[0]):
        busy_b = np.concatenate([busy_b, lost[0]])
        busy_f = np.concatenate([busy_f, lost[1]])
    busy = mean_occupancy(busy_b, busy_f, edges)
    available = plan.server_hours(edges) / np.diff(edges)
    if calendar is not None:
        times = calendar.to_datetime64(edges[:-1])
    else:
        times = np.datetime64(origin, "ms") + np.round(edges[:-1] * 3_600_000).astype("timedelta64[ms]")
    metrics.add_series("queue_length", times, queue, option=option, **labels)
    metrics.add_series("busy_servers", times, busy, option=option, **labels)
    metrics.add_series("servers_available", times, available, option=option, **labels)
    metrics.add_series("utilisation", times, busy / plan.total, option=option, **labels)
