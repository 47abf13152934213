"""Who asks the central services what, hour by hour: patients at 229,717 receptions and everyone else.

A Monday morning in July: the waiting rooms of 89,695 clinics fill at 09:00, the pharmacies next
door an hour later; dentists and hospitals follow their own volumes. Each patient's reception makes
one online eligibility check (オンライン資格確認), by My Number card for a growing share of them,
by insured number for the rest; only facilities with an operating reader check online, and that
share grew by type from 2023. Away from the clinics, people log in to Myna Portal (more in the
e-Tax season and in points campaigns), banks and other private verifiers check certificates
through platform operators (as many logins as the operators' links times the logins per link a day,
and a nightly status check of each link), and each year's card cohort comes back to the counter to renew its
certificates before the 5th birthday after issuance (the 2019-11-11 failure was the first wave).
Behind the counters, town halls, ministries, insurers and pension bodies ask each other for a
person's data through the information-provision network (情報照会, issue 17): in office hours as
applications are handled, and in evening batches of bulk inquiries (一括照会). Their volume is an
assumption (no national count is in the project's figures): ``demand.linkage_*``.

The hourly shapes are the failover model's (:func:`twin.models.failover.demand.hourly_demand`,
calibrated to July 2024); this module splits them by facility type, scales them by reader adoption,
season and the card share at each date, and adds the renewal wave from the card issuance history.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin.models.capacity.params import FACILITY_TYPES, Params
from twin.models.failover.demand import (
    CARD_BUSINESS_DAY,
    HOME_DAY,
    hourly_demand,
    linkage_hourly,
    platform_status_hourly,
)
from twin.models.failover.params import Demand as ShapeDemand
from twin.sim.holidays import is_holiday

#: cards held nationally after the last issuance snapshot (pc.watch.impress.co.jp 2069103)
CARDS_HELD_LATER = ((dt.date(2025, 12, 3), 100_129_804),)
#: the scheme started 2016-01-01: nothing issued before
SCHEME_START = dt.date(2016, 1, 1)


def interpolate(points: Sequence[tuple[dt.date, float]], day: dt.date) -> float:
    """Linear in time between (date, value) points, flat before the first and after the last."""
    xs = np.array([p[0].toordinal() for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    return float(np.interp(day.toordinal(), xs, ys))


@functools.lru_cache(maxsize=1)
def cards_held_history() -> tuple[tuple[dt.date, int], ...]:
    """(date, cards held nationally) from the issuance snapshots (twin.population.statistics)."""
    from twin.population.statistics import available_snapshots, load_snapshot, snapshot_date

    pts = [(SCHEME_START, 0)]
    pts += [(snapshot_date(s), int(load_snapshot(s).muni_cards.sum())) for s in available_snapshots()]
    return tuple(sorted(pts + list(CARDS_HELD_LATER)))


def renewals_per_day(days: Sequence[dt.date], lead_days: int) -> np.ndarray:
    """Certificate renewals on each day: the issuance cohort whose 5th birthday falls soon.

    A certificate issued on day d expires on the holder's 5th birthday after d, spread evenly over
    d + 4 y .. d + 5 y; holders renew evenly over the ``lead_days`` before expiry.
    """
    hist = cards_held_history()
    first = min(days[0] - dt.timedelta(days=5 * 366 + lead_days), hist[0][0])
    last = days[-1] + dt.timedelta(days=lead_days)
    grid = np.arange(first.toordinal(), last.toordinal() + 1)
    held = np.interp(grid, [d.toordinal() for d, _ in hist], [v for _, v in hist])
    issued = np.maximum(np.diff(held, prepend=held[0]), 0.0)  # cards issued per day (net growth)
    # expiry density: issuance convolved with uniform(4y, 5y)
    kernel = np.zeros(5 * 365 + 1)
    kernel[4 * 365 :] = 1.0 / (365 + 1)
    expiring = np.convolve(issued, kernel)[: len(grid)]
    # renewals at day x: expiries in (x, x + lead] spread evenly over the lead
    csum = np.concatenate([[0.0], np.cumsum(expiring)])
    out = np.empty(len(days))
    for i, d in enumerate(days):
        k = d.toordinal() - grid[0]
        hi = min(k + lead_days + 1, len(expiring))
        out[i] = (csum[hi] - csum[k + 1]) / lead_days
    return out


@dataclass(frozen=True)
class HourlyDemand:
    """Requests per hour from ``start`` 00:00 (JST), one column per hour."""

    start: dt.date
    by_type: np.ndarray  # [4, H] eligibility checks per facility type
    card_share: np.ndarray  # [H] share of checks made by card
    portal: np.ndarray  # [H] Myna Portal logins
    private: np.ndarray  # [H] private-sector verifications through platform operators
    renewals: np.ndarray  # [H] certificate renewals at the counters (two certificates each)
    linkage: np.ndarray  # [H] information-linkage queries between bodies (their intermediate servers)
    phone_logins: np.ndarray | None = None  # [H] portal and private logins made with a phone's certificate
    phone_issues: np.ndarray | None = None  # [H] phones J-LIS issues a pair of certificates to (new, replaced)
    pin_resets: np.ndarray | None = None  # [H] locked PINs reset at the town-hall counters (card and phone logins)
    phone_share: np.ndarray | None = None  # [H] share of logins by phone (before load_multiplier)
    logins: np.ndarray | None = None  # [H] portal and private logins by either token (phone_logins a share of them)

    @property
    def hours(self) -> int:
        return self.by_type.shape[1]

    @property
    def checks(self) -> np.ndarray:
        return self.by_type.sum(axis=0)

    @property
    def card_checks(self) -> np.ndarray:
        return self.checks * self.card_share

    @property
    def number_checks(self) -> np.ndarray:
        return self.checks - self.card_checks

    def times(self) -> np.ndarray:
        return np.datetime64(self.start, "h") + np.arange(self.hours).astype("timedelta64[h]")

    def scaled(self, factor: float) -> HourlyDemand:
        def times(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else x * factor

        return HourlyDemand(
            self.start, self.by_type * factor, self.card_share, self.portal * factor, self.private * factor,
            self.renewals * factor, self.linkage * factor, times(self.phone_logins), times(self.phone_issues),
            times(self.pin_resets), self.phone_share, times(self.logins),
        )


def _window_factor(days: list[dt.date], windows: Sequence[tuple[dt.date, dt.date, float]]) -> np.ndarray:
    f = np.ones(len(days))
    for a, b, k in windows:
        f *= np.array([k if a <= d <= b else 1.0 for d in days])
    return np.repeat(f, 24)


def is_business_day(day: dt.date) -> bool:
    """Town halls and agencies work: a weekday that is not a public holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def linkage_per_hour(params: Params, days: Sequence[dt.date]) -> np.ndarray:
    """Linkage queries in each hour of ``days`` (24 per day): on business days, the office share
    follows the town-hall counter hours (``CARD_BUSINESS_DAY``, 08:30-17:15 with the lunch dip) and
    the batch share is spread evenly over ``demand.linkage_batch_hours``; none on other days. The rule
    is :func:`twin.models.failover.demand.linkage_hourly`, shared with the failover model."""
    d = params.demand
    return linkage_hourly(d.linkage_queries_per_business_day, d.linkage_batch_share, d.linkage_batch_hours,
                          list(days))


