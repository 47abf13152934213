"""The payout's household plans and the national day grid, on a small synthetic country.

These pin the mechanics (routes, timing, calendar, conservation, the effect of each design); the
calibrated national runs are checked in test_payout_model.py.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.payout.aggregate import PaymentCalendar, simulate
from twin.models.payout.behaviour import (
    MAIL,
    NEVER,
    ONLINE,
    PUSH,
    Households,
    Municipalities,
    PlanMemo,
    plan_households,
)
from twin.models.payout.params import Params
from twin.scenario import deep_merge

DAY0 = dt.date(2020, 4, 30)
H = 120


def country(n: int = 40_000, m: int = 40, seed: int = 3) -> tuple[Households, Municipalities]:
    rng = np.random.default_rng(seed)
    mun_of = rng.integers(0, m, n).astype(np.int32)
    hh = Households(
        municipality=mun_of,
        size=rng.integers(1, 6, n).astype(np.int16),
        head_age=rng.integers(20, 95, n).astype(np.uint8),
        head_literacy=rng.random(n).astype(np.float32),
        head_card=rng.random(n) < 0.2,
    )
    mun = Municipalities(np.arange(m) + 1000, (np.arange(m) % 4).astype(np.int8), np.bincount(mun_of, minlength=m))
    return hh, mun


def weekday_calendar(p: Params) -> PaymentCalendar:
    days = [DAY0 + dt.timedelta(days=d) for d in range(H)]
    business = np.array([d.weekday() < 5 for d in days])
    batch = np.array([d.weekday() in p.disbursement.batch_weekdays for d in days])
    return PaymentCalendar(business, batch, (p.disbursement.first_payment - DAY0).days)


def streams(seed: int = 1):
    from twin.runs import stream_key

    return lambda name: np.random.default_rng([seed, stream_key(name)])


def params(**over) -> Params:
    return Params.model_validate(deep_merge(Params().model_dump(), over))


def test_plans_are_reproducible_and_use_common_random_numbers() -> None:
    hh, mun = country()
    a = plan_households(hh, mun, Params(), DAY0, streams(1))
    b = plan_households(hh, mun, Params(), DAY0, streams(1))
    np.testing.assert_array_equal(a.route, b.route)
    np.testing.assert_array_equal(a.arrival_day, b.arrival_day)
    # automated matching changes nothing about who applies when (same streams, same plan)
    c = plan_households(hh, mun, params(verification={"online_matching": "automated"}), DAY0, streams(1))
    np.testing.assert_array_equal(a.arrival_day, c.arrival_day)
    d = plan_households(hh, mun, Params(), DAY0, streams(2))
    assert not np.array_equal(a.arrival_day, d.arrival_day)


def test_sharing_work_between_options_changes_nothing() -> None:
    hh, mun = country()
    memo = PlanMemo()
    options = [Params(), params(channels={"push": True}), params(behaviour={"mail_delay_days": 3.0}), Params()]
    for p in options:
        shared = plan_households(hh, mun, p, DAY0, streams(1), memo=memo)
        alone = plan_households(hh, mun, p, DAY0, streams(1))
        for field in ("route", "arrival_day", "extra_online", "dup_mail_day"):
            np.testing.assert_array_equal(getattr(shared, field), getattr(alone, field))


def test_only_card_holders_apply_online_and_never_before_their_town_opens() -> None:
    hh, mun = country()
    plan = plan_households(hh, mun, Params(), DAY0, streams())
    online = plan.route == ONLINE
    assert online.any()
    assert hh.head_card[online].all()
    assert np.all(plan.arrival_day[online] >= plan.online_open_day[hh.municipality[online]])
    # mail applications arrive after the form was mailed out and posted back
    mail = plan.route == MAIL
    first_mailout = (dt.date(2020, 5, 11) - DAY0).days
    assert np.all(plan.arrival_day[mail] >= first_mailout + 2 * Params().intake.postal_days)
    share_never = (plan.route == NEVER).mean()
    assert share_never == pytest.approx(Params().behaviour.never_apply, abs=0.002)


def test_push_pays_registered_heads_without_an_application() -> None:
    hh, mun = country()
    p = params(channels={"push": True}, push={"registered_share": 0.6})
    plan = plan_households(hh, mun, p, DAY0, streams())
    share = (plan.route == PUSH).mean()
    assert share == pytest.approx(0.6 * (1 - p.push.opt_out_rate), abs=0.01)
    expected_day = (p.push.notice_date - DAY0).days + p.push.opt_out_days + 1
    assert np.all(plan.arrival_day[plan.route == PUSH] == expected_day)


def test_portal_outage_pushes_a_share_of_first_day_applications_to_the_next_day() -> None:
    hh, mun = country(200_000)
    everyone_online = {"online_opening": [[DAY0 + dt.timedelta(days=1), 1.0]], "online_suspended_share": 0.0}
    eager = {"online_share_card_holders": 1.0, "online_delay_days": 0.5, "delay_shape": 1.0}
    no_outage = params(
        intake={**everyone_online, "portal_outages": []},
        behaviour={"online_share_card_holders": 1.0, "online_delay_days": 0.5, "delay_shape": 1.0},
    )
    outage = params(intake={**everyone_online, "portal_outages": [[DAY0 + dt.timedelta(days=1), 8.0]]},
                    behaviour=eager)  # fmt: skip
    a = plan_households(hh, mun, no_outage, DAY0, streams())
    b = plan_households(hh, mun, outage, DAY0, streams())
    on_day1 = lambda plan: ((plan.route == ONLINE) & (np.floor(plan.arrival_day) == 1)).sum()  # noqa: E731
    assert on_day1(b) == pytest.approx(on_day1(a) * (1 - 8 / 16), rel=0.05)


def test_payment_calendar_waits_for_the_batch_and_the_bank() -> None:
    p = Params()
    cal = weekday_calendar(p)
    # work ready on Thursday 2020-05-14: two business days of preparation -> Monday 05-18;
    # next batch Tuesday 05-19 (batch weekdays Tue, Fri); one business day at the bank -> 05-20
    ready = (dt.date(2020, 5, 14) - DAY0).days
    assert DAY0 + dt.timedelta(days=int(cal.cash_day(np.array([ready]), 2, 1)[0])) == dt.date(2020, 5, 20)
    # nothing is paid before the first payment day
    assert cal.cash_day(np.array([0]), 0, 0)[0] >= (p.disbursement.first_payment - DAY0).days


def test_grid_conserves_households_and_money() -> None:
    hh, mun = country()
    p = Params()
    plan = plan_households(hh, mun, p, DAY0, streams())
    r = simulate(hh, mun, plan, p, weekday_calendar(p))
    paid = r.paid_households.sum()
    applied = (plan.route != NEVER).sum()
    assert paid <= applied + 1e-6
    assert paid >= 0.9 * applied  # the default design pays most households within 120 days
    # persons paid match the sizes of the households paid, within the mix of who got paid
    mean_size = hh.size[plan.route != NEVER].mean()
    assert r.paid_persons.sum() / paid == pytest.approx(mean_size, rel=0.02)
    assert r.entitled_households.sum() == len(hh)


def test_faster_designs_are_faster() -> None:
    hh, mun = country()
    base = Params()
    opts = {
        "baseline": base,
        "automated": params(verification={"online_matching": "automated"}),
        "push": params(channels={"push": True}),
    }
    half = {}
    for name, p in opts.items():
        plan = plan_households(hh, mun, p, DAY0, streams())
        r = simulate(hh, mun, plan, p, weekday_calendar(p))
        cum = r.paid_households.sum(axis=0).cumsum() / len(hh)
        half[name] = int(np.argmax(cum >= 0.5))
    assert half["push"] < half["baseline"]
    assert half["automated"] <= half["baseline"]


def test_fewer_staff_means_longer_waits_and_bigger_backlogs() -> None:
    hh, mun = country()
    results = {}
    for staff in (240.0, 60.0):
        p = params(verification={"staff_minutes_per_1000_households": staff})
        plan = plan_households(hh, mun, p, DAY0, streams())
        results[staff] = simulate(hh, mun, plan, p, weekday_calendar(p))
    assert results[60.0].backlog.sum(axis=0).max() > results[240.0].backlog.sum(axis=0).max()
    w = {k: (r.waiting_days * np.arange(H)).sum() / r.waiting_days.sum() for k, r in results.items()}
    assert w[60.0] > w[240.0]
