"""What every service station shares: its set-up, its inputs and its clipboard.

A station is a counter with ``servers`` positions, a service-time distribution, optionally opening
hours from a :class:`~twin.sim.calendar.Calendar`, a :class:`~twin.sim.capacity.StaffSchedule`,
:class:`~twin.sim.capacity.Failures` and a patience distribution (customers who are not being served
within their patience leave: reneging). The per-customer SimPy :class:`~twin.sim.station.Station`
and the vectorised :class:`~twin.sim.batch.BatchStation` take the same arguments and draw their
random numbers in the same order, so with the same seed and arrivals they see the same customers.

Patience counts from the later of arrival and the next opening of the counter (someone who
arrives at night is not impatient before the doors open); breakdowns and rosters do not restart
it. Customers are served first-come first-served.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import simpy

from twin.metrics import Metrics
from twin.sim.calendar import Calendar
from twin.sim.capacity import CapacityPlan, Failures, StaffSchedule, capacity_plan
from twin.sim.distributions import Distribution
from twin.sim.probes import CustomerLog, record_series


class StationBase:
    """Set-up, input checks and metrics common to both station implementations."""

    _ordered_batches = True  # later submissions may not arrive before earlier ones (FIFO by recursion)

    def __init__(
        self,
        env: simpy.Environment | None,
        servers: int,
        service: Distribution,
        *,
        rng: np.random.Generator,
        calendar: Calendar | None = None,
        staff: StaffSchedule | None = None,
        failures: Failures | None = None,
        patience: Distribution | None = None,
        horizon: float | None = None,
        name: str = "station",
    ) -> None:
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if not isinstance(service, Distribution):
            raise ValueError(f"service must be a distribution with mean and sample(rng, n), got {service!r}")
        if patience is not None and not isinstance(patience, Distribution):
            raise ValueError(f"patience must be a distribution with mean and sample(rng, n), got {patience!r}")
        self.env = env
        self.servers = servers
        self.service = service
        self.rng = rng
        self.calendar = calendar
        self.staff = staff
        self.failures = failures
        self.patience = patience
        self.name = name
        if horizon is None and calendar is not None:
            horizon = calendar.horizon
        self.horizon = horizon
        down = None
        if failures is not None:
            if horizon is None:
                raise ValueError("failures need a horizon: pass a calendar or horizon=<hours>")
            down = failures.down_intervals(rng, horizon)
        self.down = down
        self.plan: CapacityPlan = capacity_plan(
            servers,
            calendar=calendar,
            staff=staff,
            down=down,
        )
        self._last_arrival = -np.inf
        self._logs: list[CustomerLog] = []

    # ---- inputs -----------------------------------------------------------------------------------
    def _inputs(
        self,
        arrivals: np.ndarray,
        service_times: np.ndarray | None,
        patience_times: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Check arrivals, draw missing service and patience times; return (a, s, deadline)."""
        a = np.asarray(arrivals, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"arrivals must be a 1-D array of hours, got shape {a.shape}")
        n = len(a)
        if n and not np.all(np.isfinite(a)):
            raise ValueError(f"arrivals: {float(a[~np.isfinite(a)][0])!r} is not a finite time in hours")
        if n and np.any(np.diff(a) < 0):
            i = int(np.flatnonzero(np.diff(a) < 0)[0])
            raise ValueError(f"arrivals must be sorted: arrivals[{i + 1}] = {a[i + 1]} < arrivals[{i}] = {a[i]}")
        now = self.env.now if self.env is not None else 0.0
        floor = max(now, self._last_arrival) if self._ordered_batches else now
        if n and a[0] < floor:
            raise ValueError(
                f"arrivals[0] = {a[0]} is before {floor} (the clock or the last arrival already submitted); "
                "customers are submitted in arrival order"
            )
        s = self.service.sample(self.rng, n) if service_times is None else np.asarray(service_times, np.float64)
        if s.shape != a.shape:
            raise ValueError(f"service_times has shape {s.shape}, arrivals has {a.shape}; need one per customer")
        if n and (not np.all(np.isfinite(s)) or np.any(s < 0)):
            raise ValueError("service_times must be finite and >= 0")
        if patience_times is not None:
            p = np.asarray(patience_times, dtype=np.float64)
            if p.shape != a.shape:
                raise ValueError(f"patience_times has shape {p.shape}, arrivals has {a.shape}; need one per customer")
            if n and (np.any(np.isnan(p)) or np.any(p < 0)):
                raise ValueError("patience_times must be >= 0 (inf for customers who never leave)")
        elif self.patience is not None:
            p = self.patience.sample(self.rng, n)
        else:
            p = np.full(n, np.inf)
        clock = self.calendar.next_open(a) if self.calendar is not None else a
        deadline = np.asarray(clock) + p
        if n:
            self._last_arrival = float(a[-1])
        return a, s, deadline

    # ---- outputs ----------------------------------------------------------------------------------
    def log(self) -> CustomerLog:
        """Every customer submitted so far, in arrival order."""
        return CustomerLog.concat(self._collect())

    def _collect(self) -> list[CustomerLog]:
        return self._logs

    def _lost_service(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None

    def record_series(
        self,
        metrics: Metrics,
        *,
        bin_hours: float = 1.0,
        until: float | None = None,
        origin: dt.datetime | None = None,
        option: str = "",
        **labels: object,
    ) -> None:
        """Queue length, busy servers, servers available and utilisation per bin, as tidy rows
        labelled ``station=<name>`` (plus ``labels``)."""
        if until is None:
            until = self.env.now if self.env is not None else self.horizon
        if until is None:
            raise ValueError("until: give the end of the period to bin (hours), the station has no horizon")
        record_series(
            metrics,
            self.log(),
            self.plan,
            bin_hours=bin_hours,
            until=until,
            calendar=self.calendar,
            origin=origin,
            lost=self._lost_service(),
            option=option,
            station=self.name,
            **labels,
        )
