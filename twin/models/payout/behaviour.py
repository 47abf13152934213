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

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.models.payout.municipalities import TownHalls, reply_delay, town_halls
from twin.models.payout.municipalities import online_opening_days as _opening
from twin.models.payout.params import Params

NEVER, MAIL, ONLINE, PUSH = 0, 1, 2, 3
#: households per slice where a rule is applied to all households' columns (bounds the temporaries)
COLUMN_SLICE = 1 << 21
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

    def take(self, rows: np.ndarray) -> Households:
        """The households ``rows`` (a municipality's cohort, or one household)."""
        return Households(*(getattr(self, f.name)[rows] for f in dataclasses.fields(self)))


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


def push_reach(params: Params, card_heads: int, households: int, population: float) -> tuple[float, float]:
    """(P(reached | head holds a card now), P(reached | head has no card now)) for push.

    Registered accounts on ``push.registrations_as_of`` were ``share_of_card_holders`` of the card
    holders then, so card holders then = accounts / share. Heads holding a card now still hold one
    then; the others hold one with the probability that lifts the heads' holding rate to the
    national rate of that date. Only card holders register, at ``share_of_card_holders``."""
    p = params.push
    holders_then = p.accounts / p.share_of_card_holders
    rate_then = min(1.0, holders_then / max(population, 1.0))
    rate_now = card_heads / households if households else 0.0  # (the heads' mean, exactly)
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
    d = np.floor(day).astype(np.int64)
    lo = int(d.min())
    return admit(day, u, lo, portal_failure(np.bincount(d - lo), lo, params, day0, scale))


def portal_failure(attempts_by_day: np.ndarray, lo: int, params: Params, day0: dt.date, scale: float) -> np.ndarray:
    """The share of the day's online attempts that fail, for days ``lo, lo + 1, ...`` given the sampled
    attempts on each (``np.bincount`` of the attempts' days from ``lo``): see :func:`portal_admission`."""
    it = params.intake
    attempts = attempts_by_day / scale  # national attempts per day
    hours = np.full(len(attempts), it.portal_active_hours)
    for when, out in it.portal_outages:
        k = int(days_from(day0, when)) - lo
        if 0 <= k < len(hours):
            hours[k] = max(0.0, it.portal_active_hours - out)
    accepted = np.minimum(attempts * hours / it.portal_active_hours, it.portal_capacity_per_hour * hours)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(attempts > 0, 1.0 - accepted / attempts, 0.0)


def admit(day: np.ndarray, u: np.ndarray, lo: int, fail: np.ndarray) -> np.ndarray:
    """The attempts on ``day`` after the portal: those whose draw ``u`` falls below their day's failure share
    (:func:`portal_failure`, days from ``lo``) come back the next day."""
    d = np.floor(day).astype(np.int64)
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


@dataclass(frozen=True)
class Setting:
    """What every household's rules read besides its own attributes and draws: the town halls and the
    few national quantities (the never-apply rate among one-person households, push reach)."""

    params: Params
    day0: dt.date
    halls: TownHalls
    never_rate: float  # P(never applies | one-person household) when never_apply_one_person_only
    reach: tuple[float, float]  # push reach (head holds a card, does not)
    suspension_day: float


def setting(hh: Households, params: Params, day0: dt.date, halls: TownHalls, scale: float) -> Setting:
    return setting_of(params, day0, halls, scale, len(hh), int((hh.size == 1).sum()), int(hh.size.sum()),
                      int(hh.head_card.sum()))  # fmt: skip


def setting_of(params: Params, day0: dt.date, halls: TownHalls, scale: float, households: int, one_person: int,
               persons: int, card_heads: int) -> Setting:  # fmt: skip
    """The setting from the sample's counts (households, one-person households, persons, heads holding a card),
    which is all :func:`setting` reads of the households."""
    b = params.behaviour
    never_rate = min(1.0, b.never_apply * households / max(one_person, 1))
    reach = push_reach(params, card_heads, households, float(persons) / scale) if params.channels.push else (0.0, 0.0)
    return Setting(params, day0, halls, never_rate, reach, days_from(day0, params.intake.online_suspension_start))


