"""Parameters of the card-rollout scenario: every lever the state pulled, with its default and source.

``SOURCED`` names the public source of a default (twin/data/FIGURES.md); anything not listed is an
assumption and the report says so. Hazards are per resident per year before the multipliers; a
lever's ``lift`` is the relative rise of the hazard of the residents it reaches (0.5 = +50 %).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from twin.config import Date, Fraction, NonNegativeFloat, PositiveFloat, StrictModel, interval, tracked_json_path
from twin.models.rollout.channels import SOURCED as CHANNELS_SOURCED
from twin.models.rollout.channels import Channels
from twin.services.points.rules import PHASES, Phase, PhaseRules, points_on_offer

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
        1.5, description="hazard rises by this times the holding share of those one hears from (the municipality's; "
        "an agent's household with agent_word_of_mouth: household)"
    )
    prefecture_log_rr: list[interval(-5, 5)] = Field(
        default_factory=lambda: [0.0] * 47,
        description="log hazard ratio by prefecture (JIS order 01..47), on top of the municipality type",
    )
    lever_age_log_rr: list[interval(-5, 5)] = Field(
        default_factory=lambda: [0.0] * 21,
        description="log ratio of the response to the levers (mailings, points, payout) by age band: who "
        "answers a campaign is not who applied unprompted",
    )
    lever_prefecture_log_rr: list[interval(-5, 5)] = Field(
        default_factory=lambda: [0.0] * 47,
        description="log ratio of the response to the levers by prefecture (local campaigns, support desks)",
    )

    @field_validator("age_log_rr", "lever_age_log_rr")
    @classmethod
    def _bands(cls, v: list[float]) -> list[float]:
        if len(v) != 21:
            raise ValueError(f"has {len(v)} values; 21 are required (one per age band 0-4 .. 100+)")
        return v

    @field_validator("prefecture_log_rr", "lever_prefecture_log_rr")
    @classmethod
    def _prefectures(cls, v: list[float]) -> list[float]:
        if len(v) != 47:
            raise ValueError(f"has {len(v)} values; 47 are required (one per prefecture, JIS order)")
        return v


class MailOut(StrictModel):
    """Application forms mailed to residents without a card (e.g. J-LIS's QR-code forms)."""

    name: str
    known_from: Date | None = Field(None, description="when the mailing was announced (None: when it starts)")
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
        # J-LIS mailed QR-code application forms to every resident without a card from late December
        # 2020 to March 2021 (FIGURES.md: mailings to non-holders from 2020-12)
        MailOut(name="qr_forms_2020", start=dt.date(2020, 12, 20), spread_days=100, coverage=1.0, lift=1.0),
    ]


class Enclosures(StrictModel):
    """Leaflets enclosed with health-insurance card renewals (保険証更新時の同封)."""

    from_date: Date = dt.date(2020, 7, 1)
    months: list[interval(1, 12, integer=True)] = Field(default_factory=lambda: [8, 10])
    coverage: Fraction = Field(0.3, description="share of residents whose insurance card is renewed in those months")
    lift: Lift = 0.3


def _service_rules(name: str) -> PhaseRules:
    return PHASES[Phase(name)]


class Deadline(StrictModel):
    """A card-application deadline and the day it was announced: a rush builds only toward a deadline
    residents know of, and an extension announced later replaces it from that day."""

    date: Date
    announced: Date | None = Field(None, description="day the deadline became known (None: the phase start)")


class Amount(StrictModel):
    """Points on offer from a date (phase 2: 5,000 for the card from 2022-01-01, +15,000 from 2022-06-30)."""

    start: Date
    points: interval(0, 100_000)


