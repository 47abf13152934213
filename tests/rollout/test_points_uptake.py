"""Phase-1 points applications from the rollout's own holders, and a sample through the real points ledger."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.rollout import points_uptake as pu
from twin.models.rollout.levers import LeverSchedule
from twin.report import Section, Table

DAY0 = dt.date(2020, 1, 1)
N = (dt.date(2022, 3, 31) - DAY0).days + 1


def synthetic(points_lift: float, per_day: float = 60_000.0, lag: int = 30):
    """Applications every day, handed over ``lag`` days later; the points lever on from 2020-03-01
    (announced before the opening, so some holders it drew wait for the opening)."""
    apps = np.full(N, per_day)
    issued = np.concatenate([np.zeros(lag), apps[:-lag]])
    t = np.arange(N)
    lever = np.where(t >= (dt.date(2020, 3, 1) - DAY0).days, points_lift, 0.0)
    return apps, issued, LeverSchedule(DAY0, {"points:phase1": lever}, np.zeros(N))


def test_wiring_the_hazard_is_solved_to_the_end_of_2021_figure() -> None:
    u = pu.uptake(DAY0, *synthetic(1.0))
    assert u.cumulative(pu.FITTED) == pytest.approx(pu.RECORD[-1][1], rel=1e-9)
    assert 0 < u.hazard_per_day < 0.5
    assert [d for d, _, _ in u.checks] == [d for d, _ in pu.RECORD]


def test_nobody_applies_before_the_opening_or_after_the_last_grant_day() -> None:
    u = pu.uptake(DAY0, *synthetic(1.0))
    opening = (pu.PHASE1.applications_from - DAY0).days
    end = (pu.PHASE1.grants_until - DAY0).days
    assert u.applications[:opening].sum() == 0.0 and u.applications[end + 1 :].sum() == 0.0
    assert u.motivated[opening] > u.motivated[opening + 40]  # those the points drew, ready at the opening, come at once


def test_only_cards_applied_for_by_the_deadline_are_eligible() -> None:
    apps, issued, levers = synthetic(1.0)
    deadline = (pu.PHASE1.card_applied_by - DAY0).days
    u = pu.uptake(DAY0, apps, issued, levers)
    assert u.eligible_holders[-1] == pytest.approx(apps[: deadline + 1].sum())
    late = apps.copy()
    late[: deadline + 1] = 0.0  # every card applied for after the deadline
    none = pu.uptake(DAY0, late, np.concatenate([np.zeros(30), late[:-30]]), levers)
    assert none.applications.sum() == 0.0 and np.isnan(none.hazard_per_day)


def test_holders_the_points_drew_apply_sooner_than_the_others() -> None:
    """At one hazard for the others, moving eligible holders from the others to those the points drew
    raises the applications made by every date (they apply within weeks, the others over years)."""
    apps, issued, levers = synthetic(1.0)
    new_m, new_o, _, opening, end = pu._flows(DAY0, apps, issued, pu.motive_share(levers))
    total = new_m + new_o
    few, _ = pu._apply(total * 0.1, total * 0.9, opening, end, 14.0, 0.002)
    many, _ = pu._apply(total * 0.6, total * 0.4, opening, end, 14.0, 0.002)
    assert (np.cumsum(many)[opening:end] > np.cumsum(few)[opening:end]).all()
    weak, strong = pu.uptake(DAY0, *synthetic(0.2)), pu.uptake(DAY0, *synthetic(3.0))
    assert strong.motivated.sum() > weak.motivated.sum()
    assert strong.hazard_per_day < weak.hazard_per_day  # the same 2021 total needs less from the others


def test_the_ledger_grants_a_quarter_of_the_top_ups_up_to_the_cap() -> None:
    u = pu.uptake(DAY0, *synthetic(1.0))
    one_day = np.zeros(N)
    late = (dt.date(2021, 12, 1) - DAY0).days
    one_day[late] = 1.0  # everyone applies on 2021-12-01: one month of 5,000 yen -> 1,250 points
    u_late = pu.Uptake(DAY0, one_day, one_day * 0, u.eligible_holders, u.hazard_per_day, u.checks)
    assert pu.through_ledger(u_late, 5, np.random.default_rng(0)).points_per_applicant == 1_250
    one_day[:] = 0.0
    one_day[(dt.date(2020, 9, 1) - DAY0).days] = 1.0  # sixteen months of top-ups: capped at 5,000
    u_early = pu.Uptake(DAY0, one_day, one_day * 0, u.eligible_holders, u.hazard_per_day, u.checks)
    done = pu.through_ledger(u_early, 5, np.random.default_rng(0))
    assert done.points_per_applicant == 5_000 and done.national_points_yen == 5_000


def test_the_section_shows_record_and_twin_and_which_figure_was_fitted() -> None:
    u = pu.through_ledger(pu.uptake(DAY0, *synthetic(1.0)), 20, np.random.default_rng(1))
    sec = pu.section({"base": u})
    assert isinstance(sec, Section)
    (table,) = [b for b in sec.blocks if isinstance(b, Table)]
    assert [r[-1] for r in table.rows] == ["check", "check", "fitted (the hazard)"]
    with pytest.raises(ValueError, match="motivated_delay_days"):
        pu.uptake(DAY0, *synthetic(1.0), delay_days=0)
