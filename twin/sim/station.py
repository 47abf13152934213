"""The reference station: one SimPy process per customer at a counter with c clerks.

A ward office counter (区役所の窓口) has three clerks. Residents arrive, take a ticket and wait in
one first-come first-served line; a free clerk calls the next ticket; a resident who has waited
longer than their patience goes home. The counter opens 08:30-17:15 on business days: people who
come while it is closed wait for it to open, and a case in progress at closing time is finished.
The roster can change the number of clerks during the day, and the system can break down.

Each customer is a SimPy process holding a request on a :class:`simpy.PreemptiveResource` with one
slot per counter position. Opening hours, rosters and breakdowns are played by a controller process
that takes positions away with high-priority "blocker" requests: a blocker gets the next position
that becomes free, so service in progress finishes. A breakdown with ``in_progress="restart"``
also sends one preempting request per customer in service (even one finishing after closing):
each of them loses the clerk, rejoins the head of the line and repeats the full service once a
position is free again after the repair. This is the readable, extensible version;
:class:`twin.sim.batch.BatchStation` computes the same thing for millions of customers.

    env = simpy.Environment()
    counter = Station(env, 3, LogNormal(mean=0.1, cv=0.8), rng=rng, calendar=cal)
    done = counter.submit(arrival_hours)    # an event: the customers' log once all have left
    env.run(until=cal.horizon)
"""

from __future__ import annotations

import bisect
from collections.abc import Generator

import numpy as np
import simpy
from simpy.core import URGENT

from twin.sim.calendar import Calendar
from twin.sim.capacity import Failures, StaffSchedule
from twin.sim.distributions import Distribution
from twin.sim.probes import CustomerLog
from twin.sim.stationbase import StationBase

_BREAKDOWN = -2  # a breakdown in restart mode: takes the positions of customers in service
_BLOCKER = -1  # positions taken away by the roster, the clock or a breakdown
_RESUME = 0  # customers whose service was interrupted: head of the line
_CUSTOMER = 1


def _key(request: simpy.resources.resource.PriorityRequest) -> tuple:
    return request.key


class _InsortQueue(list):
    """SimPy's :class:`~simpy.resources.resource.SortedQueue`, in the same order: SimPy appends
    and re-sorts the whole line on every request, O(n log n) per arrival, which made an
    overloaded counter with thousands waiting cost milliseconds per customer. A stable sort of a
    sorted list with one item appended puts it after every equal key, as ``insort_right`` does."""

    maxlen = None

    def append(self, item: simpy.resources.resource.PriorityRequest) -> None:
        bisect.insort_right(self, item, key=_key)


class _Counter(simpy.PreemptiveResource):
    PutQueue = _InsortQueue


