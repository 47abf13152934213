"""Hourly national demand on the central services: what an outage at 10:00 on a Monday really costs.

A clinic opens at 09:00 on Monday after a weekend, and the waiting room is full: online eligibility
confirmation (オンライン資格確認) sees its heaviest hours on Monday mornings, a second hump in the
afternoon surgeries, a short Saturday morning and almost nothing on Sundays and public holidays.
Town-hall counters that hand over and renew My Number cards open 08:30-17:15 on business days,
with the 2016 peaks at 09:30-12:00 and at 14:00. People log in to Myna Portal from home, so its
evening is as busy as its morning. The JPKI OCSP responder answers for every card log-in, every
card-based eligibility check and every private verifier.

Volumes and shapes (public figures in twin/data/FIGURES.md; the hour-by-hour weights are assumed
shapes fitted to the stated peaks, not published curves):

- eligibility: 204,975,295 online checks in July 2024 (MHLW 医療保険部会 181), spread over that
  month by the day and hour weights below, and the same weights used for every other month;
- card: town-hall transactions per business day (FY2025: 1,200万 card and 1,580万 certificate
  renewals expected, zeikei-news), peaks 09:30-12:00 and 14:00 (Nikkei xTECH, 2016-03/04);
- portal and payout: per-day volumes (assumed; no published hourly figures);
- linkage: information-linkage queries between bodies (情報照会 through the information-provision
  network to the intermediate servers), business days only, the office share in the counter-hours
  shape and the bulk share spread over an evening batch window; the volumes are the capacity model's
  assumed ``demand.linkage_*`` (one rule, :func:`linkage_hourly`, used by both models);
- private logins: the JPKI authentications private service providers (banks, brokers, phone companies)
  have verified through the platform operators (626 firms used JPKI in 2024-11), derived from the operators'
  links: live links of provider user IDs to certificate serials x logins per link a day, in the hours
  people are at home (one rule, :func:`private_logins_per_day`, used by both models; both factors assumed:
  no count of links or of private verifications is in the project's figures);
- ocsp: portal log-ins + the card share of eligibility checks (11.13 % in July 2024) + the private logins;
- status: the platform operators' status checks (現況確認) of their links, links x checks per link a day
  spread over a nightly window (one rule, :func:`platform_status_hourly`, used by both models; assumed), a
  batch on the same responder counted apart (:mod:`.status_checks`).

This module is shared on purpose: a capacity model can call :func:`hourly_demand` for the same
curves. Everything is requests per hour, one row per hour from 00:00 of the first day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from twin.sim.holidays import is_holiday

# hour-of-day weights (0..23)
ELIGIBILITY_WEEKDAY = np.array(
    [.005, .005, .005, .005, .005, .01, .02, .1, .6, 1.0, 1.0, .85, .45, .35, .55, .75, .75, .6, .35, .12, .04, .01,
     .01, .005]
)  # fmt: skip
#: Monday: the weekend's patients come in the morning
ELIGIBILITY_MONDAY_MORNING = 1.3
ELIGIBILITY_DAY = {0: 1.2, 1: 1.0, 2: 1.0, 3: 0.85, 4: 1.0, 5: 0.55, 6: 0.06}
ELIGIBILITY_HOLIDAY = 0.06
CARD_BUSINESS_DAY = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, .5, .9, 1.0, 1.0, .55, .75, 1.0, .8, .7, .15, 0, 0, 0, 0, 0, 0], dtype=float
)
HOME_DAY = np.array(
    [.12, .06, .03, .02, .02, .04, .15, .4, .6, .8, .9, .9, .8, .8, .8, .8, .75, .7, .7, .8, 1.0, 1.0, .9, .5]
)  # fmt: skip
HOME_WEEKEND = 0.8


def _days(start: dt.date, n_days: int) -> list[dt.date]:
    return [start + dt.timedelta(days=d) for d in range(n_days)]


def _eligibility_weights(days: list[dt.date]) -> np.ndarray:
    w = np.zeros((len(days), 24))
    for i, d in enumerate(days):
        if is_holiday(d):
            w[i] = ELIGIBILITY_WEEKDAY * ELIGIBILITY_HOLIDAY
            continue
        row = ELIGIBILITY_WEEKDAY * ELIGIBILITY_DAY[d.weekday()]
        if d.weekday() == 0:
            row = row.copy()
            row[8:12] *= ELIGIBILITY_MONDAY_MORNING
        if d.weekday() == 5:  # Saturday: morning surgeries only
            row = row.copy()
            row[13:] *= 0.2
        w[i] = row
    return w


def _eligibility_per_weight(checks_per_month: float, month: str) -> float:
    """Checks per unit weight so that the reference month sums to the published total."""
    y, m = (int(x) for x in month.split("-"))
    first = dt.date(y, m, 1)
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    w = _eligibility_weights(_days(first, (nxt - first).days))
    return checks_per_month / w.sum()


def _business(d: dt.date) -> bool:
    return d.weekday() < 5 and not is_holiday(d) and not ((d.month, d.day) >= (12, 29) or (d.month, d.day) <= (1, 3))


def _home(days: list[dt.date], per_day: float) -> np.ndarray:
    w = np.array([HOME_DAY * (HOME_WEEKEND if (d.weekday() >= 5 or is_holiday(d)) else 1.0) for d in days])
    return (w / HOME_DAY.sum() * per_day).reshape(-1)


def _apply_surges(series: np.ndarray, profile: str, start: dt.date, surges: list) -> np.ndarray:  # noqa: ANN001
    t0 = dt.datetime.combine(start, dt.time())
    out = series.copy()
    for s in surges:
        if s.profile != profile:
            continue
        a = (s.start - t0).total_seconds() / 3600
        b = (s.end - t0).total_seconds() / 3600
        hours = np.arange(len(out), dtype=float)
        # share of each hour inside [a, b)
        inside = np.clip(np.minimum(hours + 1, b) - np.maximum(hours, a), 0.0, 1.0)
        out *= 1.0 + (s.factor - 1.0) * inside
    return out


#: ASSUMED (no national count is in the project's figures): linkage queries on a business day, range
#: 300,000-5,000,000; the share sent in bulk in the batch window, range 0-0.6; the batch window [first, end) JST.
#: The defaults of both the capacity and the failover model's ``demand.linkage_*``.
LINKAGE_QUERIES_PER_BUSINESS_DAY = 1_000_000
LINKAGE_BATCH_SHARE = 0.3
LINKAGE_BATCH_HOURS = (19, 23)


#: ASSUMED (no count is in the project's figures): live links of private providers' user IDs to JPKI
#: certificate serials across the platform operators, range 5,000,000-60,000,000; private logins per live
#: link a day, range 0.005-0.1 (once in 200 days to once in 10). 20,000,000 x 0.025 = 500,000 private logins
#: a day, the flat figure the models used before the links. The defaults of both models' ``demand.platform_*``.
PLATFORM_LINKS = 20_000_000
PLATFORM_LOGINS_PER_LINK_PER_DAY = 0.025


#: ASSUMED (no operator publishes its schedule): status checks (現況確認) per live link a day, range 1/30-1 (1/30:
#: every link once a month, the links staggered over the month's nights); the operators' nightly window
#: [first hour, end hour) JST, night windows from 0 to 6. The defaults of both models' ``demand.platform_status_*``.
PLATFORM_STATUS_CHECKS_PER_LINK_PER_DAY = 1 / 30
PLATFORM_STATUS_CHECK_HOURS = (1, 5)


def platform_status_checks_per_day(links: float, checks_per_link_per_day: float) -> float:
    """Status requests (現況確認) the platform operators send a day: their live links times the checks per link a
    day (one request per active link per round, as :meth:`twin.services.platform.PlatformOperator.check_status`
    makes them). The one rule for the capacity and the failover models."""
    return links * checks_per_link_per_day


def platform_status_hourly(links: float, checks_per_link_per_day: float, hours: tuple[int, int],
                           days: list[dt.date]) -> np.ndarray:
    """Status requests in each hour of ``days`` (24 per day): the day's checks spread evenly over the nightly
    window ``hours`` [first hour, end hour), every day of the week."""
    a, b = hours
    window = np.zeros(24)
    window[a:b] = 1.0 / (b - a)
    return np.tile(platform_status_checks_per_day(links, checks_per_link_per_day) * window, len(days))


def private_logins_per_day(links: float, logins_per_link_per_day: float) -> float:
    """Private-sector JPKI logins a day through the platform operators: their live links times the logins per
    link a day. The one rule for the capacity and the failover models."""
    return links * logins_per_link_per_day


def private_logins_hourly(links: float, logins_per_link_per_day: float, days: list[dt.date]) -> np.ndarray:
    """Private logins in each hour of ``days`` (24 per day), in the hours people are at home (``HOME_DAY``,
    less at weekends and on holidays)."""
    return _home(days, private_logins_per_day(links, logins_per_link_per_day))


def linkage_hourly(per_business_day: float, batch_share: float, batch_hours: tuple[int, int],
                   days: list[dt.date]) -> np.ndarray:
    """Linkage queries in each hour of ``days`` (24 per day): on business days (weekdays that are not
    public holidays) the office share follows the town-hall counter hours (``CARD_BUSINESS_DAY``) and
    ``batch_share`` is spread evenly over ``batch_hours`` [first hour, end hour); none on other days.
    The one rule for the capacity and the failover models."""
    a, b = batch_hours
    batch = np.zeros(24)
    batch[a:b] = 1.0 / (b - a)
    office = CARD_BUSINESS_DAY / CARD_BUSINESS_DAY.sum()
    day_shape = per_business_day * ((1 - batch_share) * office + batch_share * batch)
    open_days = np.array([d.weekday() < 5 and not is_holiday(d) for d in days], dtype=float)
    return (open_days[:, None] * day_shape[None, :]).reshape(-1)


def hourly_demand(demand, start: dt.date, n_days: int) -> dict[str, np.ndarray]:  # noqa: ANN001 (params.Demand)
    """Requests per hour for each profile (eligibility, card, portal, payout, ocsp, phone, linkage, status),
    surges applied."""
    if n_days < 1:
        raise ValueError(f"n_days = {n_days}: the demand horizon must be at least one day")
    days = _days(start, n_days)
    per_w = _eligibility_per_weight(demand.eligibility_checks_per_month, demand.eligibility_reference_month)
    elig = (_eligibility_weights(days) * per_w).reshape(-1)
    card = np.array(
        [CARD_BUSINESS_DAY / CARD_BUSINESS_DAY.sum() * demand.card_transactions_per_business_day * _business(d)
         for d in days]
    ).reshape(-1)  # fmt: skip
    out = {
        "eligibility": elig,
        "card": card,
        "portal": _home(days, demand.portal_logins_per_day),
        "payout": _home(days, demand.payout_applications_per_day),
        "linkage": linkage_hourly(demand.linkage_queries_per_business_day, demand.linkage_batch_share,
                                  demand.linkage_batch_hours, days),
    }
    out = {k: _apply_surges(v, k, start, demand.surges) for k, v in out.items()}
    ocsp = out["portal"] + demand.card_share_of_eligibility * out["eligibility"]
    private = private_logins_hourly(demand.platform_links, demand.platform_logins_per_link_per_day, days)
    ocsp = ocsp + private
    out["ocsp"] = _apply_surges(ocsp, "ocsp", start, demand.surges)
    # the operators' status checks (現況確認): a nightly batch of their own on the responder, not in 'ocsp'
    out["status"] = _apply_surges(
        platform_status_hourly(demand.platform_links, demand.platform_status_checks_per_link_per_day,
                               demand.platform_status_check_hours, days), "status", start, demand.surges)
    # logins by phone: a share of the portal and private logins (within 'portal' and 'ocsp' too: the phone's
    # certificate is checked by the same responder), from each platform's service start
    served = np.repeat(phone_served(days, demand.phone_android_share), 24)
    out["phone"] = _apply_surges((out["portal"] + private) * demand.phone_share_of_logins * served, "phone", start,
                                 demand.surges)
    return out


def phone_served(days: list[dt.date], android_share: float) -> np.ndarray:
    """Share of the holders' phones whose platform is served on each day (twin.services.jpki.smartphone's dates)."""
    from twin.services.jpki.smartphone import SERVICE_START, Platform

    android, iphone = SERVICE_START[Platform.ANDROID], SERVICE_START[Platform.IPHONE]
    return np.array([android_share * (d >= android) + (1 - android_share) * (d >= iphone) for d in days])