#: each household's own draws: (stream, distribution) for every household, and for every household that
#: considers going online (the k-th number of the stream goes to the k-th such household in row order)
HOUSEHOLD_DRAWS = ("mail_out_position", "mail_delay", "channel_choice", "never_apply", "account_registered",
                   "push_opt_out")  # fmt: skip
ONLINE_DRAWS = ("online_delay", "duplicate_online", "duplicate_count", "also_mails")


def _draw(stream: Callable[[str], np.random.Generator], name: str, size: int, params: Params) -> np.ndarray:
    b = params.behaviour
    if name == "online_delay":
        return stream(name).standard_gamma(b.delay_shape, size, dtype=np.float32)
    if name == "duplicate_count":
        return stream(name).geometric(1.0 / (1.0 + b.duplicates_mean_extra), size)
    return stream(name).random(size, dtype=np.float32)


class Draws:
    """The households' own random numbers, from the named streams both tiers share (common random
    numbers): drawn when asked for all households (the aggregate's columns, nothing kept), or kept
    (:meth:`kept`) so that any subset -- a municipality's cohort, one household -- reads its own."""

    def __init__(self, stream: Callable[[str], np.random.Generator], n: int, params: Params) -> None:
        self.stream, self.n, self.params = stream, n, params
        self._kept: dict[str, np.ndarray] | None = None
        self._rows: np.ndarray | None = None

    @classmethod
    def kept(cls, hh: Households, stream: Callable[[str], np.random.Generator], params: Params) -> Draws:
        d = cls(stream, len(hh), params)
        kept = {name: _draw(stream, name, len(hh), params) for name in HOUSEHOLD_DRAWS}
        cap = np.flatnonzero(considers_online(hh, kept["channel_choice"], params))
        for name in ONLINE_DRAWS:
            v = _draw(stream, name, len(cap), params)
            full = np.zeros(len(hh), dtype=v.dtype)
            full[cap] = v
            kept[name] = full
        d._kept = kept
        return d

    def take(self, rows: np.ndarray) -> Draws:
        """The draws of the households ``rows`` (of kept draws)."""
        if self._kept is None:
            raise ValueError("Draws.take: only kept draws can be split")
        d = Draws(self.stream, len(rows), self.params)
        d._kept = {k: v[rows] for k, v in self._kept.items()}
        return d

    def uniform(self, name: str) -> np.ndarray:
        if self._kept is not None:
            return self._kept[name]
        return _draw(self.stream, name, self.n, self.params)

    def online(self, name: str, cap: np.ndarray) -> np.ndarray:
        """``name``'s draws of the households ``cap`` (those that consider going online)."""
        if self._kept is not None:
            return self._kept[name][cap]
        return _draw(self.stream, name, len(cap), self.params)


# -- the households' rules: one function each, applied to columns (all households, a municipality's
# cohort, or one household); the aggregate tier and the Mesa agents both call them --------------------


def delay_factor(head_age: np.ndarray, params: Params) -> np.ndarray:
    return np.where(head_age >= 75, np.float32(params.behaviour.elderly_delay_factor), np.float32(1.0))


def paper_day(c: Households, d: Draws, s: Setting) -> np.ndarray:
    """The paper route: the town hall posts its forms in waves from its mail-out day; the household
    replies after a long-tailed delay (later if it is elderly or lives alone), by the deadline.

    Computed in slices of ``COLUMN_SLICE`` households (each value depends only on its own household),
    so 57 million households need a few arrays of 2 million, not a dozen of 57 million."""
    u_position, u_delay = d.uniform("mail_out_position"), d.uniform("mail_delay")
    out = np.empty(len(c), dtype=np.float32)
    for lo in range(0, len(c), COLUMN_SLICE):
        sl = slice(lo, lo + COLUMN_SLICE)
        out[sl] = _paper_day(c.municipality[sl], c.head_age[sl], c.size[sl], u_position[sl], u_delay[sl], s)
    return out