def platform_status_per_hour(params: Params, days: Sequence[dt.date]) -> np.ndarray:
    """Status requests (現況確認) the platform operators send in each hour of ``days`` (24 per day): every
    live link checked ``platform_status_checks_per_link_per_day`` times a day, spread evenly over the
    nightly window, every day of the week (the count :class:`twin.services.platform.PlatformOperator`
    makes: one status request per active link per round). The rule is
    :func:`twin.models.failover.demand.platform_status_hourly`, shared with the failover model."""
    d = params.demand
    return platform_status_hourly(d.platform_links, d.platform_status_checks_per_link_per_day,
                                  d.platform_status_check_hours, list(days))


def phone_share_by_day(params: Params, days: Sequence[dt.date]) -> np.ndarray:
    """Share of portal and private logins made by phone on each day: each platform's holders follow the
    ``phones.uptake`` curve from their platform's service start (none before it), weighted by the
    platforms' shares of the holders' smartphones."""
    from twin.models.capacity.params import PHONE_START

    ph = params.phones
    if not ph.uptake:
        return np.zeros(len(days))
    xs = np.array([y for y, _ in ph.uptake], dtype=float)
    ys = np.array([v for _, v in ph.uptake], dtype=float)
    out = np.zeros(len(days))
    for platform, weight in (("android", ph.android_share), ("iphone", 1.0 - ph.android_share)):
        years = np.array([(day - PHONE_START[platform]).days / 365.25 for day in days])
        out += weight * np.where(years >= 0, np.interp(years, xs, ys, left=0.0), 0.0)
    return out


def phone_issues_per_day(params: Params, days: Sequence[dt.date]) -> np.ndarray:
    """Phones issued a pair of certificates on each day: phone holders (card holders times the phone
    share of logins) who joined since the day before, and the holders' phones replaced every
    ``phones.replacement_years``."""
    before = days[0] - dt.timedelta(days=1)
    every = [before, *days]
    hist = cards_held_history()
    holders = np.array([interpolate(hist, d) for d in every]) * phone_share_by_day(params, every)
    return np.maximum(np.diff(holders), 0.0) + holders[1:] / (params.phones.replacement_years * 365.25)


