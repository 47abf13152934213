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


class PlanMemo:
    """Keeps the last result of each expensive step of :func:`plan_households`, keyed by the
    parameters it depends on, so options that share them (most do) share the work. Because every
    step draws from its own named stream, a reused result is exactly what recomputing would give."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[object, object]] = {}

    def get(self, kind: str, key: object, compute: Callable[[], object]) -> object:
        hit = self._last.get(kind)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self._last[kind] = (key, value)
        return value


def plan_households(
    hh: Households,
    mun: Municipalities,
    params: Params,
    day0: dt.date,
    stream: Callable[[str], np.random.Generator],
    scale: float = 1.0,
    memo: PlanMemo | None = None,
) -> Plan:
    """Draw every household's route and timing. ``stream(name)`` gives the named random stream;
    ``scale`` is the household sample share (the portal's capacity is national); ``memo`` shares
    work between options of one run."""
    n = len(hh)
    b, it = params.behaviour, params.intake
    memo = memo or PlanMemo()

    def uniform(name: str, size: int = n) -> np.ndarray:
        return stream(name).random(size, dtype=np.float32)

    def delay(name: str, mean: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Gamma-distributed delays with the given mean (shape 1 = exponential)."""
        k = b.delay_shape
        size = n if rows is None else len(rows)
        return stream(name).standard_gamma(k, size, dtype=np.float32) * (mean / np.float32(k))

    def delay_factor(rows: np.ndarray | None = None) -> np.ndarray:
        age = hh.head_age if rows is None else hh.head_age[rows]
        return np.where(age >= 75, np.float32(b.elderly_delay_factor), np.float32(1.0))

    # municipalities: when online intake opens, who suspends it
    open_day = online_opening_days(params, day0, len(mun), uniform("online_opening", len(mun)))
    suspended = uniform("online_suspension", len(mun)) < it.online_suspended_share
    if not params.channels.online:
        open_day[:] = np.inf

    # the paper route: form mailed by the municipality, filled in, posted back
    def paper() -> np.ndarray:
        type_of = mun.type_index[hh.municipality]
        start = np.array([days_from(day0, it.mail_out[t].start) for t in MUNICIPALITY_TYPES], np.float32)
        spread = np.array([it.mail_out[t].spread_days for t in MUNICIPALITY_TYPES], np.float32)
        day = uniform("mail_out_position")
        day *= spread[type_of]
        day += start[type_of] + np.float32(2 * it.postal_days)
        day += delay("mail_delay", np.float32(b.mail_delay_days) * delay_factor())
        return day

    if params.channels.mail:
        mail_key = (it.mail_out, it.postal_days, b.mail_delay_days, b.delay_shape, b.elderly_delay_factor)
        mail_day = memo.get("mail", mail_key, paper)
    else:
        mail_day = np.full(n, np.inf, np.float32)

    # the online route: card holders, more likely the more at home online they are
    def capable() -> np.ndarray:
        return np.flatnonzero(
            hh.head_card & (uniform("channel_choice") < b.online_share_card_holders * hh.head_literacy)
        )

    cap = memo.get("capable", b.online_share_card_holders, capable)
    online_delay = memo.get(
        "online_delay",
        (b.online_share_card_holders, b.online_delay_days, b.delay_shape, b.elderly_delay_factor),
        lambda: delay("online_delay", np.float32(b.online_delay_days) * delay_factor(cap), cap),
    )
    online_day = open_day[hh.municipality[cap]].astype(np.float32) + online_delay
    susp_day = days_from(day0, it.online_suspension_start)
    ok = np.isfinite(online_day) & (~suspended[hh.municipality[cap]] | (online_day < susp_day))
    ok &= online_day <= mail_day[cap]
    online_rows = cap[ok]

    route = np.full(n, MAIL, np.int8)
    arrival = mail_day.copy()
    route[online_rows] = ONLINE
    arrival[online_rows] = portal_admission(
        online_day[ok], params, day0, stream("portal_retry").random(len(online_rows), dtype=np.float32), scale
    )
    never = memo.get("never", b.never_apply, lambda: uniform("never_apply") < b.never_apply)
    route[never] = NEVER

    # push: heads with a registered account are paid without applying, unless they opt out
    if params.channels.push:
        p = params.push
        pushed = memo.get(
            "push",
            (p.registered_share, p.opt_out_rate),
            lambda: (uniform("account_registered") < p.registered_share) & (uniform("push_opt_out") >= p.opt_out_rate),
        )
        route[pushed] = PUSH
        # payable the day after the opt-out window (which includes its last day) has closed
        arrival[pushed] = days_from(day0, p.notice_date) + p.opt_out_days + 1
    if not params.channels.mail:
        route[route == MAIL] = NEVER

    # duplicates: some online applicants submit again, some also post the paper form (draws are
    # made for every online-capable head, so options with the same capable heads share them)
    online_pos = np.flatnonzero(ok)
    online_pos = online_pos[route[cap[online_pos]] == ONLINE]
    rows = cap[online_pos]
    extra = np.zeros(n, np.int8)
    dups = uniform("duplicate_online", len(cap))[online_pos] < b.duplicate_online_share
    if dups.any() and b.duplicates_mean_extra > 0:
        k = stream("duplicate_count").geometric(1.0 / (1.0 + b.duplicates_mean_extra), len(cap))[online_pos]
        extra[rows[dups]] = np.minimum(k[dups], 14)
    also = (uniform("also_mails", len(cap))[online_pos] < b.online_also_mails) & np.isfinite(mail_day[rows])
    dup_mail_day = np.full(n, np.nan, np.float32)
    dup_mail_day[rows[also]] = mail_day[rows[also]]
    return Plan(route, arrival, extra, dup_mail_day, open_day, suspended)
