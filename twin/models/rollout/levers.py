"""The state's levers as day-by-day hazard lifts: forms in the post, leaflets, points, payouts, help desks.

Between 2016 and 2023 the government pulled one lever after another to get residents to apply
for a My Number card (マイナンバーカード): application forms mailed with the notification cards
(通知カード, late 2015) and later J-LIS's QR-code forms, leaflets in health-insurance renewals,
My Number Points (マイナポイント) with deadlines that were announced and then extended, the
2020 Special Cash Payments (特別定額給付金) whose online channel needed a card, and support
desks in shops and town halls. Each lever here becomes a day series of *lifts*: the relative rise
of the daily hazard of the residents it reaches. The hazard model multiplies the base hazard by
``1 + common[t] + support[t] * (1 - literacy)``, so every lever's share of the effect can be read
off and switched off on its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from twin.models.rollout.params import MailOut, Params, PointsPhase


@dataclass(frozen=True)
class LeverSchedule:
    """Lifts per simulated day (index 0 = ``day0``), by lever, plus the help-desk lift."""

    day0: dt.date
    by_lever: dict[str, np.ndarray]
    support: np.ndarray

    @property
    def common(self) -> np.ndarray:
        return np.sum(list(self.by_lever.values()), axis=0) if self.by_lever else np.zeros(len(self.support))


def _days(day0: dt.date, n: int) -> np.ndarray:
    """Day offsets 0..n-1 as numpy dates."""
    return np.datetime64(day0, "D") + np.arange(n)


def _offset(day0: dt.date, d: dt.date) -> int:
    return (d - day0).days


def mailout_lift(m: MailOut, day0: dt.date, n: int) -> np.ndarray:
    """Forms arrive evenly over ``spread_days``; each keeps its effect with an exponential decay."""
    t = np.arange(n, dtype=np.float64)
    s = float(_offset(day0, m.start))
    # effect(t) = coverage*lift * integral_{u in [s, s+w], u<=t} (1/w) exp(-(t-u)/tau) du
    w, tau = m.spread_days, m.decay_days
    hi = np.minimum(t, s + w)
    inside = hi > s
    val = np.where(inside, tau / w * (np.exp(-(t - hi) / tau) - np.exp(-(t - s) / tau)), 0.0)
    return m.coverage * m.lift * val


def deadline_in_force(p: PointsPhase, day0: dt.date, n: int) -> np.ndarray:
    """Per day, the day offset of the card-application deadline residents know of then (-1: none).

    A deadline is in force from its announcement until a later one is announced (an extension
    replaces it); before the phase is announced, or after the last deadline, none is."""
    t = np.arange(n)
    known = [_offset(day0, d.announced or p.announced or p.start) for d in p.deadlines]
    dates = [_offset(day0, d.date) for d in p.deadlines]
    out = np.full(n, np.iinfo(np.int64).max)
    for k, d in zip(known, dates, strict=True):
        # superseded once a deadline announced later is known (an extension)
        later = [kj for kj in known if kj > k]
        until = min(later) if later else n
        live = (t >= k) & (t < until) & (t <= d)
        out = np.where(live, np.minimum(out, d), out)
    return np.where(out == np.iinfo(np.int64).max, -1, out)


def points_lift(p: PointsPhase, day0: dt.date, n: int) -> np.ndarray:
    """A lift from the start to the last deadline that grows with the points on offer, plus a rush
    building toward the deadline in force and collapsing once it has passed."""
    t = np.arange(n, dtype=np.float64)
    s = _offset(day0, p.start)
    last = _offset(day0, p.deadlines[-1].date)
    active = (t >= s) & (t <= last)
    days = [day0 + dt.timedelta(days=int(k)) for k in range(n)]
    value = np.array([p.points_on(d) for d in days]) if p.amounts or p.offer else np.full(n, p.points)
    full = p.lift_per_5000 * (value / 5000.0) ** p.value_elasticity
    lift = np.where(active, full, 0.0)
    if p.announced is not None and p.anticipation > 0:
        a = _offset(day0, p.announced)
        lift = np.where((t >= a) & (t < s), p.anticipation * p.lift_per_5000 * (p.points / 5000.0)
                        ** p.value_elasticity, lift)  # fmt: skip
    k = deadline_in_force(p, day0, n).astype(np.float64)
    rush = np.where((k >= 0) & (t >= s), p.rush * np.exp(-(k - t) / p.rush_days), 0.0)
    return lift + rush


def effective_phase2(params: Params) -> PointsPhase:
    """Phase 2 as simulated: with ``phase2_follows_phase1`` it takes phase 1's response parameters."""
    p1, p2 = params.points.phase1, params.points.phase2
    if not params.points.phase2_follows_phase1:
        return p2
    return p2.model_copy(update={"lift_per_5000": p1.lift_per_5000, "rush": p1.rush, "rush_days": p1.rush_days,
                                 "anticipation": p1.anticipation})


def build_levers(params: Params, day0: dt.date, n: int) -> LeverSchedule:
    """Every lever of ``params`` as a day series over ``n`` days from ``day0``."""
    by: dict[str, np.ndarray] = {}
    for m in params.mailouts:
        by[f"mailout:{m.name}"] = mailout_lift(m, day0, n)
    days = _days(day0, n)
    months = (days.astype("datetime64[M]").astype(int) % 12) + 1
    e = params.enclosures
    by["enclosures"] = np.where(
        (days >= np.datetime64(e.from_date)) & np.isin(months, e.months), e.coverage * e.lift, 0.0
    )
    if params.points.enabled:
        for name, phase in (("phase1", params.points.phase1), ("phase2", effective_phase2(params))):
            if phase.enabled:
                by[f"points:{name}"] = points_lift(phase, day0, n)
    p = params.payout
    t = np.arange(n, dtype=np.float64)
    a, b, c = (_offset(day0, x) for x in (p.start, p.peak, p.end))
    up = np.clip((t - a) / max(b - a, 1), 0, 1)
    down = np.clip((c - t) / max(c - b, 1), 0, 1)
    by["payout"] = np.where((t >= a) & (t <= c), p.lift * np.minimum(up, down), 0.0)
    support = np.where(days >= np.datetime64(params.support.start), params.support.lift, 0.0)
    return LeverSchedule(day0, by, support)
