"""The twin's first year against the dated figures of 2016, which no fit sees.

MIC's municipal releases, the only series the rollout is fitted to, start on 2017-03-08. The 2016 figures of
applications, of cards J-LIS had shipped to the town halls and of cards handed over (``observed.EARLY_FIGURES_2016``,
``observed.SHIPPED_FIGURES_2016``, twin/data/FIGURES.md) check the promoted history fit's first year: the 2016
surge after the notification-card mailing, J-LIS's line (about 11万 cards made every day) and the hand-over at the
town halls must put each within 15 % of the reported counts, and the applied-but-not-issued stock within 25 %.

How far these are out of sample: no fit sees them, but two defaults were set with them in view. The line's 7-day
week comes from the 2016 document itself (毎日約11万枚); the town halls' staff minutes per card
(``handover.minutes_per_handover``, 45) were sized so that the counters hold the 2016 hand-over pace (about 4.2万
a day while 663万 cards waited), so the hand-over and stock checks test that sizing's consistency across three
dates, not a blind forecast. Before both (a 5-day line, 15 minutes a card) the shipped counts were -34 % and the
stock -10 .. -29 %. The tolerances are wider than the forecast's 5 % because the figures are rounded (約) and the
card system's failures of January-April 2016 are not modelled.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from twin import scenario
from twin.models.rollout import record_days
from twin.models.rollout.observed import EARLY_FIGURES_2016, SHIPPED_FIGURES_2016, load_observed
from twin.models.rollout.setup import cells_for, mortality_for, read_fitted, with_values
from twin.models.rollout.simulate import Rollout

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2016, 1, 1)
TOLERANCE = 0.15


@pytest.fixture(scope="module")
def first_year() -> dict[str, np.ndarray]:
    """The promoted history fit (scenarios/rollout_fitted.json) run in expected values through 2016-06."""
    s = scenario.load(ROOT / "scenarios/rollout_history.yaml")
    base = s.options[0].params
    params = with_values(base, read_fitted(str(ROOT / "scenarios/rollout_fitted.json")))
    obs = load_observed(ROOT / "twin/data/card_issuance", START, dt.date(2021, 12, 31))
    n = (dt.date(2016, 7, 1) - START).days
    r = Rollout(params, cells_for(obs, s.spec.population.statistics), START, n, rng=None,
                record_days=record_days(obs.dates, START, n), mortality=mortality_for(base)).run()  # fmt: skip
    return {"applied": np.cumsum(r.daily["applications"]), "issued": r.daily["issued_cumulative"],
            "shipped": np.cumsum(r.daily["delivered_to_town_hall"])}


def errors(run: dict[str, np.ndarray], column: int, key: str) -> dict[dt.date, float]:
    return {row[0]: float(run[key][(row[0] - START).days] / row[column] - 1.0) for row in EARLY_FIGURES_2016}


def shown(errs: dict[dt.date, float]) -> dict[str, str]:
    return {d.isoformat(): f"{100 * e:+.1f} %" for d, e in errs.items()}


def test_applications_of_2016_are_within_15_percent_of_the_reported_counts(first_year) -> None:  # noqa: ANN001
    """Applications made include those before 2016-01-01 (``initial_applications``, fitted to the releases)."""
    errs = errors(first_year, 1, "applied")
    assert len(errs) == 3
    assert all(abs(e) <= TOLERANCE for e in errs.values()), shown(errs)


def test_cards_handed_over_in_2016_are_within_15_percent_of_the_reported_counts(first_year) -> None:  # noqa: ANN001
    errs = errors(first_year, 2, "issued")
    assert all(abs(e) <= TOLERANCE for e in errs.values()), shown(errs)


def test_the_2016_hand_overs_lag_the_applications_as_reported(first_year) -> None:  # noqa: ANN001
    """The applied-but-not-issued stock falls from about 7.4M (2016-03-27) to about 5.1M (2016-06-15): the
    twin's stock must fall too, and be within 25 % of the reported stock on each day."""
    stock = {d: first_year["applied"][(d - START).days] - first_year["issued"][(d - START).days]
             for d, *_ in EARLY_FIGURES_2016}  # fmt: skip
    reported = {d: a - h for d, a, h, _ in EARLY_FIGURES_2016}
    days = sorted(stock)
    assert stock[days[0]] > stock[days[-1]]
    errs = {d: stock[d] / reported[d] - 1.0 for d in days}
    assert all(abs(e) <= 0.25 for e in errs.values()), shown(errs)


def test_cards_shipped_to_the_town_halls_in_2016_are_within_15_percent_of_the_reported_counts(first_year) -> None:  # noqa: ANN001
    """J-LIS's production stage alone: cards made and shipped to the town halls (627万 on 2016-03-06, 867万 on
    03-27), between the applications and the hand-overs the other tests check."""
    errs = {d: float(first_year["shipped"][(d - START).days] / n - 1.0) for d, n, _ in SHIPPED_FIGURES_2016}
    assert len(errs) == 2
    assert all(abs(e) <= TOLERANCE for e in errs.values()), shown(errs)
