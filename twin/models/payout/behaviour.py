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

from twin.models.payout.municipalities import TownHalls, reply_delay, town_halls
from twin.models.payout.municipalities import online_opening_days as _opening
from twin.models.payout.params import Params

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
    halls: TownHalls | None = None  # the town halls' own dates, capacity and bank days


def days_from(day0: dt.date, d: dt.date) -> float:
    return float((d - day0).days)


def online_opening_days(params: Params, day0: dt.date, n_municipalities: int, u: np.ndarray) -> np.ndarray:
    """Day each municipality opens online intake (see :func:`municipalities.online_opening_days`)."""
    return _opening(params, day0, u)


def push_reach(params: Params, head_card: np.ndarray, population: float) -> tuple[float, float]:
    """(P(reached | head holds a card now), P(reached | head has no card now)) for push.

    Registered accounts on ``push.registrations_as_of`` were ``share_of_card_holders`` of the card
    holders then, so card holders then = accounts / share. Heads holding a card now still hold one
    then; the others hold one with the probability that lifts the heads' holding rate to the
    national rate of that date. Only card holders register, at ``share_of_card_holders``."""
    p = params.push
    holders_then = p.accounts / p.share_of_card_holders
    rate_then = min(1.0, holders_then / max(population, 1.0))
    rate_now = float(head_card.mean()) if len(head_card) else 0.0
    gain = max(0.0, (rate_then - rate_now) / max(1.0 - rate_now, 1e-12))
    return p.share_of_card_holders, gain * p.share_of_card_holders


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
    halls: TownHalls | None = None,
) -> Plan:
    """Draw every household's route and timing. ``stream(name)`` gives the named random stream;
    ``scale`` is the household sample share (the portal's capacity is national); ``memo`` shares
    work between options of one run; ``halls`` are the town halls (drawn here when not given)."""
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

    if halls is None:
        halls = town_halls(mun.code, mun.type_index, mun.households / scale, params, day0, stream)
    open_day = halls.online_open_day
    suspended = halls.suspended
    hm = hh.municipality
    deadline = halls.deadline_day[hm].astype(np.float32)

    # the paper route: the town hall posts its forms in waves from its mail-out day; the household
    # replies after a long-tailed delay (later if it is elderly or lives alone), by the deadline
    def paper() -> np.ndarray:
        received = halls.mail_out_day[hm] + uniform("mail_out_position") * halls.mailing_days[hm] + it.postal_days
        median = np.float32(b.mail_reply_median_days) * delay_factor()
        median = median * np.where(hh.size == 1, np.float32(b.one_person_delay_factor), np.float32(1.0))
        reply = reply_delay(uniform("mail_delay"), median, b.mail_reply_sigma, deadline - received)
        return (received + reply + it.postal_days).astype(np.float32)

    if params.channels.mail:
        mail_key = (
            it.mail_out, it.city_mail_out_day, it.postal_days, it.mailing_households_per_day, it.deadline_months,
            b.mail_reply_median_days, b.mail_reply_sigma, b.one_person_delay_factor, b.elderly_delay_factor,
        )  # fmt: skip
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
    online_day = open_day[hm[cap]].astype(np.float32) + online_delay
    susp_day = days_from(day0, it.online_suspension_start)
    ok = np.isfinite(online_day) & (~suspended[hm[cap]] | (online_day < susp_day))
    ok &= (online_day <= mail_day[cap]) & (online_day <= deadline[cap])
    online_rows = cap[ok]

    route = np.full(n, MAIL, np.int8)
    arrival = mail_day.copy()
    route[online_rows] = ONLINE
    arrival[online_rows] = portal_admission(
        online_day[ok], params, day0, stream("portal_retry").random(len(online_rows), dtype=np.float32), scale
    )

    def never_draw() -> np.ndarray:
        u = uniform("never_apply")
        if not b.never_apply_one_person_only:
            return u < b.never_apply
        single = hh.size == 1
        rate = min(1.0, b.never_apply * n / max(int(single.sum()), 1))
        return single & (u < rate)

    never = memo.get("never", (b.never_apply, b.never_apply_one_person_only), never_draw)
    route[never] = NEVER

    # push: heads with a registered account on the stated date are paid without applying, unless
    # they opt out
    if params.channels.push:
        p = params.push
        with_card, without_card = push_reach(params, hh.head_card, float(hh.size.sum()) / scale)

        def pushed_draw() -> np.ndarray:
            reach = np.where(hh.head_card, np.float32(with_card), np.float32(without_card))
            return (uniform("account_registered") < reach) & (uniform("push_opt_out") >= p.opt_out_rate)

        pushed = memo.get("push", (p.registrations_as_of, p.accounts, p.share_of_card_holders, p.opt_out_rate),
                          pushed_draw)  # fmt: skip
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
    hm = hh.municipality
    extra = np.zeros(n, np.int8)
    dups = uniform("duplicate_online", len(cap))[online_pos] < b.duplicate_online_share
    if dups.any() and b.duplicates_mean_extra > 0:
        k = stream("duplicate_count").geometric(1.0 / (1.0 + b.duplicates_mean_extra), len(cap))[online_pos]
        extra[rows[dups]] = np.minimum(k[dups], 14)
    also = (uniform("also_mails", len(cap))[online_pos] < b.online_also_mails) & np.isfinite(mail_day[rows])
    dup_mail_day = np.full(n, np.nan, np.float32)
    dup_mail_day[rows[also]] = mail_day[rows[also]]
    return Plan(route, arrival, extra, dup_mail_day, open_day, suspended, halls)
