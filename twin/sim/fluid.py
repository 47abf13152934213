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
        # jobs waiting: [station, cohort day, class]
        self.waiting = np.zeros((n_stations, horizon, n_classes))
        # a quantity that rides along with the jobs (e.g. persons in a household's application),
        # served in the same proportions as the jobs it rides with; made on the first arrival
        # that carries something, so a queue whose jobs carry nothing never holds or serves it
        self.carry: np.ndarray | None = None
        self._first = 0  # cohorts before this one hold no work at any station
        self.window_start = 0  # first cohort of the last :meth:`serve_window`
        self.arrived_total = np.zeros((n_stations, n_classes))
        self.served_total = np.zeros((n_stations, n_classes))
        self.busy_minutes_total = np.zeros(n_stations)

    def arrive(self, day: int, jobs: np.ndarray, carry: np.ndarray | None = None) -> None:
        """Jobs arriving on ``day``: an array [station, class] of counts (and what they carry)."""
        jobs = np.asarray(jobs, dtype=np.float64)
        if jobs.shape != (self.n_stations, self.n_classes):
            raise ValueError(f"jobs has shape {jobs.shape}, expected ({self.n_stations}, {self.n_classes})")
        if np.any(jobs < 0):
            raise ValueError("job counts must be >= 0")
        day = min(day, self.horizon - 1)
        self.waiting[:, day, :] += jobs
        if carry is not None:
            if self.carry is None:
                self.carry = np.zeros((self.n_stations, self.horizon, self.n_classes))
            self.carry[:, day, :] += carry
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
        into job-days waited.
        """
        cap = np.broadcast_to(np.asarray(capacity_minutes, dtype=np.float64), (self.n_stations,))
        upto = min(day, self.horizon - 1) + 1
        lo = min(self._first, upto - 1)
        jobs = self.waiting[:, lo:upto, :]
        work = jobs @ self.minutes  # [station, cohort]
        before = np.cumsum(work, axis=1) - work  # work queued ahead of each cohort
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(work > 0, np.clip((cap[:, None] - before) / work, 0.0, 1.0), 0.0)
        served_by_cohort = jobs * frac[:, :, None]
        jobs -= served_by_cohort  # a view: updates self.waiting (exactly 0 where frac == 1)
        # guard against tiny negative residues from floating point
        np.maximum(jobs, 0.0, out=jobs)
        if self.carry is None:
            carried = np.zeros((self.n_stations, self.n_classes))
        else:
            carrying = self.carry[:, lo:upto, :]
            carried_by_cohort = carrying * frac[:, :, None]
            carrying -= carried_by_cohort
            np.maximum(carrying, 0.0, out=carrying)
            carried = carried_by_cohort.sum(axis=1)
        served = served_by_cohort.sum(axis=1)
        self.served_total += served
        self.busy_minutes_total += (work * frac).sum(axis=1)
        while self._first < upto and not self.waiting[:, self._first, :].any():
            self._first += 1
        self.window_start = lo
        return served, carried, served_by_cohort.sum(axis=2)

    def days_waited(self, day: int, waited: np.ndarray) -> np.ndarray:
        """Job-days waited by the jobs finished on ``day``, per station (``waited`` from :meth:`serve_window`)."""
        ages = day - np.arange(self.window_start, self.window_start + waited.shape[1])
        return waited @ ages

    def backlog(self) -> np.ndarray:
        """Jobs waiting per station and class."""
        return self.waiting[:, self._first :, :].sum(axis=1)

    def backlog_minutes(self) -> np.ndarray:
        return self.backlog() @ self.minutes

    def check_conservation(self, atol: float = 1e-6) -> None:
        """Every job that arrived is either served or still waiting."""
        gap = self.arrived_total - self.served_total - self.backlog()
        scale = max(1.0, float(self.arrived_total.sum()))
        if np.abs(gap).sum() > atol * scale:
            raise AssertionError(f"cohort queue lost or invented {np.abs(gap).sum():.3f} jobs")
