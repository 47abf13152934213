"""Parameters of the card-rollout scenario: every lever the state pulled, with its default and source.

``SOURCED`` names the public source of a default (twin/data/FIGURES.md); anything not listed is an
assumption and the report says so. Hazards are per resident per year before the multipliers; a
lever's ``lift`` is the relative rise of the hazard of the residents it reaches (0.5 = +50 %).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from twin.config import Date, Fraction, NonNegativeFloat, PositiveFloat, StrictModel, interval

Lift = interval(0, 100, description="relative rise of the hazard of those reached (0.5 = +50 %)")


class Hazard(StrictModel):
    """Who applies, before any lever: base hazard, age, digital literacy, municipality type, household."""

    base_per_year: interval(0, 5, lo_open=True) = Field(
        0.045, description="yearly hazard of applying of a reference resident (age 45-49, woman, literacy 0.9, a city)"
    )
    age_log_rr: list[interval(-5, 5)] = Field(
        default_factory=lambda: [
            -1.2,
            -1.0,
            -1.1,
            -0.9,
            -0.5,
            -0.35,
            -0.25,
            -0.15,
            -0.05,
            0.0,
            0.05,
            0.1,
            0.3,
            0.45,
            0.5,
            0.45,
            0.5,
            0.55,
            0.65,
            0.7,
            0.7,
        ],  # fmt: skip
        description="log hazard ratio by 5-year age band (0-4 .. 100+), relative to 45-49; literacy is on top",
    )
    male_log_rr: interval(-2, 2) = Field(0.1, description="log hazard ratio of men vs women")
    literacy_effect: interval(-5, 10) = Field(
        1.5, description="log hazard ratio per unit of digital literacy (share using the internet)"
    )
    type_log_rr: dict[Literal["special_ward", "designated_city", "city", "town_village"], interval(-3, 3)] = Field(
        default_factory=lambda: {"special_ward": 0.2, "designated_city": 0.05, "city": 0.0, "town_village": 0.0},
        description="log hazard ratio by municipality type",
    )
    word_of_mouth: interval(0, 50) = Field(
        1.5, description="hazard rises by this times the share of household members holding a card"
    )

    @field_validator("age_log_rr")
    @classmethod
    def _bands(cls, v: list[float]) -> list[float]:
        if len(v) != 21:
            raise ValueError(f"has {len(v)} values; 21 are required (one per age band 0-4 .. 100+)")
        return v


class MailOut(StrictModel):
    """Application forms mailed to residents without a card (e.g. J-LIS's QR-code forms)."""

    name: str
    start: Date
    spread_days: interval(1, 365) = 30.0
    coverage: Fraction = Field(1.0, description="share of residents without a card who receive the form")
    lift: Lift = 1.0
    decay_days: PositiveFloat = Field(45.0, description="mean days the form keeps its effect")


def _default_mailouts() -> list[MailOut]:
    return [
        MailOut(
            name="notification_cards_2015",
            start=dt.date(2015, 11, 1),
            spread_days=75,
            coverage=1.0,
            lift=2.0,
            decay_days=60,
        ),  # fmt: skip
        MailOut(name="qr_forms_2019", start=dt.date(2019, 12, 1), spread_days=120, coverage=0.5, lift=1.0),
        MailOut(name="qr_forms_2021", start=dt.date(2021, 1, 1), spread_days=90, coverage=1.0, lift=1.0),
    ]


class Enclosures(StrictModel):
    """Leaflets enclosed with health-insurance card renewals (保険証更新時の同封)."""

    from_date: Date = dt.date(2019, 6, 1)
    months: list[interval(1, 12, integer=True)] = Field(default_factory=lambda: [8, 10])
    coverage: Fraction = Field(0.3, description="share of residents whose insurance card is renewed in those months")
    lift: Lift = 0.3


class PointsPhase(StrictModel):
    """My Number Points (マイナポイント): a reward for getting a card by a deadline."""

    enabled: bool = True
    start: Date
    deadlines: list[Date] = Field(description="card-application deadlines, as announced and extended")
    points: interval(0, 100_000) = 5000.0
    lift_per_5000: Lift = Field(0.8, description="hazard lift for 5,000 points")
    value_elasticity: interval(0, 2) = Field(0.7, description="lift grows as (points / 5000) ** elasticity")
    rush: Lift = Field(2.0, description="extra lift just before a deadline")
    rush_days: PositiveFloat = Field(20.0, description="how far ahead of a deadline the rush builds (e-folding days)")
    take_up: Fraction = Field(0.5, description="share of card holders who claim the points")

    @model_validator(mode="after")
    def _order(self) -> PointsPhase:
        if not self.deadlines:
            raise ValueError("deadlines must list at least one date")
        if sorted(self.deadlines) != list(self.deadlines) or self.deadlines[0] <= self.start:
            raise ValueError("deadlines must be in order and after start")
        return self


class Points(StrictModel):
    """Both phases; ``enabled: false`` removes every point (the counterfactual of the cost per card)."""

    enabled: bool = True
    phase2_follows_phase1: bool = Field(
        True,
        description="phase 2 responds like phase 1 (its lift_per_5000, rush and rush_days, scaled by the points "
        "value through value_elasticity): a forecast then carries phase 1's fitted response forward",
    )
    phase1: PointsPhase = PointsPhase(start=dt.date(2020, 7, 1), deadlines=[dt.date(2021, 4, 30)], points=5000,
                                      take_up=0.5)  # fmt: skip
    phase2: PointsPhase = PointsPhase(
        start=dt.date(2022, 1, 1),
        deadlines=[dt.date(2022, 9, 30), dt.date(2022, 12, 31), dt.date(2023, 2, 28)],
        points=20000,
        take_up=0.6,
    )


class Payout(StrictModel):
    """A payout that favours card holders (the 2020 Special Cash Payments' online channel)."""

    start: Date = dt.date(2020, 4, 20)
    peak: Date = dt.date(2020, 5, 15)
    end: Date = dt.date(2020, 7, 31)
    lift: Lift = 1.5

    @model_validator(mode="after")
    def _order(self) -> Payout:
        if not self.start <= self.peak <= self.end:
            raise ValueError("payout dates must satisfy start <= peak <= end")
        return self


class Support(StrictModel):
    """Application channels and support locations: help that matters most to the less digital."""

    start: Date = Field(dt.date(2020, 9, 1), description="municipal support plans and shop terminals from")
    lift: Lift = Field(0.3, description="lift for a resident of literacy 0, falling linearly to 0 at literacy 1")


class Production(StrictModel):
    """J-LIS card production (地方公共団体情報システム機構)."""

    capacity: list[tuple[Date, PositiveFloat]] = Field(
        default_factory=lambda: [(dt.date(2016, 1, 1), 115_000.0), (dt.date(2021, 1, 1), 150_000.0)],
        description="(from date, cards per production day)",
    )
    weekdays_only: bool = True
    checking_days: interval(0, 60, integer=True) = Field(7, description="days from application to production queue")
    shipping_days: interval(0, 60, integer=True) = Field(5, description="days from production to the town hall")


class Handover(StrictModel):
    """Municipal handover by appointment (交付窓口): counters shared with PIN resets and renewals."""

    notice_days: PositiveFloat = Field(14.0, description="mean days from card arrival to the holder's appointment")
    counter_minutes_per_10k: PositiveFloat = Field(
        300.0, description="counter minutes per business day per 10,000 residents"
    )
    minutes_per_handover: PositiveFloat = 15.0
    minutes_per_pin_reset: PositiveFloat = 10.0
    minutes_per_renewal: PositiveFloat = 10.0
    weekend_open_share: Fraction = Field(0.3, description="share of municipalities with weekend handover slots")
    weekend_capacity: Fraction = Field(0.25, description="weekend-day capacity, relative to a business day")
    evening_extra: interval(0, 2) = Field(0.1, description="extra capacity from evening slots on business days")
    pin_resets_per_holder_year: NonNegativeFloat = Field(0.01, description="PIN resets per card holder per year")
    payout_pin_surge: NonNegativeFloat = Field(3.0, description="PIN-reset demand multiplier during the payout")
    renewal_years: interval(1, 20, integer=True) = Field(5, description="certificate validity (years)")
    renewal_at_counter: Fraction = Field(0.8, description="share of expiring certificates renewed at the counter")


class Calibration(StrictModel):
    """Which parameters `twin calibrate` fits, their bounds, and the observed series."""

    fit: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="param path (e.g. hazard.base_per_year) -> (lower, upper) bound"
    )
    observed: str = Field("twin/data/card_issuance", description="folder of MIC release folders <YYYYMMDD>/")
    weights: dict[Literal["national", "prefecture", "age_band"], NonNegativeFloat] = Field(
        default_factory=lambda: {"national": 4.0, "prefecture": 1.0, "age_band": 1.0}
    )
    write_fitted: str | None = Field(
        "scenarios/rollout_fitted.json", description="where the fitted values are also written (for forecasts)"
    )
    max_evaluations: interval(1, 1000, integer=True) = 60

    @field_validator("write_fitted")
    @classmethod
    def _confined(cls, v: str | None) -> str | None:
        """A scenario file may only name a .json file inside the working tree (it is written without asking)."""
        if v is None:
            return v
        from pathlib import PurePath

        parts = PurePath(v).parts
        if PurePath(v).is_absolute() or v.startswith("~") or ".." in parts or not parts:
            raise ValueError("is not allowed; use a relative path without '..' (e.g. scenarios/rollout_fitted.json)")
        if not v.endswith(".json"):
            raise ValueError("is not a .json file name")
        return v

    @field_validator("fit")
    @classmethod
    def _fit(cls, v: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        if len(v) > 8:
            raise ValueError(f"names {len(v)} parameters; at most 8 are allowed")
        for k, (lo, hi) in v.items():
            if not lo < hi:
                raise ValueError(f"{k}: lower bound {lo:g} is not below upper bound {hi:g}")
        return v


class Params(StrictModel):
    fidelity: Literal["aggregate", "agent"] = "aggregate"
    agent_sample: interval(0, 1, lo_open=True) = Field(0.0002, description="share of residents that are Mesa agents")
    stochastic: bool = Field(True, description="draw applications (binomial); false: expected values")
    initial_applications: NonNegativeFloat = Field(
        3_000_000, description="applications received before 2016-01-01, waiting for production"
    )
    hazard: Hazard = Hazard()
    mailouts: list[MailOut] = Field(default_factory=_default_mailouts)
    enclosures: Enclosures = Enclosures()
    points: Points = Points()
    payout: Payout = Payout()
    support: Support = Support()
    production: Production = Production()
    handover: Handover = Handover()
    calibration: Calibration = Calibration()
    calibrated_from: str | None = Field(
        None, description="JSON file of fitted values (written by `twin calibrate`) applied over these params"
    )


#: defaults backed by a public source (twin/data/FIGURES.md); everything else is assumed
SOURCED = {
    "production.capacity": "Nikkei xTECH 2016: designed for 115,000 cards/day; Nishinippon 2021: 300-400万/month",
    "points.phase1": "MIC, J-LIS: 25 % up to 5,000 points, from 2020-07 (reservations), card deadline 2021-04-30",
    "points.phase1.take_up": "impress/cnet: 2,532万 phase-1 applications by end of 2021 (about half the holders)",
    "points.phase2": "MIC: 5,000 + 7,500 + 7,500 points; deadlines 2022-09-30 -> 2022-12-31 -> 2023-02-28",
    "payout": "MIC: Special Cash Payments from 2020-04-20; applications May 2020 159万, June 99万 (jp24h)",
    "support.start": "seed document: about 90,000 support shops, 1,688 municipalities with support plans (2020)",
    "handover.counter_minutes_per_10k": "j-cast 2021-10: Adachi handed over 31,700 cards in March 2021 "
    "(about 20 per 10,000 residents per business day at 15 min)",
    "handover.renewal_years": "J-LIS: electronic certificates are valid for 5 years",
}