class PointsPhase(StrictModel):
    """My Number Points (マイナポイント): a reward for getting a card by a deadline."""

    enabled: bool = True
    start: Date
    announced: Date | None = Field(None, description="when the phase was announced (None: at its start)")
    deadlines: list[Deadline] = Field(description="card-application deadlines, as announced and extended")
    points: interval(0, 100_000) = 5000.0
    amounts: list[Amount] = Field(default_factory=list,
                                  description="points on offer from each date (empty: `points` throughout, or "
                                  "the service's rules with `offer`)")
    offer: Literal["phase1", "phase2"] | None = Field(
        None, description="read the points on offer day by day from this phase's rules in the points service "
        "(twin.services.points.rules.points_on_offer: the purchase cap, and each linking part from the day its "
        "grants start), so that the lever and the ledger cannot disagree; `amounts` must then be empty and "
        "`start` and `points` must be the rules' opening day and opening offer",
    )
    lift_per_5000: Lift = Field(0.8, description="hazard lift for 5,000 points")
    value_elasticity: interval(0, 2) = Field(0.7, description="lift grows as (points / 5000) ** elasticity")
    rush: Lift = Field(2.0, description="extra lift just before a deadline")
    rush_days: PositiveFloat = Field(20.0, description="how far ahead of a deadline the rush builds (e-folding days)")
    take_up: Fraction = Field(0.5, description="share of card holders who claim the points")
    anticipation: Fraction = Field(
        0.0, description="share of the points lift felt between the announcement and the start (residents who "
        "apply early to be ready)",
    )

    @field_validator("deadlines", mode="before")
    @classmethod
    def _plain_dates(cls, v: object) -> object:
        """A plain date is a deadline known from the phase's start."""
        if isinstance(v, list):
            return [{"date": d} if isinstance(d, dt.date | str) else d for d in v]
        return v

    @model_validator(mode="after")
    def _order(self) -> PointsPhase:
        if not self.deadlines:
            raise ValueError("deadlines must list at least one date")
        dates = [d.date for d in self.deadlines]
        if sorted(dates) != dates or dates[0] <= self.start:
            raise ValueError("deadlines must be in order and after start")
        known = [d.announced or self.start for d in self.deadlines]
        if sorted(known) != known or any(k > d for k, d in zip(known, dates, strict=True)):
            raise ValueError("each deadline must be announced before it falls, in order of announcement")
        if self.offer is not None:
            rules = _service_rules(self.offer)
            if self.amounts:
                raise ValueError(f"offer: {self.offer} reads the amounts from the points service; amounts must be "
                                 f"empty (it lists {len(self.amounts)})")
            if self.start != rules.applications_from:
                raise ValueError(f"offer: {self.offer}: start {self.start} must be the day the service opens "
                                 f"applications, {rules.applications_from}")
            opening = points_on_offer(rules, self.start)
            if self.points != opening:
                raise ValueError(f"offer: {self.offer}: points {self.points:g} must be the service's opening offer, "
                                 f"{opening}")
        return self

    def points_on(self, day: dt.date) -> float:
        """Points on offer on ``day`` (from the points service's rules with ``offer``)."""
        if self.offer is not None:
            return float(points_on_offer(_service_rules(self.offer), day))
        v = self.points
        for a in sorted(self.amounts, key=lambda a: a.start):
            if a.start <= day:
                v = a.points
        return v


class Points(StrictModel):
    """Both phases; ``enabled: false`` removes every point (the counterfactual of the cost per card)."""

    enabled: bool = True
    phase2_follows_phase1: bool = Field(
        True,
        description="phase 2 responds like phase 1 (its lift_per_5000, rush and rush_days, scaled by the points "
        "value through value_elasticity): a forecast then carries phase 1's fitted response forward",
    )
    # phase 1 (FIGURES.md): the points first ran to 2021-03-31 with no card deadline of their own, so from the
    # opening a resident who wanted them had to hold the card by then: apply about a month earlier (J-LIS's
    # standard wait), 2021-02-28 (ASSUMED from those two figures). In 2020-11 the points were extended to
    # 2021-09 for cards applied for by 2021-03-31 (moneyizm 301437; the day is not given: mid-month ASSUMED).
    # That deadline was moved to 2021-04-30, MIC "arranging a one-month extension", made public on 2021-03-24
    # (Kyodo via Iwate Nippo 654267). Until then residents rushed toward 03-31: 686万 applications in March,
    # 384万 in April (NHK 2021-06-20)
    # announced in the economic measures of 2019-12-05 (assumed date: the bundled sources do not give it)
    phase1: PointsPhase = PointsPhase(start=dt.date(2020, 7, 1), announced=dt.date(2019, 12, 5), points=5000,
                                      take_up=0.5, offer="phase1",
                                      deadlines=[Deadline(date=dt.date(2021, 2, 28), announced=dt.date(2020, 7, 1)),
                                                 Deadline(date=dt.date(2021, 3, 31), announced=dt.date(2020, 11, 15)),
                                                 Deadline(date=dt.date(2021, 4, 30),
                                                          announced=dt.date(2021, 3, 24))])  # fmt: skip
    # phase 2: 5,000 for a new card from 2022-01-01, +7,500 +7,500 for linking from 2022-06-30 (FIGURES.md),
    # read from the points service's rules (offer);
    # deadline 2022-09-30 -> 2022-12-31 -> 2023-02-28 (announcement dates assumed, see rollout_options.yaml)
    phase2: PointsPhase = PointsPhase(
        start=dt.date(2022, 1, 1),
        announced=dt.date(2021, 11, 19),
        deadlines=[Deadline(date=dt.date(2022, 9, 30), announced=dt.date(2022, 1, 1)),
                   Deadline(date=dt.date(2022, 12, 31), announced=dt.date(2022, 9, 20)),
                   Deadline(date=dt.date(2023, 2, 28), announced=dt.date(2022, 12, 9))],
        points=5000,
        offer="phase2",  # 5,000 from 2022-01-01, 20,000 with the two linking parts from 2022-06-30
        take_up=0.6,
    )  # fmt: skip


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


