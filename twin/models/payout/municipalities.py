"""The 1,741 town halls as the actors of the 2020 payout: each with its own dates, staff and bank days.

In May 2020 the payout was not one national machine but 1,741 offices, each deciding for itself.
A village in Hokkaido posted its 600 forms on 1 May and paid the next week; Osaka city printed
1.5 million forms, posted them in waves through June, and keyed them in with an outsourced
data-entry contractor that took weeks to reach full speed. So every town hall here has:

- its own first mail-out day (drawn from its type's window; the six big cities whose 06-24 share is
  public have their own, fitted), and a mailing spread that grows with its size (forms go out in
  waves, ``mailing_households_per_day``);
- its own online-intake opening day (the national opening schedule) and, for a few, a suspension;
- an application deadline ``deadline_months`` after its first mail-out;
- processing capacity: its own staff from the first application (``in_house_share`` of full
  strength) plus outsourced data entry ramping up linearly from the mail-out over
  ``outsourcing_ramp_days``, scaled by a town-hall factor (lognormal, ``capacity_sigma``), working
  its opening hours on business days of the Japanese calendar (:mod:`twin.sim.calendar`);
- a payment system that is ready ``setup_days`` (lognormal across town halls) after its first
  application, and its own transfer weekdays (1 to 5 a week).

:func:`town_halls` draws all of this; every draw has its own named stream, so the draws are the
same for every option of a run (common random numbers) and for both fidelities.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from twin.models.payout.params import MUNICIPALITY_TYPES, Params

#: the six big cities whose paid share on 2020-06-24 is public (PAYOUT_2020.md), by 団体コード
BIG_CITIES: dict[str, str] = {
    "271004": "Osaka",
    "121002": "Chiba",
    "231002": "Nagoya",
    "401307": "Fukuoka",
    "281000": "Kobe",
    "11002": "Sapporo",
}


@dataclass(frozen=True)
class TownHalls:
    """Per-municipality plan of the payout (days are floats from the calendar start, day 0)."""

    mail_out_day: np.ndarray  # first forms posted
    mailing_days: np.ndarray  # days over which all forms are posted
    online_open_day: np.ndarray  # inf: never opens
    suspended: np.ndarray  # bool: suspended online intake from intake.online_suspension_start
    deadline_day: np.ndarray  # last day a form may be posted or submitted
    capacity_factor: np.ndarray  # town hall's capacity relative to its type's rate
    ready_day: np.ndarray  # payment system ready: no transfer before it
    transfer_weekdays: np.ndarray  # bool [municipality, 7]
    households_real: np.ndarray  # entitled households the town hall serves (national counts)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month ``months`` later (the last day of a shorter month)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def online_opening_days(params: Params, day0: dt.date, u: np.ndarray) -> np.ndarray:
    """Day each municipality opens online intake: its random rank against the opening schedule."""
    sched = sorted(params.intake.online_opening)
    shares = np.array([s for _, s in sched])
    days = np.array([float((d - day0).days) for d, _ in sched])
    idx = np.searchsorted(shares, u, side="left")
    out = np.full(len(u), np.inf)
    ok = idx < len(shares)
    out[ok] = days[idx[ok]]
    return out


def town_halls(
    codes: np.ndarray,
    type_index: np.ndarray,
    households_real: np.ndarray,
    params: Params,
    day0: dt.date,
    stream: Callable[[str], np.random.Generator],
) -> TownHalls:
    """Draw every town hall's dates, capacity and bank days (see the module docstring)."""
    m = len(codes)
    it, v, dis = params.intake, params.verification, params.disbursement

    def uniform(name: str) -> np.ndarray:
        return stream(name).random(m)

    start = np.array([float((it.mail_out[t].start - day0).days) for t in MUNICIPALITY_TYPES])
    window = np.array([it.mail_out[t].spread_days for t in MUNICIPALITY_TYPES])
    mail_out = start[type_index] + uniform("town_mail_out") * window[type_index]
    keys = np.array([str(int(c)) for c in codes])
    for code, day in it.city_mail_out_day.items():
        mail_out[keys == code] = day
    mailing = np.maximum(1.0, households_real / it.mailing_households_per_day)

    online_open = online_opening_days(params, day0, uniform("online_opening"))
    if not params.channels.online:
        online_open[:] = np.inf
    suspended = uniform("online_suspension") < it.online_suspended_share

    first_mail = np.floor(mail_out).astype(np.int64)
    deadline = np.array(
        [float((add_months(day0 + dt.timedelta(days=int(d)), it.deadline_months) - day0).days) for d in first_mail]
    )

    z = stream("town_capacity").standard_normal(m)
    capacity = np.exp(v.capacity_sigma * z - 0.5 * v.capacity_sigma**2)

    first_application = np.minimum(online_open, mail_out + 2 * it.postal_days)
    if not params.channels.mail:
        first_application = online_open
    z = stream("town_setup").standard_normal(m)
    ready = first_application + dis.setup_days * np.exp(dis.setup_sigma * z)
    ready = np.maximum(ready, float((dis.earliest_payment - day0).days))

    weekdays = np.zeros((m, 7), dtype=bool)
    u_count = uniform("town_batches")
    rng = stream("town_batch_days")
    order = np.argsort(rng.random((m, 5)), axis=1)  # a random order of Monday..Friday per town hall
    for t, name in enumerate(MUNICIPALITY_TYPES):
        sel = np.flatnonzero(type_index == t)
        table = dis.batches_per_week[name]
        counts = np.array([k for k, _ in table])
        probs = np.array([p for _, p in table], dtype=np.float64)
        cum = np.cumsum(probs / probs.sum())
        k = counts[np.minimum(np.searchsorted(cum, u_count[sel], side="right"), len(counts) - 1)]
        for j in range(5):
            weekdays[sel, order[sel, j]] |= j < k
    return TownHalls(
        mail_out_day=mail_out,
        mailing_days=mailing,
        online_open_day=online_open,
        suspended=suspended,
        deadline_day=deadline,
        capacity_factor=capacity,
        ready_day=ready,
        transfer_weekdays=weekdays,
        households_real=households_real,
    )


