"""Parameters of the push-benefit scenarios, each with its default and where the default comes from.

``SOURCED`` names the public source of a default; anything not listed there is an assumption, with
the range we consider plausible in its description, and the report lists it as assumed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from twin.config import Date, Fraction, NonNegativeFloat, PositiveFloat, StrictModel, interval

#: the 2023 mis-linking review (Digital Agency, 2023-12; twin/data/FIGURES.md)
REVIEW_WRONG_LINKS = 8_351
REVIEW_LINKS_CHECKED = 82_080_000
REVIEW_WRONG_ACCOUNTS = 1_186
REVIEW_ACCOUNTS_CHECKED = 56_220_000


class Letters(StrictModel):
    """Confirmation letters (確認書) or application forms sent by post, returned, checked, paid."""

    mail_spread_days: interval(0, 60) = Field(
        14.0, description="letters go out evenly over this many days (assumed; 7..30)"
    )
    return_share: Fraction = Field(0.9, description="share returned at all (assumed; 0.85..0.95)")
    return_median_days: PositiveFloat = Field(21.0, description="median days from mailing to return (assumed; 10..40)")
    return_sigma: PositiveFloat = Field(0.8, description="log-normal spread of return times (assumed; 0.5..1.0)")
    processing_days: NonNegativeFloat = Field(10.0, description="days to check a returned letter (assumed; 5..20)")
    error_share: Fraction = Field(
        0.03,
        description="returned letters with a mistake (bank details, missing "
        "copy) sent back for correction: one more round trip (assumed; 0.01..0.06)",
    )


class Applications(StrictModel):
    """People the design does not find must apply themselves (movers, public servants, ...)."""

    share: Fraction = Field(0.7, description="share of those not found who apply in time (assumed; 0.5..0.85)")
    median_days: PositiveFloat = Field(45.0, description="median days until they apply (assumed; 20..90)")
    sigma: PositiveFloat = 0.8


class Population(StrictModel):
    """Who is eligible in the synthetic nation (the nation gives households, ages and accounts)."""

    exempt_share: Fraction = Field(
        0.24, description="households exempt from residence tax this fiscal year (assumed; 0.20..0.28)"
    )
    flip_share: Fraction = Field(
        0.08,
        description="households whose exemption (or income-line) status "
        "differs from the previous fiscal year's assessment (assumed; 0.04..0.12)",
    )
    mover_share: Fraction = Field(
        0.04,
        description="households whose head lived in another municipality on "
        "1 January, so another town holds the tax data (assumed; 0.03..0.05)",
    )
    over_income_line_share: Fraction = Field(
        0.10,
        description="child benefit: parents over the child-"
        "allowance income line (特例給付), not eligible (assumed; 0.05..0.15)",
    )
    public_servant_share: Fraction = Field(
        0.06,
        description="child benefit: parents paid child allowance by "
        "their employer, unknown to the town (assumed; 0.04..0.08)",
    )


class Linkage(StrictModel):
    """The information-provision network, the intermediate servers' copies and the account register."""

    refresh_lag_mean_days: NonNegativeFloat = Field(
        30.0,
        description="mean days between the June assessment "
        "and its registration as the tax copy on the intermediate "
        "server; per town uniform on [0, 2 x mean], at most 364 "
        "(assumed; 0..120)",
    )
    refuse_stale: bool = Field(
        False, description="do not decide on a copy older than the latest assessment: wait for the refresh"
    )
    mislink_rate: Fraction = Field(
        REVIEW_WRONG_LINKS / REVIEW_LINKS_CHECKED, description="share of people linked to another person's records"
    )
    wrong_account_rate: Fraction = Field(
        REVIEW_WRONG_ACCOUNTS / REVIEW_ACCOUNTS_CHECKED,
        description="share of registered accounts that are not the person's",
    )


class Params(StrictModel):
    """One push benefit, paid one way (``design``)."""

    benefit: Literal["child_2021", "exempt_2022", "energy_2022"] = Field(
        "energy_2022", description="which benefit: its eligibility rule and unit (per child or per household)"
    )
    design: Literal["as_done", "linkage_accounts"] = Field(
        "as_done",
        description="as_done: the town's own records, letters and applications; linkage_accounts: "
        "eligibility through the network and payment to the registered account where there is one",
    )
    amount_yen: interval(1, None, integer=True) = Field(50_000, description="per household, or per child")
    decision_date: Date = Field(
        dt.date(2022, 11, 21), description="the roster is drawn and the first letters go out (day 0)"
    )
    push_notice_days: interval(0, 60) = Field(
        14.0,
        description="days between the notice of a push payment and "
        "the payment (time to decline or correct; assumed; 7..21)",
    )
    batch_interval_days: interval(1, 31, integer=True) = Field(
        7, description="transfers are made every this many days from day 0 (assumed; 5..14)"
    )
    horizon_days: interval(30, 400, integer=True) = Field(150, description="days followed after day 0")
    letters: Letters = Letters()
    applications: Applications = Applications()
    population: Population = Population()
    linkage: Linkage = Linkage()

    @model_validator(mode="after")
    def _notice_in_horizon(self) -> Params:
        if self.push_notice_days >= self.horizon_days:
            raise ValueError(f"push_notice_days {self.push_notice_days} must be below horizon_days "
                             f"{self.horizon_days}")  # fmt: skip
        return self


SOURCED = {
    "linkage.mislink_rate": "Digital Agency 2023-12 review: 8,351 wrong links in 8,208万 records (FIGURES.md)",
    "linkage.wrong_account_rate": "Digital Agency 2023-12 review: 1,186 wrong accounts in 5,622万 (FIGURES.md)",
}
