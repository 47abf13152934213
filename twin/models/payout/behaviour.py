"""How each household gets to its payout: the plan both fidelities share.

In May 2020 every household head in Japan had to claim the 特別定額給付金 (special cash payment):
wait for the municipality's paper form and post it back, or, holding a My Number card with its
signature certificate, apply online through Myna Portal as soon as the municipality opened online
intake. Some applied twice (online and again by mail, or online many times), a few never applied.
Under a push design nobody applies: heads with a registered public-benefit account are told, may
opt out, and are paid.

:func:`plan_households` draws, for every household at once, its route (never / mail / online /
push), the day its application reaches the town hall (or the day it becomes payable, for push),
and its duplicates. The aggregate fidelity counts these plans into day-by-municipality grids; the
agent fidelity turns each plan into SimPy processes that call the real services. Both read the
same plan, so they differ only in mechanics, which is what the agreement test checks.

Randomness: every quantity has its own named stream, shared by all options (common random
numbers), so option differences are not noise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from twin.models.payout.params import MUNICIPALITY_TYPES, Params

NEVER, MAIL, ONLINE, PUSH = 0, 1, 2, 3
ROUTES = ("never", "mail", "online", "push")


@dataclass(frozen=True)
class Households:
    """The payout's view of the nation: one row per entitled household (its head's attributes)."""

    municipality: np.ndarray  # int32 index into municipalities
    size: np.ndarray  # persons in the household on the reference date
    head_age: np.ndarray
    head_literacy: np.ndarray  # 0..1
    head_card: np.ndarray  # bool: holds a My Number card (with signature certificate, heads are adults)

    def __len__(self) -> int:
        return len(self.municipality)


@dataclass(frozen=True)
class Municipalities:
    code: np.ndarray
    type_index: np.ndarray  # index into MUNICIPALITY_TYPES
    households: np.ndarray  # households in the sample per municipality

    def __len__(self) -> int:
        return len(self.code)


@dataclass
class Plan:
    route: np.ndarray  # int8: NEVER, MAIL, ONLINE, PUSH
    arrival_day: np.ndarray  # float32 days from day 0; application at the town hall / push payable
    extra_online: np.ndarray  # int8: duplicate online submissions
    dup_mail_day: np.ndarray  # float32: day a duplicate mail form arrives (nan: none)
    online_open_day: np.ndarray  # per municipality
    suspended: np.ndarray  # per municipality, bool


def days_from(day0: dt.date, d: dt.date) -> float:
    return float((d - day0).days)


def online_opening_days(params: Params, day0: dt.date, n_municipalities: int, u: np.ndarray) -> np.ndarray:
    """Day each municipality opens online intake: its random rank against the opening schedule."""
    sched = sorted(params.intake.online_opening)
    shares = np.array([s for _, s in sched])
    days = np.array([days_from(day0, d) for d, _ in sched])
    idx = np.searchsorted(shares, u, side="left")
    out = np.full(n_municipalities, np.inf)
    ok = idx < len(shares)
    out[ok] = days[idx[ok]]
    return out


def portal_admission(day: np.ndarray, params: Params, day0: dt.date, u: np.ndarray, scale: float) -> np.ndarray:
    """Online submissions that hit an outage or a full portal retry the next day.

    On a day with ``o`` hours of outage only ``active - o`` hours accept applications, so a share
    ``o / active`` of the day's attempts fail; attempts beyond the portal's national capacity in
    the remaining hours fail too. Failed attempts come back one day later (one retry: fine while
    the portal is rarely full for two days running).
    """
    if len(day) == 0:
        return day
    it = params.intake
    d = np.floor(day).astype(np.int64)
    lo = int(d.min())
    attempts = np.bincount(d - lo) / scale  # national attempts per day
    hours = np.full(len(attempts), it.portal_active_hours)
    for when, out in it.portal_outages:
        k = int(days_from(day0, when)) - lo
        if 0 <= k < len(hours):
            hours[k] = max(0.0, it.portal_active_hours - out)
    accepted = np.minimum(attempts * hours / it.portal_active_hours, it.portal_capacity_per_hour * hours)
    with np.errstate(divide="ignore", invalid="ignore"):
        fail = np.where(attempts > 0, 1.0 - accepted / attempts, 0.0)
    return np.where(u < fail[d - lo], day + 1.0, day).astype(np.float32)


def plan_households(
    hh: Households,
    mun: Municipalities,
    params: Params,
    day0: dt.date,
    stream: Callable[[str], np.random.Generator],
    scale: float = 1.0,
) -> Plan:
    """Draw every household's route and timing. ``stream(name)`` gives the named random stream;
    ``scale`` is the household sample share (the portal's capacity is national)."""
    n = len(hh)
    b, it = params.behaviour, params.intake

    def uniform(name: str, size: int = n) -> np.ndarray:
        return stream(name).random(size, dtype=np.float32)

    def delay(name: str, mean: np.ndarray | float) -> np.ndarray:
        """Gamma-distributed delays with the given mean (shape 1 = exponential)."""
        k = b.delay_shape
        return (stream(name).standard_gamma(k, n, dtype=np.float32) * (mean / k)).astype(np.float32)

    # municipalities: when online intake opens, who suspends it
    open_day = online_opening_days(params, day0, len(mun), uniform("online_opening", len(mun)))
    suspended = uniform("online_suspension", len(mun)) < it.online_suspended_share
    if not params.channels.online:
        open_day[:] = np.inf

    delay_factor = np.where(hh.head_age >= 75, np.float32(b.elderly_delay_factor), np.float32(1.0))

    # the paper route: form mailed by the municipality, filled in, posted back
    type_of = mun.type_index[hh.municipality]
    mail_start = np.array([days_from(day0, it.mail_out[t].start) for t in MUNICIPALITY_TYPES], np.float32)
    mail_spread = np.array([it.mail_out[t].spread_days for t in MUNICIPALITY_TYPES], np.float32)
    form_arrives = mail_start[type_of] + uniform("mail_out_position") * mail_spread[type_of] + it.postal_days
    mail_day = form_arrives + delay("mail_delay", b.mail_delay_days * delay_factor) + it.postal_days

    # the online route: card holders, more likely the more at home online they are
    online_capable = hh.head_card & (uniform("channel_choice") < b.online_share_card_holders * hh.head_literacy)
    online_day = open_day[hh.municipality].astype(np.float32) + delay(
        "online_delay", b.online_delay_days * delay_factor
    )
    susp_day = days_from(day0, it.online_suspension_start)
    online_ok = online_capable & np.isfinite(online_day) & (~suspended[hh.municipality] | (online_day < susp_day))
    if not params.channels.mail:
        mail_day = np.full(n, np.inf, np.float32)
    goes_online = online_ok & (online_day <= mail_day)

    route = np.where(goes_online, ONLINE, MAIL).astype(np.int8)
    arrival = np.where(goes_online, online_day, mail_day).astype(np.float32)
    arrival[goes_online] = portal_admission(
        arrival[goes_online],
        params,
        day0,
        stream("portal_retry").random(int(goes_online.sum()), dtype=np.float32),
        scale,
    )
    never = uniform("never_apply") < b.never_apply
    route[never] = NEVER

    # push: heads with a registered account are paid without applying, unless they opt out
    if params.channels.push:
        p = params.push
        registered = uniform("account_registered") < p.registered_share
        stays = uniform("push_opt_out") >= p.opt_out_rate
        pushed = registered & stays
        route[pushed] = PUSH
        arrival[pushed] = days_from(day0, p.notice_date) + p.opt_out_days
    if not params.channels.mail:
        route[(route == MAIL)] = NEVER

    # duplicates: some online applicants submit again, some also post the paper form
    is_online = route == ONLINE
    dup_draw = uniform("duplicate_online")
    extra = np.zeros(n, np.int8)
    dups = is_online & (dup_draw < b.duplicate_online_share)
    if dups.any() and b.duplicates_mean_extra > 0:
        k = stream("duplicate_count").geometric(1.0 / (1.0 + b.duplicates_mean_extra), n)
        extra[dups] = np.minimum(k[dups], 14)
    also_mails = is_online & (uniform("also_mails") < b.online_also_mails) & np.isfinite(mail_day)
    dup_mail_day = np.where(also_mails, mail_day, np.nan).astype(np.float32)
    return Plan(route, arrival, extra, dup_mail_day, open_day, suspended)