class Expansion(StrictModel):
    """Added J-LIS production capacity: decided on a day, in service after a lead time, at a cost."""

    name: str
    decided: Date
    lead_days: interval(0, 730, integer=True) = Field(120, description="days from decision to first cards")
    cards_per_day: PositiveFloat
    cost_yen: NonNegativeFloat = Field(0.0, description="one-off cost (yen), reported per option")


class Production(StrictModel):
    """J-LIS card production (地方公共団体情報システム機構): a line whose capacity grew in steps."""

    capacity: list[tuple[Date, PositiveFloat]] = Field(
        # 2016: designed for 115,000 cards a day (Nikkei xTECH 2016); about 11万 made every day from mid-January
        # 2016 (Cabinet Secretariat/MIC 2016-03-29), which the shipped counts of 03-06 and 03-27 bear out; in 2021
        # 300-400万 a month was the stated limit (Nishinippon 2021), the same line: 110,000 x 30 days = 330万
        default_factory=lambda: [(dt.date(2016, 1, 1), 110_000.0)],
        description="(from date, cards per production day), from the sources",
    )
    expansions: list[Expansion] = Field(default_factory=list, description="capacity an option adds")
    weekdays_only: bool = Field(False, description="true: no cards made on weekends and holidays (in 2016 about 11万 "
                                "were made every day)")
    checking_days: interval(0, 60, integer=True) = Field(7, description="days from application to production queue")
    shipping_days: interval(0, 60, integer=True) = Field(5, description="days from production to the town hall")


class StaffResponse(StrictModel):
    """Town halls that add hand-over staff when their queue grows, and let them go when it shrinks.

    Each town hall looks at the booked hand-overs, PIN resets and renewals waiting at its counter, in days of
    its usual staff's work (``backlog minutes / usual counter minutes of a business day``). It wants enough
    staff to clear that queue in ``target_wait_days``: ``queue days / target_wait_days`` times its usual staff,
    never fewer than usual and never more than ``max_factor`` times. Hiring temporary staff, moving staff from
    other sections and opening evening and weekend slots take time: the staff it has move toward what it wants
    with a mean lag of ``lag_days`` (exponential smoothing, day by day). Real town halls did this through
    2020-21 (Adachi: 2,000 cards a month usually, 31,700 in March 2021, FIGURES.md), but no series of staff
    numbers was found: ``target_wait_days`` is fitted to the releases, ``lag_days`` and ``max_factor`` are
    ASSUMED (with ranges in their descriptions)."""

    enabled: bool = Field(False, description="true: the staff follow the queue as described; false: the usual "
                          "staff (times surge_staff_factor from surge_staff_from)")
    from_date: Date = Field(dt.date(2016, 1, 1), description="first day town halls respond to their queue")
    target_wait_days: interval(1, 365) = Field(
        30.0, description="days of work in its queue a town hall accepts before it adds staff (fitted)")
    lag_days: interval(1, 365) = Field(
        30.0, description="mean days for the staff to follow what the queue asks for (ASSUMED: about a month to "
        "hire or move staff; range 7-90)")
    max_factor: interval(1, 50) = Field(
        8.0, description="most staff a town hall can put on hand-overs, in multiples of its usual staff "
        "(ASSUMED, range 5-20: Adachi's 31,700 cards of March 2021 are 5.3 times what 4 staff per 100,000 of its "
        "690,000 residents hand over in 21 business days at 45 minutes a card)")


