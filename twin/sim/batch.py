"""The national-scale station: a whole day's customers per call, same rules as the SimPy one.

On the first day of an emergency payout, millions of applications reach the municipal counters.
Simulating each one as a SimPy process costs tens of microseconds; here a counter with c clerks
is a heap of the c times at which each clerk is next free, and customers in arrival order are
given the earliest free clerk (the multi-server Lindley recursion, Kiefer-Wolfowitz style). A
customer starts at max(arrival, earliest free time), that clerk is then busy until start plus
service. Opening hours, rosters and breakdowns (finish mode) are the same
:class:`~twin.sim.capacity.CapacityPlan` the SimPy station plays: when the plan takes positions
away, the earliest-free clerks leave the heap (so service in progress finishes), and they come back
when it returns them. A customer whose start would come after their patience deadline reneges
and takes no clerk (FIFO with abandonment: a later customer can never overtake an earlier one).

The answer is the same, customer by customer, as :class:`twin.sim.station.Station` on the same
inputs; breakdowns with ``in_progress="restart"`` are only in the SimPy station. Use it directly
(``serve``) or from inside a SimPy model (``submit`` returns an event that fires when the last
customer of the batch has left).
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import simpy

from twin.sim.calendar import Calendar
from twin.sim.capacity import Failures, StaffSchedule
from twin.sim.distributions import Distribution
from twin.sim.probes import CustomerLog
from twin.sim.stationbase import StationBase


class BatchStation(StationBase):
    """FIFO multi-server station computed a batch at a time (see module docstring); ``env`` may be
    None when it is used outside SimPy (``serve``)."""

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
        if env is not None and not isinstance(env, simpy.Environment):
            raise ValueError(f"env must be a simpy.Environment or None, got {type(env).__name__}")
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
        if self.failures is not None and self.failures.in_progress == "restart":
            raise ValueError(
                "BatchStation: failures with in_progress='restart' are not supported; "
                "use in_progress='finish' or the SimPy Station"
            )
        self._free: list[float] = []  # heap: when each on-duty position is next free
        self._off: list[float] = [0.0] * self.plan.total  # positions taken away: when the plan got them
        self._times = self.plan.times.tolist()
        self._caps = self.plan.servers.tolist()
        self._k = 0  # next plan change to apply

    def serve(
        self,
        arrivals: np.ndarray,
        service_times: np.ndarray | None = None,
        patience_times: np.ndarray | None = None,
    ) -> CustomerLog:
        """Customers arriving at ``arrivals`` (hours, sorted, not before earlier batches); returns
        their :class:`CustomerLog`. Missing service/patience times are drawn from the distributions."""
        a, s, deadline = self._inputs(arrivals, service_times, patience_times)
        if len(self._times) == 1 and not np.any(np.isfinite(deadline)):
            log = self._serve_plain(a, s)
        else:
            log = self._serve_general(a, s, deadline)
        self._logs.append(log)
        return log

    def submit(
        self,
        arrivals: np.ndarray,
        service_times: np.ndarray | None = None,
        patience_times: np.ndarray | None = None,
    ) -> simpy.Event:
        """As :meth:`serve`, from inside a SimPy model: an event whose value is the log, triggered
        when the last of these customers has left (never, if some are still waiting at the end)."""
        if self.env is None:
            raise ValueError("submit needs the station to have a simpy.Environment; use serve() without one")
        log = self.serve(arrivals, service_times, patience_times)
        last = float(np.max(log.left)) if len(log) else self.env.now
        if math.isnan(last):
            return self.env.event()
        return self.env.timeout(last - self.env.now, value=log)

    # ---- the recursions ---------------------------------------------------------------------------------
    def _serve_plain(self, a: np.ndarray, s: np.ndarray) -> CustomerLog:
        """Constant number of clerks, always open, nobody leaves: the bare heap recursion."""
        if self._k == 0:
            self._apply(0)
            self._k = 1
        free = self._free
        n = len(a)
        if free == [math.inf]:
            free.clear()  # no position on duty, ever: nobody is served
        if not free:
            nan = np.full(n, np.nan)
            return CustomerLog(a, nan, nan.copy(), np.zeros(n, dtype=bool), nan.copy())
        start = [0.0] * n
        replace = heapq.heapreplace
        for i, (ai, si) in enumerate(zip(a.tolist(), s.tolist(), strict=True)):
            f = free[0]
            st = ai if ai > f else f
            start[i] = st
            replace(free, st + si)
        st_arr = np.asarray(start)
        end = st_arr + s
        return CustomerLog(a, st_arr, end, np.zeros(n, dtype=bool), end)

    def _serve_general(self, a: np.ndarray, s: np.ndarray, deadline: np.ndarray) -> CustomerLog:
        n = len(a)
        inf = math.inf
        start = [math.nan] * n
        reneged = [False] * n
        free = self._free
        if not free:
            free.append(inf)  # sentinel while no position is on duty: nobody can start
        times = self._times
        n_plan = len(times)
        next_t = times[self._k] if self._k < n_plan else inf
        replace = heapq.heapreplace
        sl = s.tolist()
        for i, (ai, di) in enumerate(zip(a.tolist(), deadline.tolist(), strict=True)):
            f = free[0]
            cand = ai if ai > f else f
            if cand >= next_t:  # the plan changes before this customer could start
                while cand >= next_t and next_t < inf:
                    self._apply(self._k)
                    self._k += 1
                    next_t = times[self._k] if self._k < n_plan else inf
                    f = free[0]
                    cand = ai if ai > f else f
            if cand > di:
                reneged[i] = True
            elif cand < inf:
                start[i] = cand
                replace(free, cand + sl[i])
        if free == [inf]:
            free.clear()
        st = np.asarray(start)
        gone = np.asarray(reneged, dtype=bool)
        end = st + s
        return CustomerLog(a, st, end, gone, np.where(gone, deadline, end))

    def _apply(self, k: int) -> None:
        """Plan change k: positions leave (earliest free first) or return (as the SimPy blockers do:
        those still waiting for a position are cancelled first, the latest-free of them first)."""
        t = self._times[k]
        cap = self._caps[k]
        free = self._free
        if free and free[0] == math.inf:
            free.clear()  # drop the sentinel (on-duty positions are never free at infinity)
        while len(free) > cap:
            f = heapq.heappop(free)
            self._off.append(f if f > t else t)
        if len(free) < cap:
            self._off.sort()
            while len(free) < cap:
                f = self._off.pop()
                heapq.heappush(free, f if f > t else t)
        if not free:
            free.append(math.inf)
