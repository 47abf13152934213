"""The platform operators' status checks (現況確認) as a nightly batch against the certificate-status responder.

Every night the platform operators ask J-LIS, link by link, whether the certificate each provider's user ID
is linked to is still good (the 'status' profile: links x checks per link a day, spread evenly over the
window, by the capacity model's rule :func:`twin.models.failover.demand.platform_status_hourly`). Unlike a
person at a login screen, a batch does not give up: a check that finds the responder down waits. The rule
here (ASSUMED; no operator publishes its retry policy): the batch retries as soon as the responder answers
again if that is still inside the night's window; the checks left when the window closes run first in the
next night's window (at the first moment in it that the responder is up). A check is *delayed* when it met
the responder down, *carried* when it was not answered within its own night's window, *pending* when it was
not answered by the end of the horizon. Partial failures (a soft dependency, a canary release) are retried
within the hour and not counted: only the intervals in which the responder is down delay a check.

A delayed check matters when the certificate behind the link was revoked since the link's last check: the
provider still treats the user ID as bound to that certificate until the check gets through, so the
revocation is noticed that much later (the report turns delayed checks into such links with an assumed
revocation rate per link).

Exact: the checks are a piecewise-constant rate per hour, the outages exact intervals (hours from 00:00 of
the first day); no sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.models.failover.intervals import Intervals


@dataclass
class StatusChecks:
    """What one replication's status checks went through at one responder."""

    scheduled: float = 0.0  # checks due in the horizon (the 'status' profile's sum)
    delayed: float = 0.0  # met the responder down
    carried: float = 0.0  # of the delayed: not answered within their own night's window
    pending: float = 0.0  # of the carried: not answered by the end of the horizon
    delay_hours: float = 0.0  # check-hours waited by the delayed checks answered in the horizon
    max_delay_hours: float = 0.0  # the longest wait of a check answered in the horizon
    late_nights: int = 0  # nights whose window met an outage

    @property
    def on_time(self) -> float:
        return self.scheduled - self.delayed

    @property
    def mean_delay_hours(self) -> float:
        answered = self.delayed - self.pending
        return self.delay_hours / answered if answered > 0 else 0.0


def _first_up(down: Intervals, t: float) -> float:
    """The first instant at or after ``t`` that is not inside a down interval."""
    i = int(np.searchsorted(down.starts, t, side="right")) - 1
    if i >= 0 and down.ends[i] > t:
        return float(down.ends[i])
    return t


def _answered_at(down: Intervals, window: tuple[int, int], day: int, end: float, horizon: float) -> float | None:
    """When a check that met an outage ending at ``end`` (on night ``day``) is answered: ``end`` if the window is
    still open, else the first up instant of a later night's window; None if not within the horizon."""
    a, b = window
    if end < day * 24 + b:
        return end
    k = day + 1
    while k * 24 + a < horizon:
        t = _first_up(down, k * 24 + a)
        if t < min(k * 24 + b, horizon):
            return t
        k += 1
    return None


def batch_delays(rate: np.ndarray, window: tuple[int, int], down: Intervals, n_days: int) -> StatusChecks:
    """Status checks (``rate`` per hour, 24 a day) against a responder that is down over ``down``."""
    horizon = float(n_days * 24)
    rate = np.asarray(rate, dtype=np.float64)[: n_days * 24]
    out = StatusChecks(scheduled=float(rate.sum()))
    if not len(down) or not rate.any():
        return out
    a, b = window
    for day in range(n_days):
        w0, w1 = day * 24 + a, day * 24 + b
        inside = down.clip(w0, w1)
        if not len(inside):
            continue
        met = False
        for s, e in zip(inside.starts.tolist(), inside.ends.tolist(), strict=True):
            full_end = down.ends[int(np.searchsorted(down.starts, s, side="right")) - 1]
            done = _answered_at(down, window, day, float(full_end), horizon)
            n = wait = 0.0
            first = None
            for h in range(int(np.floor(s)), int(np.ceil(e))):
                u, v = max(s, h), min(e, h + 1)
                if v <= u or rate[h] <= 0:
                    continue
                first = u if first is None else first
                k = rate[h] * (v - u)
                n += k
                if done is not None:
                    wait += k * (done - (u + v) / 2)
            if n <= 0:
                continue
            met = True
            out.delayed += n
            if done is None:
                out.carried += n
                out.pending += n
                continue
            if done >= w1:
                out.carried += n
            out.delay_hours += wait
            out.max_delay_hours = max(out.max_delay_hours, done - first)
        out.late_nights += met
    return out