class Handover(StrictModel):
    """Municipal handover by appointment (交付窓口): counters shared with PIN resets and renewals."""

    notice_days: PositiveFloat = Field(14.0, description="mean days from card arrival to the holder's booking")
    staff_per_100k: dict[Literal["special_ward", "designated_city", "city", "town_village"], PositiveFloat] = Field(
        default_factory=lambda: {"special_ward": 4.0, "designated_city": 4.0, "city": 5.0, "town_village": 7.0},
        description="handover desk staff per 100,000 residents, by municipality type",
    )
    surge_staff_from: Date = Field(dt.date(2020, 10, 1), description="day municipalities added handover staff")
    surge_staff_factor: interval(1, 20) = Field(
        3.0, description="staff multiplier from surge_staff_from (Adachi handed over 31,700 cards in March 2021)"
    )
    staff_response: StaffResponse = Field(default_factory=StaffResponse,
                                          description="staff that follow the queue (off: the fixed surge above)")
    opening_hours: interval(1, 24) = Field(7.0, description="counter hours on a business day (08:30-17:15, lunch)")
    uncollected_share: Fraction = Field(0.02, description="share of cards at the town hall never collected")
    minutes_per_handover: PositiveFloat = Field(
        # the 2016 pace: 339万 cards handed over from 2016-03-27 to 06-15 (about 4.2万 a day) while 663万 waited at
        # the town halls, which sent notices in stages (FIGURES.md); 45 minutes is the capacity at which the
        # counters hold that pace; the 2021-06 window's fit of this value gave 47.5 +- 2.6 (README)
        45.0, description="staff minutes per card handed over: the town hall's checks on arrival (card face, "
        "certificates), the notice and the counter (ASSUMED: sized to the 2016 hand-over pace)",
    )
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
    weights: dict[Literal["national", "prefecture", "age_band", "backlog", "applications"], NonNegativeFloat] = Field(
        default_factory=lambda: {"national": 4.0, "prefecture": 1.0, "age_band": 1.0, "backlog": 4.0,
                                 "applications": 0.0},
        description="weight of each family of relative errors; backlog: the applied-but-not-issued stock against "
        "the dated figures of observed.BACKLOG_FIGURES, applications: monthly applications against "
        "observed.APPLICATION_FIGURES (each only inside the fitted releases)",
    )
    promote_to: str | None = Field(
        None, description="tracked file `twin calibrate --promote` copies the converged fit to (for forecasts)"
    )
    rake: list[Literal["age", "prefecture"]] = Field(
        default_factory=lambda: ["age", "prefecture"],
        description="effects fitted by iterative proportional adjustment between least-squares rounds: age (hazard "
        "and lever response by age band), prefecture (the same by prefecture)",
    )
    last_release: Date | None = Field(
        None, description="fit only releases up to this date (backtests); later releases are held out"
    )
    geography: Literal["prefecture_type", "municipality"] = Field(
        "prefecture_type",
        description="where the optimiser searches: municipalities pooled by prefecture and type (fast), or all "
        "1,741; the report always gives the fit of the full 1,741-municipality model at the fitted values",
    )
    sensitivity: list[str] = Field(
        default_factory=lambda: ["handover.surge_staff_factor", "handover.staff_per_100k",
                                 "handover.minutes_per_handover"],
        description="fixed parameters whose effect on the fit the report shows (each scaled x0.5 .. x2)",
    )

    @field_validator("promote_to")
    @classmethod
    def _confined(cls, v: str | None) -> str | None:
        """A scenario file may only name a .json file inside the working tree (`--promote` writes it)."""
        return tracked_json_path(v, "scenarios/rollout_fitted.json")

    @field_validator("fit")
    @classmethod
    def _fit(cls, v: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        if len(v) > 12:
            raise ValueError(f"names {len(v)} parameters; at most 12 are allowed")
        for k, (lo, hi) in v.items():
            if not lo < hi:
                raise ValueError(f"{k}: lower bound {lo:g} is not below upper bound {hi:g}")
        return v


class Policy(StrictModel):
    """What an option assumes, and the day everything it assumes was known (a forecast made that day
    could have used it)."""

    known_on: Date | None = Field(None, description="day the last of the option's assumptions became known")
    assumes: list[str] = Field(default_factory=list, description="the option's assumptions, one sentence each")


class Params(StrictModel):
    policy: Policy = Policy()
    fidelity: Literal["aggregate", "agent"] = "aggregate"
    agent_sample: interval(0, 1, lo_open=True) = Field(0.0002, description="share of residents that are Mesa agents")
    agent_word_of_mouth: Literal["municipality", "household"] = Field(
        "municipality", description="whose cards an agent hears of: its municipality's holding share, as in the "
        "aggregate tier the values are fitted on; or its own household's (a different model, not fitted; README)")
    stochastic: bool = Field(True, description="draw applications (binomial); false: expected values")
    lifecycle_sample: interval(0, 10_000, integer=True) = Field(
        200, description="cards of the first replication played through the real card lifecycle and JPKI "
        "(issuance, PIN resets, deaths; twin.models.rollout.issuance_sample); 0: none")
    holder_deaths: bool = Field(
        True, description="card holders die at the age-band rates the releases' population tables give "
        "(observed.mortality_by_band); false: holders never die (a window with one population table)"
    )
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
    allow_unconverged: bool = Field(
        False, description="run from a fitted file whose optimiser did not converge (flagged in the report)"
    )
    channels: Channels = Field(
        default_factory=Channels, description="later routes to the card: licence renewals at licence centres "
        "(from 2025-03-24) and residence-card integration (from 2026-06-14); both off by default"
    )

    @model_validator(mode="after")
    def _channels_aggregate(self) -> Params:
        if self.channels.any and self.fidelity != "aggregate":
            raise ValueError("channels (licence, residence) run at aggregate fidelity only; set fidelity: aggregate")
        return self


#: defaults backed by a public source (twin/data/FIGURES.md); everything else is assumed
SOURCED = {
    "production.capacity": "MIC 2016-03-29: about 11万 cards made every day (design 115,000, Nikkei xTECH 2016); "
    "Nishinippon 2021: 300-400万/month",
    "points.phase1": "MIC, J-LIS: 25 % up to 5,000 points, from 2020-07 (reservations), card deadline 2021-04-30",
    "points.phase1.take_up": "impress/cnet: 2,532万 phase-1 applications by end of 2021 (about half the holders)",
    "points.phase2": "MIC: 5,000 + 7,500 + 7,500 points; deadlines 2022-09-30 -> 2022-12-31 -> 2023-02-28",
    "payout": "MIC: Special Cash Payments from 2020-04-20; applications May 2020 159万, June 99万 (jp24h)",
    "support.start": "seed document: about 90,000 support shops, 1,688 municipalities with support plans (2020)",
    "handover.surge_staff_factor": "j-cast 2021-10: Adachi (about 690,000 residents) handed over 2,000 cards a "
    "month normally and 31,700 in March 2021",
    "mailouts": "J-LIS: QR-code forms to residents without a card from 2020-12 (FIGURES.md)",
    "enclosures.from_date": "forms enclosed with health-insurance card renewals from 2020-07 (FIGURES.md)",
    "points.phase1.deadlines": "points to 2021-03-31 (card in hand about a month after applying: 02-28); card "
    "application by 2021-03-31 from 2020-11 (moneyizm 301437; day assumed), moved to 2021-04-30 on 2021-03-24 (Kyodo)",
    "points.phase2.offer": "MIC: 5,000 from 2022-01-01, +7,500 +7,500 from 2022-06-30 (twin.services.points.rules)",
    "handover.renewal_years": "J-LIS: electronic certificates are valid for 5 years",
    **CHANNELS_SOURCED,
}