def _paper_day(hm: np.ndarray, head_age: np.ndarray, size: np.ndarray, u_position: np.ndarray,
               u_delay: np.ndarray, s: Setting) -> np.ndarray:  # fmt: skip
    b, it, halls = s.params.behaviour, s.params.intake, s.halls
    deadline = halls.deadline_day[hm].astype(np.float32)
    received = halls.mail_out_day[hm] + u_position * halls.mailing_days[hm] + it.postal_days
    median = np.float32(b.mail_reply_median_days) * delay_factor(head_age, s.params)
    median = median * np.where(size == 1, np.float32(b.one_person_delay_factor), np.float32(1.0))
    reply = reply_delay(u_delay, median, b.mail_reply_sigma, deadline - received)
    return (received + reply + it.postal_days).astype(np.float32)


def considers_online(c: Households, u_channel: np.ndarray, params: Params) -> np.ndarray:
    """Card holders consider applying online, more likely the more at home online they are."""
    return c.head_card & (u_channel < params.behaviour.online_share_card_holders * c.head_literacy)


def online_delay(head_age: np.ndarray, gamma: np.ndarray, params: Params) -> np.ndarray:
    """Days from online intake opening to the application: gamma with the behaviour's mean."""
    b = params.behaviour
    return gamma * ((np.float32(b.online_delay_days) * delay_factor(head_age, params)) / np.float32(b.delay_shape))


def never_applies(c: Households, u: np.ndarray, s: Setting) -> np.ndarray:
    b = s.params.behaviour
    if not b.never_apply_one_person_only:
        return u < b.never_apply
    return (c.size == 1) & (u < s.never_rate)


def is_pushed(c: Households, u_registered: np.ndarray, u_opt_out: np.ndarray, s: Setting) -> np.ndarray:
    """Heads with a registered account on the stated date are paid without applying, unless they opt out."""
    with_card, without_card = s.reach
    reach = np.where(c.head_card, np.float32(with_card), np.float32(without_card))
    return (u_registered < reach) & (u_opt_out >= s.params.push.opt_out_rate)


@dataclass
class Decisions:
    """What a set of households decided (before the portal: online applications the portal turns away
    come back the next day, a national step, :func:`admit_portal`)."""

    route: np.ndarray
    arrival: np.ndarray
    extra_online: np.ndarray
    dup_mail_day: np.ndarray
    online_rows: np.ndarray  # households that go online (before never/push override), ascending
    online_day: np.ndarray  # their day at the portal