def capacity_minutes(
    halls: TownHalls,
    full_minutes: np.ndarray,
    workday: np.ndarray,
    first_work: np.ndarray,
    in_house_share: float,
    ramp_days: float,
    day: int,
) -> np.ndarray:
    """Staff minutes each town hall spends on ``day``: own staff from its first application, plus
    outsourced data entry ramping up linearly from the mail-out; nothing on a closed day."""
    if not workday[day]:
        return np.zeros(len(full_minutes))
    own = (day >= first_work) * in_house_share
    if ramp_days > 0:
        ramp = np.clip((day - halls.mail_out_day + 1) / ramp_days, 0.0, 1.0)
    else:
        ramp = (day >= halls.mail_out_day) * 1.0
    return full_minutes * np.minimum(1.0, own + (1.0 - in_house_share) * ramp)


def job_minutes(params: Params) -> np.ndarray:
    """Staff minutes per job, by in-tray class (mail, online, duplicate, resubmitted mail, resubmitted
    online): the rule both tiers apply."""
    v = params.verification
    online = v.minutes_online_automated if v.online_matching == "automated" else v.minutes_online_manual
    return np.array([v.minutes_mail, online, v.minutes_duplicate, v.minutes_mail, online])


def error_rates(params: Params) -> np.ndarray:
    """Share of jobs, by in-tray class, found to have an error and sent back for correction (a corrected
    form has ``resubmission_error_factor`` times the error rate; a duplicate is not sent back)."""
    v = params.verification
    online = v.error_rate_online_automated if v.online_matching == "automated" else v.error_rate_online
    f = v.resubmission_error_factor
    return np.array([v.error_rate_mail, online, 0.0, v.error_rate_mail * f, online * f])


def correction_return_share(params: Params) -> float:
    """Share of the forms out for correction that come back each day: the correction delay is
    exponential (memoryless) with mean ``correction_days``."""
    return float(1.0 - np.exp(-1.0 / params.verification.correction_days))


def working_days(params: Params, business: np.ndarray) -> np.ndarray:
    """Days the town halls work: business days, or every day with ``weekend_work``."""
    return np.ones_like(business, dtype=bool) if params.verification.weekend_work else business.copy()


def next_transfer(halls: TownHalls, business: np.ndarray, weekday0: int) -> np.ndarray:
    """``[municipality, day]``: the town hall's first transfer day on or after each day (h: none).

    A transfer day is a business day that is one of its transfer weekdays and not before its
    payment system is ready."""
    h = len(business)
    wd = (weekday0 + np.arange(h)) % 7
    ok = halls.transfer_weekdays[:, wd] & business[None, :]
    ok &= np.arange(h)[None, :] >= np.ceil(halls.ready_day)[:, None]
    idx = np.where(ok, np.arange(h)[None, :], h)
    return np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1].astype(np.int64)


def first_payment_day(halls: TownHalls, nxt: np.ndarray, bdays_after: Callable[[np.ndarray, int], np.ndarray],
                      lag: int) -> np.ndarray:  # fmt: skip
    """Day each town hall's first transfer reaches the accounts (continuous in the readiness day,
    so that counts of paying town halls move smoothly with the parameters)."""
    h = nxt.shape[1]
    day = np.clip(np.ceil(halls.ready_day).astype(np.int64), 0, h - 1)
    first = nxt[np.arange(len(day)), day]
    cash = bdays_after(first, lag).astype(np.float64)
    return cash - (np.ceil(halls.ready_day) - halls.ready_day)


def staffing(params: Params, type_index: np.ndarray, households_sample: np.ndarray, halls: TownHalls) -> np.ndarray:
    """Full-strength staff minutes per business day, per town hall (in sample units: staff follow
    the sampled households, so the scale carries through)."""
    v = params.verification
    by_type = np.array([v.staffing_by_type[t] for t in MUNICIPALITY_TYPES])
    rate = v.staff_minutes_per_1000_households * by_type[type_index]
    return households_sample / 1000.0 * rate * halls.capacity_factor


def reply_delay(
    u: np.ndarray, median: np.ndarray, sigma: float, window: np.ndarray
) -> np.ndarray:  # fmt: skip
    """A household's days from receiving the form to posting it back: lognormal with ``median`` and
    log-sd ``sigma``, truncated at ``window`` (the days left until its town hall's deadline), so the
    tail of late replies runs up to the deadline. ``u`` in [0, 1) is the household's own draw.
    Called by :func:`~twin.models.payout.behaviour.plan_households`; both tiers read that plan."""
    from scipy.special import ndtr, ndtri

    n = len(u)
    med = np.broadcast_to(np.asarray(median, dtype=np.float32), (n,))
    w = np.broadcast_to(np.maximum(np.asarray(window, dtype=np.float32), np.float32(1e-3)), (n,))
    out = np.empty(n, dtype=np.float32)
    chunk = 1 << 22
    for lo in range(0, n, chunk):
        sl = slice(lo, lo + chunk)
        mm, ww = med[sl].astype(np.float64), w[sl].astype(np.float64)
        top = ndtr(np.log(ww / mm) / sigma)
        q = np.clip(u[sl] * top, 1e-12, 1 - 1e-12)
        out[sl] = np.minimum(mm * np.exp(sigma * ndtri(q)), ww)
    return out
