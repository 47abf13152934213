"""The agreement check between the payout's agent and aggregate tiers (twin.models.payout.agreement), which
the agent benchmark applies to the 1:100 run: it reads days to 50/90/99 % by municipality type from two
runs' metrics and fails a design whose curves are further apart than the stated tolerances."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from twin.metrics import Metrics
from twin.models.payout import agreement
from twin.models.payout.params import MUNICIPALITY_TYPES

DAYS = 200
DAY0 = dt.date(2020, 4, 30)


def frame(shift: dict[str, int] | None = None, stop_at: float = 1.0) -> pd.DataFrame:
    """A run's paid_share_cumulative by type: logistic curves, one type's moved ``shift`` days later."""
    m = Metrics()
    days = np.array([np.datetime64(DAY0) + np.timedelta64(d, "D") for d in range(DAYS)])
    for k, t in enumerate(MUNICIPALITY_TYPES):
        mid = 40 + 8 * k + (shift or {}).get(t, 0)
        curve = np.minimum(1.0 / (1.0 + np.exp(-(np.arange(DAYS) - mid) / 9.0)), stop_at)
        m.add_series("paid_share_cumulative", days, curve, option="baseline_2020", type=t)
    return m.frame()


def test_the_same_curves_agree() -> None:
    gaps = agreement.compare(frame(), frame(), ["baseline_2020"])
    assert len(gaps) == len(MUNICIPALITY_TYPES) * len(agreement.TOLERANCE_DAYS)
    assert all(g.days == 0 for g in gaps) and agreement.failures(gaps) == []


def test_days_are_read_where_the_share_is_first_reached() -> None:
    days = agreement.days_to_shares(frame(), "baseline_2020")
    # the first type's logistic curve (midpoint day 40, width 9) reaches 50 % on day 40, 90 % on day 60
    assert days[(MUNICIPALITY_TYPES[0], 0.5)] == 40 and days[(MUNICIPALITY_TYPES[0], 0.9)] == 60


def test_a_type_paid_later_than_the_tolerance_fails_and_one_within_it_does_not() -> None:
    t = MUNICIPALITY_TYPES[1]
    tol = agreement.TOLERANCE_DAYS[0.5]
    assert agreement.failures(agreement.compare(frame({t: tol}), frame(), ["baseline_2020"])) == []
    bad = agreement.failures(agreement.compare(frame({t: tol + 1}), frame(), ["baseline_2020"]))
    assert {(g.type, g.share) for g in bad} == {(t, 0.5), (t, 0.9)}  # 99 % has three more days of room
    assert all(g.agent_day - g.aggregate_day == tol + 1 for g in bad)


def test_a_tier_that_never_reaches_a_share_fails() -> None:
    bad = agreement.failures(agreement.compare(frame(stop_at=0.95), frame(), ["baseline_2020"]))
    assert {g.share for g in bad} == {0.99} and all(g.agent_day == -1 for g in bad)
