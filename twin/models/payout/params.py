"""Parameters of the emergency-payout scenario, each with its default and where the default comes from.

``SOURCED`` names the public source of a default; anything not listed there is an assumption and
the report lists it as such (the working group asked to see which numbers are assumed).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from twin.config import (
    Date,
    Fraction,
    NonNegativeFloat,
    PositiveFloat,
    StrictModel,
    interval,
    tracked_json_path,
)
from twin.models.payout.agent_params import AgentRun

MUNICIPALITY_TYPES = ("special_ward", "designated_city", "city", "town_village")


class MailOut(StrictModel):
    """When the municipalities of one type start mailing their forms: each town hall's own first
    mail-out day is drawn uniformly from ``start`` to ``start + spread_days``."""

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
            "town_village": MailOut(start=dt.date(2020, 5, 1), spread_days=20),
            "city": MailOut(start=dt.date(2020, 5, 7), spread_days=21),
            "designated_city": MailOut(start=dt.date(2020, 5, 15), spread_days=20),
            "special_ward": MailOut(start=dt.date(2020, 5, 20), spread_days=14),
        },
        description="window of the town halls' first mail-out day by type (big cities mailed in late May: Tokyo "
        "Shimbun; 651 town halls paying by 05-15: Asahi; windows assumed, spreads fitted)",
    )
    postal_days: interval(0, 14) = 3.0
    mailing_households_per_day: PositiveFloat = Field(
        60_000.0,
        description="forms a town hall prints and posts per day: a city of 1.5M households mails in waves "
        "over weeks (assumed, range 30,000-150,000)",
    )
    city_mail_out_day: dict[str, interval(0, 90)] = Field(
        default_factory=lambda: {
            "11002": 4.0, "121002": 34.0, "231002": 38.0, "271004": 42.0, "281000": 16.0, "401307": 20.0,
        },
        description="first mail-out day (days after the calendar start) of the six big cities whose 06-24 paid "
        "share is public, by municipal code (fitted by `twin calibrate`)",
    )  # fmt: skip
    deadline_months: interval(1, 12, integer=True) = Field(
        3, description="applications close this many months after the town hall's first mail-out"
    )
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
    never_apply_one_person_only: bool = Field(
        True, description="the households that never apply live alone (assumed; the final budget share then "
        "follows from it)",
    )
    mail_reply_median_days: PositiveFloat = Field(
        4.0, description="median days from receiving the form to posting it back (lognormal, truncated at the "
        "deadline)",
    )
    mail_reply_sigma: interval(0.1, 3.0) = Field(
        1.1, description="log-sd of the reply delay: the long tail of late replies running to the deadline"
    )
    one_person_delay_factor: PositiveFloat = Field(
        1.3, description="reply-delay multiplier for one-person households (fewer hands, more away from home)"
    )
    online_share_card_holders: Fraction = Field(
        0.40, description="P(apply online | head holds a card with a signature certificate, literacy 1)"
    )
    online_delay_days: PositiveFloat = Field(8.0, description="mean days from online opening to applying")
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
        200.0, description="verification staff minutes per business day per 1,000 households (at full strength)"
    )
    staffing_by_type: dict[Literal["special_ward", "designated_city", "city", "town_village"], PositiveFloat] = Field(
        default_factory=lambda: {"special_ward": 0.5, "designated_city": 0.5, "city": 1.0, "town_village": 1.5},
        description="staffing relative to the national rate per municipality type (big cities were short-handed)",
    )
    in_house_share: Fraction = Field(
        0.4, description="share of full capacity the town hall's own staff give from its first application; "
        "the rest is outsourced data entry, ramping up over outsourcing_ramp_days from the mail-out (assumed)",
    )
    outsourcing_ramp_days: NonNegativeFloat = Field(
        21.0, description="days from the mail-out until outsourced data entry runs at full strength (assumed)"
    )
    capacity_sigma: interval(0.0, 2.0) = Field(
        0.3, description="log-sd of a town hall's capacity around its type's rate (assumed, range 0.1-0.6)"
    )
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

    preparation_business_days: interval(0, 10, integer=True) = 2
    bank_lag_business_days: interval(0, 10, integer=True) = 1
    bank_reject_rate: Fraction = Field(0.003, description="transfers returned by the bank (closed account, name)")
    batches_per_week: dict[
        Literal["special_ward", "designated_city", "city", "town_village"],
        list[tuple[interval(1, 5, integer=True), Fraction]],
    ] = Field(
        default_factory=lambda: {
            "special_ward": [(1, 0.3), (2, 0.5), (5, 0.2)],
            "designated_city": [(1, 0.3), (2, 0.5), (5, 0.2)],
            "city": [(1, 0.3), (2, 0.5), (3, 0.1), (5, 0.1)],
            "town_village": [(1, 0.4), (2, 0.4), (3, 0.1), (5, 0.1)],
        },
        description="aggregate tier: how many transfer days a week a town hall runs, (count, share) by type; the "
        "weekdays are drawn at random (assumed)",
    )
    earliest_payment: Date = Field(dt.date(2020, 5, 1), description="aggregate tier: no transfer before this day")
    setup_days: PositiveFloat = Field(
        8.0, description="median days from a town hall's first application to its payment system being ready "
        "(lognormal; fitted to the municipalities paying by 05-15 and 05-25)",
    )
    setup_sigma: interval(0.05, 2.0) = Field(0.3, description="log-sd of setup_days across town halls")

    @field_validator("batches_per_week")
    @classmethod
    def _some_transfer_days(cls, v: dict[str, list[tuple[int, float]]]) -> dict[str, list[tuple[int, float]]]:
        for kind, mix in v.items():
            if not mix:
                raise ValueError(f"has no (transfer days a week, share) pair for {kind}; give at least one")
            counts = [c for c, _ in mix]
            if len(set(counts)) != len(counts):
                raise ValueError(f"names a number of transfer days twice for {kind}")
            total = sum(sh for _, sh in mix)
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"has shares for {kind} that add up to {total:g}, not 1")
        return v


class Push(StrictModel):
    """Push payouts (プッシュ型): no application, pay the registered public-benefit account.

    Only card holders can register a public-benefit account (公金受取口座). The reach of push is the
    registrations of a stated date: ``accounts`` registered accounts were ``share_of_card_holders``
    of the card holders on ``registrations_as_of``; a head is reached if they hold a card on that date
    (heads who held one in 2020 still do; the others are drawn to the national holding rate the two
    figures imply) and registered.
    """

    registrations_as_of: Date = Field(dt.date(2023, 5, 21), description="date of the registration figures used")
    accounts: PositiveFloat = Field(54_321_031, description="public-benefit accounts registered on that date")
    share_of_card_holders: Fraction = Field(0.604, description="registered accounts / card holders on that date")
    notice_date: Date = dt.date(2020, 5, 1)
    opt_out_days: interval(0, 60) = 7.0
    opt_out_rate: Fraction = Field(0.01, description="households that decline push and apply instead")


#: the training figures of PAYOUT_2020.md a payout calibration may use
TARGET_FAMILIES = ("budget_share", "households_share", "municipalities_paying", "big_city_share", "final")


class Calibration(StrictModel):
    """What `twin calibrate` fits on a payout scenario: parameters with bounds, the training cut-off
    and the weights of the training families (all figures from twin/data/PAYOUT_2020.md)."""

    fit: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="param path (e.g. behaviour.mail_reply_median_days) -> (lower, upper)"
    )
    train_until: Date = Field(
        dt.date(2020, 6, 19), description="national figures after this date are not used (06-19: the last allowed)"
    )
    weights: dict[
        Literal["budget_share", "households_share", "municipalities_paying", "big_city_share", "final"],
        NonNegativeFloat,
    ] = Field(
        default_factory=lambda: {"budget_share": 1.0, "households_share": 1.0, "municipalities_paying": 0.5,
                                 "big_city_share": 0.5, "final": 0.0},  # fmt: skip
        description="weight of each family of residuals (shares; town halls as shares of 1,741); 'final' is "
        "checked, not fitted: every application is paid in the end, so the final shares follow from who never "
        "applies, not from the fitted parameters",
    )
    promote_to: str | None = Field(
        None, description="tracked file `twin calibrate --promote` copies the converged fit to (the file "
        "`params.calibrated_from` names); without --promote the fit is written only under --out"
    )
    scale: interval(0.0001, 1.0) = Field(0.01, description="household sample share the calibration runs at")

    @field_validator("promote_to")
    @classmethod
    def _confined(cls, v: str | None) -> str | None:
        return tracked_json_path(v, "scenarios/payout_2020_fitted.json")

    @model_validator(mode="after")
    def _bounds(self) -> Calibration:
        if len(self.fit) > 16:
            raise ValueError(f"fit names {len(self.fit)} parameters; at most 16 are allowed")
        for k, (lo, hi) in self.fit.items():
            if not lo < hi:
                raise ValueError(f"fit.{k}: lower bound {lo:g} is not below upper bound {hi:g}")
        if self.train_until > dt.date(2020, 6, 19):
            raise ValueError(
                f"train_until {self.train_until}: national figures after 2020-06-19 are the held-out check"
            )
        return self


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
    calibration: Calibration = Calibration()
    calibrated_from: str | None = Field(
        None, description="JSON file of fitted values (written by `twin calibrate`) applied to every option"
    )
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
    "push.registrations_as_of": "limo 41215: 54,321,031 accounts = 60.4 % of card holders on 2023-05-21",
    "push.accounts": "limo 41215",
    "push.share_of_card_holders": "limo 41215",
    "intake.deadline_months": "PAYOUT_2020.md: applications closed three months after the mail-out",
    "intake.city_mail_out_day": "fitted by `twin calibrate scenarios/payout_2020.yaml` to the big-city paid "
    "shares of 2020-06-24 (PAYOUT_2020.md)",
    "behaviour.never_apply_one_person_only": "assumed; consistent with 99.4 % of households but 99.7 % of the "
    "budget paid (Jiji medical 42349)",
}

#: town-hall and household parameters with no public source: the range the team considers plausible
#: (shown in the report next to the value used; fitted ones are marked as fitted there)
ASSUMED_RANGES = {
    "intake.mail_out.town_village": ("start 05-01, window 10-30 days", "small towns mailed first (press reports)"),
    "intake.mail_out.city": ("start 05-07, window 10-30 days", "between the towns and the big cities"),
    "intake.mail_out.designated_city": ("start 05-15, window 10-25 days", "big cities mailed in late May (Tokyo "
                                        "Shimbun); six of them fitted individually"),
    "intake.mail_out.special_ward": ("start 05-20, window 7-20 days", "14 of 31 big Kanto cities paid only in June"),
    "intake.mailing_households_per_day": ("30,000-150,000", "printing and posting capacity of one town hall"),
    "behaviour.mail_reply_sigma": ("0.6-1.5", "log-sd of reply delays; sets the late tail to the deadline"),
    "behaviour.one_person_delay_factor": ("1.0-2.0", "people living alone reply later"),
    "behaviour.never_apply_one_person_only": ("true/false", "who never applies"),
    "verification.in_house_share": ("0.2-0.6", "own staff before outsourced data entry"),
    "verification.outsourcing_ramp_days": ("7-35", "weeks to bring a data-entry contractor to full speed"),
    "verification.capacity_sigma": ("0.1-0.6", "spread of capacity between town halls of one type"),
    "verification.error_rate_mail": ("0.03-0.15", "forms sent back for correction"),
    "verification.correction_days": ("5-20", "days a household takes to correct and resend"),
    "disbursement.batches_per_week": ("1-5 transfer days a week", "municipal notices of transfer days"),
    "disbursement.setup_sigma": ("0.1-0.8", "spread of payment-system readiness"),
}