def week_to_business_days(days: Sequence[dt.date], per_day: np.ndarray) -> np.ndarray:
    """Counter work arising on each day, done on the business days of its (ISO) week, evenly; a week of the
    horizon without a business day passes its work to the next week that has one (work after the last
    business day of the horizon is not done within it)."""
    out = np.zeros(len(days))
    open_days = np.array([is_business_day(day) for day in days])
    carry = 0.0
    i = 0
    while i < len(days):
        j = i
        week = days[i].isocalendar()[:2]
        while j < len(days) and days[j].isocalendar()[:2] == week:
            j += 1
        work = carry + float(per_day[i:j].sum())
        n_open = int(open_days[i:j].sum())
        if n_open:
            out[i:j] = open_days[i:j] * work / n_open
            carry = 0.0
        else:
            carry = work
        i = j
    return out


def build_demand(params: Params, start: dt.date, n_days: int) -> HourlyDemand:
    """National demand per hour for ``n_days`` from ``start``, as the parameters say."""
    if n_days < 1:
        raise ValueError(f"n_days = {n_days}: the demand horizon must be at least one day")
    d, fac = params.demand, params.facilities
    days = [start + dt.timedelta(days=i) for i in range(n_days)]
    shape = ShapeDemand(
        eligibility_checks_per_month=d.checks_reference_total,
        eligibility_reference_month=d.reference_month,
        card_share_of_eligibility=0.0,
        portal_logins_per_day=d.portal_logins_per_day,
        payout_applications_per_day=0.0,
        card_transactions_per_business_day=0.0,
        platform_links=d.platform_links, platform_logins_per_link_per_day=d.platform_logins_per_link_per_day,
    )
    base = hourly_demand(shape, start, n_days)
    y, m = (int(x) for x in d.reference_month.split("-"))
    ref_day = dt.date(y, m, 15)
    total_ref = sum(fac.checks_reference_month.values())
    season = np.repeat([d.season.get(day.month, 1.0) / d.season.get(m, 1.0) for day in days], 24)
    rows = []
    for t in FACILITY_TYPES:
        ref = interpolate(fac.adoption[t], ref_day)
        adopt = np.repeat([interpolate(fac.adoption[t], day) / ref for day in days], 24)
        lagged = np.roll(base["eligibility"], fac.hour_lag[t])
        if fac.hour_lag[t]:
            lagged[: fac.hour_lag[t]] = base["eligibility"][0]
        rows.append(lagged * fac.checks_reference_month[t] / total_ref * adopt * season)
    home = _window_factor(days, [(d.etax_season[0], d.etax_season[1], d.etax_factor)])
    portal = base["portal"] * home * _window_factor(days, d.campaigns)
    # private verifiers: the logins the platform operators verify (their links x logins per link a day, the
    # failover model's private_logins_per_day) in the hours people are at home, and the operators' nightly
    # status checks of every linked certificate
    auth = (base["ocsp"] - base["portal"]) * home  # the private authentications (the status checks are apart)
    private = auth + platform_status_per_hour(params, days)
    # phones: a share of the logins by the phone's certificate; their issuance (done at home, through the
    # app) and the PIN lock-outs both kinds of login leave for the counters' next open hours
    ph = params.phones
    share = np.repeat(phone_share_by_day(params, days), 24)
    phone_logins = (portal + auth) * share
    issues = np.repeat(phone_issues_per_day(params, days), 24) * np.tile(HOME_DAY / HOME_DAY.sum(), n_days)
    locked = ((portal + auth - phone_logins) * ph.pin_lockouts_per_card_login
              + phone_logins * ph.pin_lockouts_per_phone_login).reshape(n_days, 24).sum(axis=1)
    counter = CARD_BUSINESS_DAY / CARD_BUSINESS_DAY.sum()
    # renewals and PIN resets wait for the counters: a week's go to its business days
    renew_days = week_to_business_days(days, renewals_per_day(days, d.renewal_lead_days)) if d.renewals else None
    renew = np.zeros(24 * n_days) if renew_days is None else (renew_days[:, None] * counter[None, :]).reshape(-1)
    resets = (week_to_business_days(days, locked)[:, None] * counter[None, :]).reshape(-1)
    card_share = np.repeat([interpolate(d.card_share, day) for day in days], 24)
    return HourlyDemand(start, np.vstack(rows), card_share, portal, private, renew, linkage_per_hour(params, days),
                        phone_logins, issues, resets, share, portal + auth)
