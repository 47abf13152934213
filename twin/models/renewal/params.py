"""Parameters of the renewal-wave scenario, each with its default and where the default comes from.

``SOURCED`` names the public source of a default; everything else is an assumption and the report
lists it as one (the options' values are designs being tried, always listed as assumed).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from twin.config import Fraction, NonNegativeFloat, PositiveFloat, StrictModel, interval
from twin.models.renewal.licence import ASSUMED_RANGES as LICENCE_ASSUMED
from twin.models.renewal.licence import SOURCED as LICENCE_SOURCED
from twin.models.renewal.licence import LicenceChannel

TYPES = ("special_ward", "designated_city", "city", "town_village")


class Due(StrictModel):
    """Who falls due: the cited FY totals, spread by the month and town hall of the original issue."""

    fiscal_year: interval(2017, 2030, integer=True) = Field(2025, description="April to March")
    cards: PositiveFloat = Field(12_000_000, description="cards expiring in the fiscal year")
    certificates: PositiveFloat = Field(15_800_000, description="signature/authentication certificates expiring")
    card_years: interval(1, 20, integer=True) = Field(10, description="adult card validity: 10th birthday after issue")
    certificate_years: interval(1, 20, integer=True) = Field(5, description="certificate validity: 5th birthday")
    minor_card_share: Fraction = Field(
        0.15, description="share of cards issued to minors (valid to the 5th birthday, like a certificate)")
    lapse_share: Fraction = Field(0.05, description="holders who let it lapse and do not renew this year")
    lost_before_renewal_share: Fraction = Field(
        0.01, description="ASSUMED, range 0.003-0.03: card renewals whose old card was reported lost (紛失届: "
        "suspended, certificates revoked for loss) in the window before the renewal replaced it")


class Counters(StrictModel):
    """Town-hall counters (交付窓口): staffed positions, their hours and what a renewal costs there."""

    per_100k: dict[Literal["special_ward", "designated_city", "city", "town_village"], PositiveFloat] = Field(
        default_factory=lambda: {"special_ward": 4.0, "designated_city": 4.0, "city": 5.0, "town_village": 7.0},
        description="counter positions per 100,000 residents, by municipality type")
    minimum: interval(1, 1000, integer=True) = Field(1, description="positions of the smallest town hall")
    factor: interval(0, 100, lo_open=True) = Field(1.0, description="multiplier on every town hall's positions")
    renewal_share: Fraction = Field(0.5, description="share of counter time left for renewals, the PIN resets at "
                                                     "renewal visits included (the rest: new cards, other PIN "
                                                     "resets, moves)")
    hours: interval(1, 24) = Field(7.0, description="counter hours on a business day (08:30-17:15, lunch)")
    minutes_card: PositiveFloat = Field(15.0, description="counter minutes per renewed card handed over")
    minutes_certificate: PositiveFloat = Field(10.0, description="counter minutes per certificate renewal")
    pin_reset_share: Fraction = Field(
        0.15, description="ASSUMED, range 0.05-0.3: certificate-renewal visitors whose PIN is forgotten or "
        "locked after wrong tries and is reset at the same visit (PIN lock-outs crowded the counters in 2020: "
        "FIGURES.md)")
    minutes_pin_reset: PositiveFloat = Field(10.0, description="ASSUMED, range 5-20: counter minutes a PIN reset "
                                                               "adds to a visit")
    reservation_share: Fraction = Field(0.5, description="visitors who book an appointment (the rest walk in)")
    reserved_capacity: Fraction = Field(0.5, description="share of renewal counter time kept for appointments")


class Jlis(StrictModel):
    """J-LIS (地方公共団体情報システム機構): the national card production line and the certificate CA."""

    cards_per_production_day: PositiveFloat = Field(
        167_000, description="Nishinippon 2021: 300-400万 a month; 3.5M / 21 production days")
    other_applications_per_day: NonNegativeFloat = Field(
        30_000, description="new (non-renewal) card applications sharing the line, per day")
    checking_days: interval(0, 60, integer=True) = Field(7, description="days from application to production queue")
    shipping_days: interval(0, 60, integer=True) = Field(5, description="days from production to the town hall")
    notice_days: PositiveFloat = Field(14.0, description="mean days from card arrival to the holder's visit")
    certificates_per_day: PositiveFloat = Field(
        2_000_000, description="certificates the CA issues a day (renewals at counters and by smartphone)")


class Smartphone(StrictModel):
    """Who could renew a card certificate on the phone: a smartphone owner whose platform the smartphone
    JPKI service serves on the day (Android from 2023-05-11, iPhone from 2025-06-24:
    twin.services.jpki.smartphone.SERVICE_START)."""

    owner_share: Fraction = Field(
        0.729, description="holders who use a smartphone (MIC 通信利用動向調査 2023: 72.9 % of individuals use the "
        "internet by smartphone; not split by age here)")
    android_share: Fraction = Field(
        0.45, description="ASSUMED, range 0.35-0.55: share of those smartphones that run Android (the rest iPhone)")


class Params(StrictModel):
    due: Due = Due()
    window_days: interval(1, 730, integer=True) = Field(
        90, description="renewal allowed from this many days before expiry (rule: 3 months)")
    smartphone_share: Fraction = Field(
        0.0, description="ASSUMED, range 0-0.5 (hypothetical: today a card certificate is renewed at the "
        "counter): share of the certificate renewals of holders with a served smartphone that are done on the "
        "phone, no counter visit")
    smartphone: Smartphone = Smartphone()
    counters: Counters = Counters()
    jlis: Jlis = Jlis()
    lifecycle_sample: interval(0, 10_000, integer=True) = Field(
        100, description="renewals per class played card by card through the real card lifecycle and JPKI "
                         "(0: none); drawn from the wave's renewals")
    licence: LicenceChannel = LicenceChannel()


SOURCED = {
    "due.cards": "zeikei-news 070729: 1,200万 cards expiring in FY2025",
    "due.certificates": "zeikei-news 070729: 1,580万 certificates expiring in FY2025",
    "due.fiscal_year": "zeikei-news 070729",
    "due.card_years": "My Number Act: adult card valid to the 10th birthday after issue",
    "due.certificate_years": "JPKI Act: certificates valid to the 5th birthday after issue",
    "window_days": "J-LIS: renewal accepted from 3 months before expiry",
    "smartphone.owner_share": "MIC 通信利用動向調査 2023: individuals using the internet by smartphone 72.9 % "
    "(twin/data/FIGURES.md)",
    "jlis.cards_per_production_day": "Nishinippon 2021: 300-400万 cards a month stated limit (3.5M / 21 days)",
    **LICENCE_SOURCED,
}

#: assumed parameters with the range the report shows beside the value used
ASSUMED_RANGES = {
    "counters.pin_reset_share": "0.05-0.3 of certificate-renewal visitors",
    "counters.minutes_pin_reset": "5-20 counter minutes",
    "due.lost_before_renewal_share": "0.003-0.03 of card renewals",
    "smartphone_share": "0-0.5 of the renewals of holders with a served smartphone (hypothetical option)",
    "smartphone.android_share": "0.35-0.55 of the holders' smartphones",
    **LICENCE_ASSUMED,
}