def decide(c: Households, d: Draws, s: Setting, memo: PlanMemo | None = None) -> Decisions:
    """Every household's route and timing, by the rules above. ``memo`` shares work between options
    (columns of all households only)."""
    n = len(c)
    params, b, it = s.params, s.params.behaviour, s.params.intake
    halls, hm = s.halls, c.municipality

    def get(kind: str, key: object, compute: Callable[[], object]) -> Any:
        return memo.get(kind, key, compute) if memo is not None else compute()

    if params.channels.mail:
        mail_key = (
            it.mail_out, it.city_mail_out_day, it.postal_days, it.mailing_households_per_day, it.deadline_months,
            b.mail_reply_median_days, b.mail_reply_sigma, b.one_person_delay_factor, b.elderly_delay_factor,
        )  # fmt: skip
        mail_day = get("mail", mail_key, lambda: paper_day(c, d, s))
    else:
        mail_day = np.full(n, np.inf, np.float32)

    cap = get("capable", b.online_share_card_holders,
              lambda: np.flatnonzero(considers_online(c, d.uniform("channel_choice"), params)))  # fmt: skip
    delay = get(
        "online_delay",
        (b.online_share_card_holders, b.online_delay_days, b.delay_shape, b.elderly_delay_factor),
        lambda: online_delay(c.head_age[cap], d.online("online_delay", cap), params),
    )
    hall = hm[cap]  # the town hall of each online-capable household
    online_day = halls.online_open_day[hall].astype(np.float32) + delay
    ok = np.isfinite(online_day) & (~halls.suspended[hall] | (online_day < s.suspension_day))
    ok &= (online_day <= mail_day[cap]) & (online_day <= halls.deadline_day[hall].astype(np.float32))
    online_rows = cap[ok]

    route = np.full(n, MAIL, np.int8)
    arrival = mail_day.copy()
    route[online_rows] = ONLINE
    arrival[online_rows] = online_day[ok]
    never = get("never", (b.never_apply, b.never_apply_one_person_only),
                lambda: never_applies(c, d.uniform("never_apply"), s))  # fmt: skip
    route[never] = NEVER
    if params.channels.push:
        p = params.push
        pushed = get("push", (p.registrations_as_of, p.accounts, p.share_of_card_holders, p.opt_out_rate),
                     lambda: is_pushed(c, d.uniform("account_registered"), d.uniform("push_opt_out"), s))  # fmt: skip
        route[pushed] = PUSH
        # payable the day after the opt-out window (which includes its last day) has closed
        arrival[pushed] = days_from(s.day0, p.notice_date) + p.opt_out_days + 1
    if not params.channels.mail:
        route[route == MAIL] = NEVER

    # duplicates: some online applicants submit again, some also post the paper form (draws are
    # made for every online-capable head, so options with the same capable heads share them)
    online_pos = np.flatnonzero(ok)
    online_pos = online_pos[route[cap[online_pos]] == ONLINE]
    rows = cap[online_pos]
    extra = np.zeros(n, np.int8)
    dups = d.online("duplicate_online", cap)[online_pos] < b.duplicate_online_share
    if dups.any() and b.duplicates_mean_extra > 0:
        k = d.online("duplicate_count", cap)[online_pos]
        extra[rows[dups]] = np.minimum(k[dups], 14)
    also = (d.online("also_mails", cap)[online_pos] < b.online_also_mails) & np.isfinite(mail_day[rows])
    dup_mail_day = np.full(n, np.nan, np.float32)
    dup_mail_day[rows[also]] = mail_day[rows[also]]
    return Decisions(route, arrival, extra, dup_mail_day, online_rows, online_day[ok])


def admit_portal(dec: Decisions, s: Setting, stream: Callable[[str], np.random.Generator], scale: float) -> np.ndarray:
    """The arrival days after the portal (a national step: its capacity is shared by all households)."""
    rows = dec.online_rows
    u = stream("portal_retry").random(len(rows), dtype=np.float32)
    admitted = portal_admission(dec.online_day, s.params, s.day0, u, scale)
    arrival = dec.arrival.copy()
    arrival[rows] = np.where(dec.route[rows] == PUSH, dec.arrival[rows], admitted)
    return arrival


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
    """Draw every household's route and timing, as columns. ``stream(name)`` gives the named random
    stream; ``scale`` is the household sample share (the portal's capacity is national); ``memo`` shares
    work between options of one run; ``halls`` are the town halls (drawn here when not given).
    The Mesa agents (:mod:`twin.models.payout.households`) apply the same :func:`decide` cohort by
    cohort or household by household and give the same plan."""
    memo = memo or PlanMemo()
    if halls is None:
        halls = town_halls(mun.code, mun.type_index, mun.households / scale, params, day0, stream)
    s = setting(hh, params, day0, halls, scale)
    dec = decide(hh, Draws(stream, len(hh), params), s, memo)
    arrival = admit_portal(dec, s, stream, scale)
    return Plan(dec.route, arrival, dec.extra_online, dec.dup_mail_day, halls.online_open_day, halls.suspended, halls)