class Station(StationBase):
    """FIFO multi-server station simulated customer by customer (see module docstring); the log
    is in the order customers were submitted or visited."""

    _ordered_batches = False  # customers are processes: a visit may come before a submitted future arrival

    def __init__(
        self,
        env: simpy.Environment,
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
        if not isinstance(env, simpy.Environment):
            raise ValueError(f"env must be a simpy.Environment, got {type(env).__name__}")
        super().__init__(
            env,
            servers,
            service,
            rng=rng,
            calendar=calendar,
            staff=staff,
            failures=failures,
            patience=patience,
            horizon=horizon,
            name=name,
        )
        self.env: simpy.Environment = env
        self.resource = _Counter(env, capacity=self.plan.total)
        self._arrival: list[float] = []
        self._start: list[float] = []
        self._end: list[float] = []
        self._reneged: list[bool] = []
        self._left: list[float] = []
        self._lost: tuple[list[float], list[float]] = ([], [])
        self._blockers: list[simpy.resources.resource.PreemptiveRequest] = []
        env.process(self._controller())
        if self.failures is not None and self.failures.in_progress == "restart" and self.down is not None:
            env.process(self._breakdowns(self.down[0].tolist(), self.down[1].tolist()))

    # ---- customers ------------------------------------------------------------------------------
    def submit(
        self,
        arrivals: np.ndarray,
        service_times: np.ndarray | None = None,
        patience_times: np.ndarray | None = None,
    ) -> simpy.Event:
        """Customers arriving at ``arrivals`` (hours, sorted, >= now). Missing service/patience
        times are drawn from the station's distributions. Returns an event whose value is the
        :class:`CustomerLog` of these customers, triggered when the last of them has left."""
        a, s, deadline = self._inputs(arrivals, service_times, patience_times)
        first = self._register(a)
        return self.env.process(self._arrivals(first, a.tolist(), s.tolist(), deadline.tolist()))

    def visit(
        self, service_time: float | None = None, patience: float | None = None
    ) -> Generator[simpy.Event, object, int]:
        """One customer arriving now, inside the caller's own process::

        i = yield from counter.visit()      # returns when served (or gone); i indexes log()
        """
        a, s, deadline = self._inputs(
            np.array([self.env.now]),
            None if service_time is None else np.array([service_time]),
            None if patience is None else np.array([patience]),
        )
        idx = self._register(a)
        yield from self._visit(idx, float(s[0]), float(deadline[0]))
        return idx

    def _register(self, a: np.ndarray) -> int:
        first = len(self._arrival)
        n = len(a)
        self._arrival.extend(a.tolist())
        self._start.extend([np.nan] * n)
        self._end.extend([np.nan] * n)
        self._reneged.extend([False] * n)
        self._left.extend([np.nan] * n)
        return first

    def _arrivals(
        self, first: int, a: list[float], s: list[float], deadline: list[float]
    ) -> Generator[simpy.Event, object, CustomerLog]:
        env = self.env
        visits = []
        for i, (t, si, di) in enumerate(zip(a, s, deadline, strict=True)):
            if t > env.now:
                yield env.timeout(t - env.now)
            visits.append(env.process(self._visit(first + i, si, di)))
        yield env.all_of(visits)
        return self.log().take(slice(first, first + len(a)))

    def _visit(self, idx: int, service: float, deadline: float) -> Generator[simpy.Event, object, None]:
        env = self.env
        req = self.resource.request(priority=_CUSTOMER, preempt=False)
        if deadline < np.inf:
            patience = env.timeout(max(deadline - env.now, 0.0))
            yield req | patience
            if not req.triggered:
                req.cancel()
                self._reneged[idx] = True
                self._left[idx] = env.now
                return
        else:
            yield req
        while True:
            self._start[idx] = env.now
            try:
                yield env.timeout(service)
                break
            except simpy.Interrupt:
                self._lost[0].append(self._start[idx])
                self._lost[1].append(env.now)
                req = self.resource.request(priority=_RESUME, preempt=False)
                yield req
        self.resource.release(req)
        self._end[idx] = self._left[idx] = env.now

    # ---- the clock, the roster and breakdowns -------------------------------------------------------
    def _at(self, t: float) -> simpy.Event:
        """A timeout processed before ordinary events at the same instant (the door opens first)."""
        ev = simpy.Event(self.env)
        ev._ok = True
        ev._value = None
        self.env.schedule(ev, URGENT, t - self.env.now)
        return ev

    def _controller(self) -> Generator[simpy.Event, object, None]:
        plan = self.plan
        for t, cap in zip(plan.times.tolist(), plan.servers.tolist(), strict=True):
            if t > self.env.now:
                yield self._at(t)
            self._set_blocked(plan.total - cap)

    def _breakdowns(self, downs: list[float], ups: list[float]) -> Generator[simpy.Event, object, None]:
        """Restart mode: at each breakdown, take the positions of the customers in service."""
        for down, up in zip(downs, ups, strict=True):
            yield self._at(down)
            res = self.resource
            # idle positions absorb requests before any preemption, so ask for those too
            wanted = sum(1 for r in res.users if r.priority >= _RESUME) + res.capacity - len(res.users)
            held = [res.request(priority=_BREAKDOWN, preempt=True) for _ in range(wanted)]
            yield self._at(up)
            for r in held:
                self.resource.release(r)

    def _set_blocked(self, want: int) -> None:
        blockers = self._blockers
        while len(blockers) < want:
            blockers.append(self.resource.request(priority=_BLOCKER, preempt=False))
        if len(blockers) > want:
            # give positions back: first the blockers still waiting for a position (the most recent
            # first), then the ones holding a position
            pending = [b for b in blockers if b not in self.resource.users]
            holding = [b for b in blockers if b in self.resource.users]
            order = pending[::-1] + holding[::-1]
            for b in order[: len(blockers) - want]:
                if b in self.resource.users:
                    self.resource.release(b)
                else:
                    b.cancel()
                blockers.remove(b)

    # ---- outputs --------------------------------------------------------------------------------------
    def _collect(self) -> list[CustomerLog]:
        return [
            CustomerLog(
                np.asarray(self._arrival),
                np.asarray(self._start),
                np.asarray(self._end),
                np.asarray(self._reneged, dtype=bool),
                np.asarray(self._left),
            )
        ]

    def _lost_service(self) -> tuple[np.ndarray, np.ndarray] | None:
        return np.asarray(self._lost[0]), np.asarray(self._lost[1])
