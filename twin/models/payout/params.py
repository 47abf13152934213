"""Parameters of the emergency-payout scenario, each with its default and where the default comes from.

``SOURCED`` names the public source of a default; anything not listed there is an assumption and
the report lists it as such (the working group asked to see which numbers are assumed).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from twin.config import (
    Date,
    Fraction,
    NonNegativeFloat,
    PositiveFloat,
    StrictModel,
    interval,
)
from twin.models.payout.agent_params import AgentRun

MUNICIPALITY_TYPES = ("special_ward", "designated_city", "city", "town_village")


class MailOut(StrictModel):
    """When a municipality type mails its application forms: first day and spread (days)."""

    start: Date
    spread_days: interval(0, 60) = 10.0


class Channels(StrictModel):
    mail: bool = True
    online: bool = True
    push: bool = False


class Intake(StrictModel):
    """Mail forms and online intake through Myna Portal (マイナポータル)."""

    mail_out: dict[Literal["special_ward", "designated_city", "city", "town_village"], MailOut] = Field(
        default_factory=lambda: {
            "town_village": MailOut(start=dt.date(2020, 5, 11), spread_days=10),
            "city": MailOut(start=dt.date(2020, 5, 15), spread_days=16),
            "designated_city": MailOut(start=dt.date(2020, 5, 22), spread_days=14),
            "special_ward": MailOut(start=dt.date(2020, 5, 25), spread_days=10),
        },
        description="form mail-out by municipality type (big cities mailed in late May: Tokyo Shimbun)",
    )
    postal_days: interval(0, 14) = 3.0
    online_opening: list[tuple[Date, Fraction]] = Field(
        default_factory=lambda: [
            (dt.date(2020, 5, 1), 679 / 1741),
            (dt.date(2020, 5, 5), 800 / 1741),
            (dt.date(2020, 5, 7), 1116 / 1741),
            (dt.date(2020, 5, 20), 0.90),
            (dt.date(2020, 6, 16), 1.0),
        ],
        description="share of municipalities accepting online applications from each date",
    )
    online_suspended_share: Fraction = Field(13 / 1741, description="municipalities that suspended online intake")
    online_suspension_start: Date = dt.date(2020, 5, 20)
    portal_capacity_per_hour: PositiveFloat = Field(
        60_000, description="online applications Myna Portal accepts per hour nationally"
    )
    portal_active_hours: interval(1, 24) = Field(16.0, description="hours a day in which people apply online")
    portal_outages: list[tuple[Date, interval(0, 24)]] = Field(
        default_factory=lambda: [(dt.date(2020, 5, 1), 4.0)],
        description="(date, hours unreachable): the first afternoon's 504s",
    )


class Behaviour(StrictModel):
    """How households apply: channel choice and delays."""

    never_apply: Fraction = Field(0.0057, description="households that never apply (34万 of 5,949万)")
    online_share_card_holders: Fraction = Field(
        0.40, description="P(apply online | head holds a card with a signature certificate, literacy 1)"
    )
    online_delay_days: PositiveFloat = Field(8.0, description="mean days from online opening to applying")
    mail_delay_days: PositiveFloat = Field(9.0, description="mean days from form receipt to posting it back")
    delay_shape: interval(0.2, 20) = Field(
        5.0, description="gamma shape of the application delays (1: exponential; larger: less spread)"
    )
    elderly_delay_factor: PositiveFloat = Field(1.4, description="delay multiplier for heads aged 75+")
    online_also_mails: Fraction = Field(0.05, description="online applicants who also send the mail form (a duplicate)")
    duplicate_online_share: Fraction = Field(
        0.03, description="online applicants who submit more than once (up to 15 times)"
    )
    duplicates_mean_extra: interval(0, 14) = 1.5


class Verification(StrictModel):
    """Municipal checking against the resident register, with rework."""

    online_matching: Literal["manual", "automated"] = "manual"
    staff_minutes_per_1000_households: PositiveFloat = Field(
        240.0, description="verification staff minutes per business day per 1,000 households"
    )
    staffing_by_type: dict[Literal["special_ward", "designated_city", "city", "town_village"], PositiveFloat] = Field(
        default_factory=lambda: {"special_ward": 0.5, "designated_city": 0.5, "city": 1.0, "town_village": 1.5},
        description="staffing relative to the national rate per municipality type (big cities were short-handed)",
    )
    ramp_up_days: NonNegativeFloat = Field(10.0, description="days until a municipality reaches full staffing")
    minutes_mail: PositiveFloat = Field(3.0, description="minutes to key in and check a mail form")
    minutes_online_manual: PositiveFloat = Field(8.0, description="minutes to cross-check an online form by hand")
    minutes_online_automated: PositiveFloat = Field(0.3, description="minutes per online form with automated matching")
    minutes_duplicate: PositiveFloat = Field(2.0, description="minutes to find and reject a duplicate")
    error_rate_mail: Fraction = Field(0.05, description="mail forms returned for correction")
    error_rate_online: Fraction = Field(0.30, description="online forms with errors (Shinagawa: about 70 % on day 1)")
    error_rate_online_automated: Fraction = Field(
        0.03, description="online forms with errors when the portal checks household and head at entry"
    )
    correction_days: PositiveFloat = Field(10.0, description="mean days for a household to correct and resubmit")
    resubmission_error_factor: Fraction = Field(
        0.2, description="error rate of a corrected resubmission, relative to the first submission"
    )
    weekend_work: bool = False


class Disbursement(StrictModel):
    """Bank transfers (口座振込) in batches."""

    batch_weekdays: list[interval(0, 6, integer=True)] = Field(
        default_factory=lambda: [1, 4], description="weekdays with transfer batches (0 = Monday)"
    )
    preparation_business_days: interval(0, 10, integer=True) = 2
    bank_lag_business_days: interval(0, 10, integer=True) = 1
    bank_reject_rate: Fraction = Field(0.003, description="transfers returned by the bank (closed account, name)")
    first_payment: Date = dt.date(2020, 5, 12)


class Push(StrictModel):
    """Push payouts (プッシュ型): no application, pay the registered public-benefit account."""

    registered_share: Fraction = Field(0.60, description="heads with a registered account (2023 level ~60 %)")
    notice_date: Date = dt.date(2020, 5, 1)
    opt_out_days: interval(0, 60) = 7.0
    opt_out_rate: Fraction = Field(0.01, description="households that decline push and apply instead")


class Params(StrictModel):
    programme_start: Date = Field(dt.date(2020, 4, 30), description="budget passed; day 0 of time to cash")
    reference_date: Date = Field(dt.date(2020, 4, 27), description="residents registered on this date are entitled")
    amount_per_resident: interval(0, 10_000_000, integer=True) = 100_000
    channels: Channels = Channels()
    intake: Intake = Intake()
    behaviour: Behaviour = Behaviour()
    verification: Verification = Verification()
    disbursement: Disbursement = Disbursement()
    push: Push = Push()
    agent: AgentRun = AgentRun()  # the agent fidelity's own settings (twin/models/payout/agent_params.py)
    fidelity: Literal["aggregate", "agent"] = Field(
        "aggregate",
        description="aggregate: every household counted into day grids (1:1 works); agent: each application of "
        "the sampled households (population.scale, e.g. 0.001) runs through the real services",
    )

    @model_validator(mode="after")
    def _dates(self) -> Params:
        if self.reference_date > self.programme_start:
            raise ValueError("reference_date must not be after programme_start")
        if not (self.channels.mail or self.channels.online or self.channels.push):
            raise ValueError("at least one of channels.mail, channels.online, channels.push must be true")
        return self


#: defaults backed by a public source (twin/data/FIGURES.md); everything else is assumed
SOURCED = {
    "reference_date": "MIC: residents registered on 2020-04-27",
    "amount_per_resident": "MIC: 100,000 yen per resident",
    "intake.online_opening": "Diet record 2020-05-21: 679 municipalities on 05-01, >800 by 05-05, 1,116 by 05-07; "
    "Jiji: last municipality started 06-16",
    "intake.online_suspended_share": "Nikkei xTECH: 13 municipalities suspended online intake",
    "intake.portal_outages": "Diet record; Nikkei xTECH: portal unreachable ~4 h on the first afternoon",
    "intake.mail_out": "Tokyo Shimbun: 26 of 31 big cities in Kanto mailed forms only in late May (timing of "
    "other types assumed)",
    "behaviour.never_apply": "Jiji: about 34万 households never applied (99.4 % paid)",
    "verification.error_rate_online": "Japan Times 2020-05-21: Shinagawa ~70 % with errors on day 1 "
    "(the season average of 30 % is assumed)",
    "behaviour.online_share_card_holders": "fitted to the 2020 online applications (513,491 by 05-07, 1.44M by "
    "05-13, 1.94M by 05-24; RMS error 4 %) by scripts/calibrate_payout_online.py",
    "behaviour.online_delay_days": "fitted with online_share_card_holders (same script)",
    "behaviour.delay_shape": "fitted with online_share_card_holders (same script)",
    "push.registered_share": "limo 41215: 60.4 % of card holders registered by 2023-05-21",
}
