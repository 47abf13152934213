"""Many offices working through their in-trays, one day at a time.

Picture 1,741 town halls during an emergency payout: every morning new envelopes land in each
in-tray, the clerks on duty have so many minutes today, and they work oldest-first. Nobody needs to
know which envelope was fifth; what matters is how much waits, for how long, and how much is done
each day. :class:`CohortQueue` keeps exactly that, for all offices at once, as arrays: the work
waiting in each office is kept by *cohort* (the day it arrived) and *class* (a mail form takes
longer to key in than an online form takes to check). Serving a day spends each office's minutes on
its oldest cohorts first, splitting a cohort in proportion when the minutes run out (a fluid
approximation of first-come-first-served, exact in the limit of many small jobs).

This is the national-scale station for day-granular questions; the per-customer SimPy
:mod:`twin.sim` stations are the reference it is checked against.
"""

from __future__ import annotations

import numpy as np


class CohortQueue:
    """FIFO work queues of ``n_stations`` offices, ``n_classes`` job classes, ``horizon`` days.

    Counts are floats (expected numbers of jobs); minutes per job are per class.
    """

    def __init__(self, n_stations: int, n_classes: int, horizon: int, minutes_per_job: np.ndarray):
        minutes = np.asarray(minutes_per_job, dtype=np.float64)
        if minutes.shape != (n_classes,):
            raise ValueError(f"minutes_per_job has shape {minutes.shape}, expected ({n_classes},)")
        if np.any(minutes <= 0):
            raise ValueError("minutes_per_job must be > 0 for every class")
        self.n_stations = n_stations
        self.n_classes = n_classes
        self.horizon = horizon
        self.minutes = minutes
        # jobs waiting, cohort-major: [cohort day, station, class], so that a day's arrivals and a
        # window of cohorts are each one contiguous block (see :attr:`waiting` for the station-major view)
        self._jobs = np.zeros((horizon, n_stations, n_classes))
        # a quantity that rides along with the jobs (e.g. persons in a household's application),
        # served in the same proportions as the jobs it rides with; made on the first arrival
        # that carries something, so a queue whose jobs carry nothing never holds or serves it
        self._carry: np.ndarray | None = None
        # per station: cohorts before this one hold no work at that station
        self._head = np.zeros(n_stations, dtype=np.intp)
        self.window_start = 0  # first cohort of the last :meth:`serve_window`
        self.arrived_total = np.zeros((n_stations, n_classes))
        self.served_total = np.zeros((n_stations, n_classes))
        self.busy_minutes_total = np.zeros(n_stations)

    @property
    def waiting(self) -> np.ndarray:
        """Jobs waiting, [station, cohort day, class] (a view)."""
        return self._jobs.transpose(1, 0, 2)

    @property
    def carry(self) -> np.ndarray | None:
        """What the waiting jobs carry, [station, cohort day, class] (a view), or None if nothing ever did."""
        return None if self._carry is None else self._carry.transpose(1, 0, 2)

    def arrive(self, day: int, jobs: np.ndarray, carry: np.ndarray | None = None) -> None:
        """Jobs arriving on ``day``: an array [station, class] of counts (and what they carry)."""
        jobs = np.asarray(jobs, dtype=np.float64)
        if jobs.shape != (self.n_stations, self.n_classes):
            raise ValueError(f"jobs has shape {jobs.shape}, expected ({self.n_stations}, {self.n_classes})")
        if np.any(jobs < 0):
            raise ValueError("job counts must be >= 0")
        day = min(day, self.horizon - 1)
        self._jobs[day] += jobs
        np.minimum(self._head, day, out=self._head, where=jobs.any(axis=1))
        if carry is not None:
            if self._carry is None:
                self._carry = np.zeros((self.horizon, self.n_stations, self.n_classes))
            self._carry[day] += carry
        self.arrived_total += jobs

    def serve(self, day: int, capacity_minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Spend each station's minutes on its oldest work first.

        Returns ``(served[station, class], carried[station, class], waited[station, cohort])``: jobs
        finished today, what they carried, and jobs finished by the cohort (arrival day) they came
        from, summed over classes, for waiting times.
        """
        served, carried, window = self.serve_window(day, capacity_minutes)
        waited = np.zeros((self.n_stations, self.window_start + window.shape[1]))
        waited[:, self.window_start :] = window
        return served, carried, waited

    def serve_window(self, day: int, capacity_minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`serve`, but ``waited`` covers only the cohorts from ``window_start`` to ``day``.

        Serving looks only at the cohorts from the oldest one still waiting, so over a six-year
        horizon a day costs no more than over a six-week one; :meth:`days_waited` turns the window
        into job-days waited. Each station looks back only to its own oldest waiting cohort: the
        stations are served in (at most) two blocks, the few that lag far behind and the rest, so
        one village with a sliver of work left from last year does not make all 1,741 town halls
        look back a year. A station's cohorts before its oldest waiting one hold no work, so what
        it serves is the same whichever block it is in.
        """
        cap = np.broadcast_to(np.asarray(capacity_minutes, dtype=np.float64), (self.n_stations,))
        upto = min(day, self.horizon - 1) + 1
        heads = np.minimum(self._head, upto - 1)
        lo = int(heads.min())
        waited = np.zeros((self.n_stations, upto - lo))
        served = np.zeros((self.n_stations, self.n_classes))
        carried = np.zeros((self.n_stations, self.n_classes))
        for rows, start in self._blocks(heads, lo, upto):
            every = isinstance(rows, slice)
            jobs = self._jobs[start:upto, rows, :]  # a view for a slice, else a copy written back
            work = self._work(jobs)  # [cohort, station]
            before = np.cumsum(work, axis=0) - work  # work queued ahead of each cohort
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(work > 0, np.clip((cap[None, rows] - before) / work, 0.0, 1.0), 0.0)
            served_by_cohort = jobs * frac[:, :, None]
            jobs -= served_by_cohort  # exactly 0 where frac == 1
            # guard against tiny negative residues from floating point
            np.maximum(jobs, 0.0, out=jobs)
            if not every:
                self._jobs[start:upto, rows, :] = jobs
            if self._carry is not None:
                carrying = self._carry[start:upto, rows, :]
                carried_by_cohort = carrying * frac[:, :, None]
                carrying -= carried_by_cohort
                np.maximum(carrying, 0.0, out=carrying)
                if not every:
                    self._carry[start:upto, rows, :] = carrying
                carried[rows] = carried_by_cohort.sum(axis=0)
            served[rows] = served_by_cohort.sum(axis=0)
            self.busy_minutes_total[rows] += (work * frac).sum(axis=0)
            waited[rows, start - lo :] = served_by_cohort.sum(axis=2).T
            left = jobs.any(axis=2)  # [cohort, station]: work still waiting
            self._head[rows] = np.where(left.any(axis=0), left.argmax(axis=0) + start, upto)
        self.served_total += served
        self.window_start = lo
        return served, carried, waited

    def _work(self, jobs: np.ndarray) -> np.ndarray:
        """Minutes of work in ``jobs`` [cohort, station, class], summed over the classes in order.

        Not ``jobs @ minutes``: BLAS treats a cohort differently (fused multiply-adds or not)
        depending on where it falls in the block, so the same cohort's work would differ in the last
        bit between a wide block and a narrow one; this sum is the same in every block."""
        work = jobs[:, :, 0] * self.minutes[0]
        for c in range(1, self.n_classes):
            work += jobs[:, :, c] * self.minutes[c]
        return work

    @staticmethod
    def _blocks(heads: np.ndarray, lo: int, upto: int) -> list[tuple[slice | np.ndarray, int]]:
        """The stations split into the laggards and the rest, each block with the first cohort it looks at.

        The split is the one that looks at the fewest station-cohorts; when it would not save much,
        all stations form one block (a view, no copies)."""
        n = len(heads)
        whole = [(slice(None), lo)]
        if upto - lo <= 16 or n < 2:
            return whole
        order = np.argsort(heads, kind="stable")
        sorted_heads = heads[order]
        k = np.arange(1, n)  # the k oldest stations are the laggards
        cost = k * (upto - lo) + (n - k) * (upto - sorted_heads[1:])
        best = int(np.argmin(cost))
        if cost[best] > 0.5 * n * (upto - lo):
            return whole
        split = best + 1
        laggards, rest = np.sort(order[:split]), np.sort(order[split:])
        return [(laggards, lo), (rest, int(sorted_heads[split]))]

    def days_waited(self, day: int, waited: np.ndarray) -> np.ndarray:
        """Job-days waited by the jobs finished on ``day``, per station (``waited`` from :meth:`serve_window`)."""
        ages = day - np.arange(self.window_start, self.window_start + waited.shape[1])
        return waited @ ages

    def backlog(self) -> np.ndarray:
        """Jobs waiting per station and class."""
        return self._jobs[min(int(self._head.min()), self.horizon) :].sum(axis=0)

    def backlog_minutes(self) -> np.ndarray:
        return self.backlog() @ self.minutes

    def check_conservation(self, atol: float = 1e-6) -> None:
        """Every job that arrived is either served or still waiting."""
        gap = self.arrived_total - self.served_total - self.backlog()
        scale = max(1.0, float(self.arrived_total.sum()))
        if np.abs(gap).sum() > atol * scale:
            raise AssertionError(f"cohort queue lost or invented {np.abs(gap).sum():.3f} jobs")
