"""Parameters of the capacity scenario, each with its default and where the default comes from.

``SOURCED`` names the public source of a default; everything else is an assumption and the report
lists it as one. Pool service times default to the measured values in ``service_times.json``
(written by scripts/measure_service_times.py with the machine and date): the CPU one worker of the
real HTTP server spends per request (HTTP parsing and framework included) where the path is served,
else the time of the code path itself.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from twin.config import Date, Fraction, NonNegativeFloat, PositiveFloat, StrictModel, interval
from twin.models.failover.demand import (
    LINKAGE_BATCH_HOURS,
    LINKAGE_BATCH_SHARE,
    LINKAGE_QUERIES_PER_BUSINESS_DAY,
)
from twin.models.failover.params import PlatformDemand
from twin.services.jpki.smartphone import SERVICE_START

FACILITY_TYPES = ("hospital", "clinic", "dental", "pharmacy")
POOLS = ("eligibility", "ocsp", "portal", "ca", "linkage")
#: pools a scenario must size; the linkage pool (added with issue 17) defaults to LINKAGE_POOL_SERVERS workers
REQUIRED_POOLS = ("eligibility", "ocsp", "portal", "ca")
#: workers of the linkage pool when a scenario does not size it: the 2 uvicorn workers of the HTTP benchmark
LINKAGE_POOL_SERVERS = 2
#: server CPU per linkage query over HTTP, seconds: one uvicorn worker of ``twin serve linkage`` on SQLite
#: under wrk (16 connections), /proc utime+stime over the run, 0.31 ms (benchmarks/test_bench_linkage_http.py,
#: 2026-12-04, the 2-core build machine). Not in service_times.json: scripts/measure_service_times.py
#: does not measure the linkage server.
LINKAGE_QUERY_SECONDS_HTTP = 0.31e-3
SERVICE_TIMES_FILE = Path(__file__).with_name("service_times.json")
#: J-LIS's work for one phone's pair of certificates (check both card certificates and signatures, sign two,
#: record and link them), seconds: mean 1.15 ms (median 1.06 ms, 869 phones/s) of
#: benchmarks/test_bench_phone.py::test_issuing_smartphone_certificates, 2026-12-05, the shared 2-core build
#: machine (nice 10, other jobs running). Not in service_times.json: the measurement script does not run it.
PHONE_ISSUE_SECONDS = 1.15e-3
#: smartphone JPKI service start per platform, keyed by the platform's name: the service's own dates
#: (twin.services.jpki.smartphone.SERVICE_START; sources in docs/CARD_PROTOCOL.md §12)
PHONE_START = {str(platform): start for platform, start in SERVICE_START.items()}


def measured_service_times() -> dict:
    """The committed measurement: {"measured_at", "machine", "method", "seconds": {path: s}}."""
    return json.loads(SERVICE_TIMES_FILE.read_text())


def _measured(name: str) -> float:
    """Server CPU per request over HTTP where the path is served (``seconds_http``), else the code time."""
    doc = measured_service_times()
    return float(doc.get("seconds_http", {}).get(name, doc["seconds"][name]))


def measured_distribution(name: str) -> float:
    """A figure of the end-to-end distributions block (``tls_seconds``, ``database_seconds``) written by
    ``scripts/measure_service_times.py --distributions``."""
    block = measured_service_times().get("distributions")
    if block is None or name not in block:
        raise ValueError(f"{name}: 'measured' needs the distributions in {SERVICE_TIMES_FILE.name} "
                         "(run scripts/measure_service_times.py --distributions)")
    return float(block[name])


class Facilities(StrictModel):
    """Medical facilities (医療機関・薬局) and the share with an operating reader over time."""

    count: dict[Literal["hospital", "clinic", "dental", "pharmacy"], interval(0, None, integer=True)] = Field(
        default_factory=lambda: {"hospital": 8_192, "clinic": 89_695, "dental": 70_335, "pharmacy": 61_495}
    )
    #: (date, share operating) per type; linear in between, flat outside
    adoption: dict[Literal["hospital", "clinic", "dental", "pharmacy"], list[tuple[Date, Fraction]]] = Field(
        default_factory=lambda: {
            "hospital": [(dt.date(2023, 2, 1), 0.601), (dt.date(2024, 7, 1), 0.92), (dt.date(2025, 10, 1), 0.95)],
            "clinic": [(dt.date(2023, 2, 1), 0.377), (dt.date(2024, 7, 1), 0.88), (dt.date(2025, 10, 1), 0.93)],
            "dental": [(dt.date(2023, 2, 1), 0.416), (dt.date(2024, 7, 1), 0.88), (dt.date(2025, 10, 1), 0.93)],
            "pharmacy": [(dt.date(2023, 2, 1), 0.746), (dt.date(2024, 7, 1), 0.95), (dt.date(2025, 10, 1), 0.97)],
        }
    )
    #: online checks in the reference month by type (MHLW 医療保険部会 181, July 2024)
    checks_reference_month: dict[Literal["hospital", "clinic", "dental", "pharmacy"], NonNegativeFloat] = Field(
        default_factory=lambda: {"hospital": 12.07e6, "clinic": 86.1e6, "dental": 14.2e6, "pharmacy": 92.6e6}
    )
    size_cv: NonNegativeFloat = Field(0.8, description="spread of patient volume between facilities of a type")
    #: hours the type's patients come later than the clinic curve (the pharmacy after the clinic)
    hour_lag: dict[Literal["hospital", "clinic", "dental", "pharmacy"], interval(0, 6, integer=True)] = Field(
        default_factory=lambda: {"hospital": 0, "clinic": 0, "dental": 0, "pharmacy": 1}
    )


class Demand(PlatformDemand):
    """Eligibility checks and the other certificate load on the JPKI revocation service (the private logins'
    two fields come from :class:`~twin.models.failover.params.PlatformDemand`)."""

    checks_reference_total: PositiveFloat = 204_975_295
    reference_month: str = "2024-07"
    #: card share of online checks (mid-month, monthly share), linear in between
    card_share: list[tuple[Date, Fraction]] = Field(
        default_factory=lambda: [
            (dt.date(2023, 4, 15), 0.063), (dt.date(2023, 12, 15), 0.0429), (dt.date(2024, 7, 15), 0.1113),
            (dt.date(2025, 5, 15), 0.293), (dt.date(2025, 10, 15), 0.3714),
        ]
    )
    #: month -> multiplier on the July-calibrated volume (winter colds, the summer dip)
    season: dict[int, PositiveFloat] = Field(
        default_factory=lambda: {1: 1.08, 2: 1.05, 3: 1.05, 4: 1.0, 5: 0.97, 6: 1.0, 7: 1.0, 8: 0.95, 9: 0.98,
                                 10: 1.02, 11: 1.03, 12: 1.10}
    )
    portal_logins_per_day: NonNegativeFloat = 1_000_000
    etax_season: tuple[Date, Date] = (dt.date(2024, 2, 16), dt.date(2024, 3, 15))
    etax_factor: PositiveFloat = Field(2.5, description="portal and private-verifier load in the e-Tax season")
    campaigns: list[tuple[Date, Date, PositiveFloat]] = Field(
        default_factory=list, description="(first day, last day, factor on portal load): points campaigns"
    )
    renewals: bool = Field(True, description="the 5-year certificate renewal wave adds issuance load")
    linkage_queries_per_business_day: NonNegativeFloat = Field(
        LINKAGE_QUERIES_PER_BUSINESS_DAY, description="ASSUMED, range 300,000-5,000,000: information-linkage "
        "queries (情報照会) all bodies' intermediate servers send through the information-provision network "
        "on a business day (weekdays that are not holidays; none on other days). No national count is in the "
        "project's figures")
    linkage_batch_share: Fraction = Field(
        LINKAGE_BATCH_SHARE, description="ASSUMED, range 0-0.6: share of a business day's linkage queries sent as "
        "bulk inquiries (一括照会, e.g. for a benefit's annual review) in the batch window; the rest follow the "
        "town halls' office hours (the counter-hours shape of the failover model, 08:30-17:15)")
    linkage_batch_hours: tuple[interval(0, 23, integer=True), interval(1, 24, integer=True)] = Field(
        LINKAGE_BATCH_HOURS, description="ASSUMED: the batch window, [first hour, end hour) JST, the bulk "
        "inquiries spread evenly over it")

    @field_validator("linkage_batch_hours", mode="after")
    @classmethod
    def _batch_window(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[1] <= v[0]:
            raise ValueError(f"{list(v)}: the end hour must be after the first hour (e.g. [19, 23])")
        return v
    renewal_lead_days: interval(1, 365, integer=True) = Field(
        90, description="renewals spread over the days before expiry"
    )


class Phones(StrictModel):
    """Logins by the smartphone JPKI token (スマホ用電子証明書): their own certificates, issuance and unlock.

    A holder whose phone platform is served (Android from 2023-05-11, iPhone from 2025-06-24) logs in to
    Myna Portal and to private services with the phone's certificate instead of the card's, for a share
    of those logins growing with the years since the platform's start (``uptake``); holders whose
    platform is not yet served log in by card. Each phone login
    asks the revocation service about the phone's certificate (a population of its own: its own pre-signed
    cache share under OCSP, its own CRL partitions under CRL); every phone that joins, and every phone
    replaced, has J-LIS issue it a pair of certificates; the phone is unlocked by a biometric match
    instead of the 4-digit PIN where it is set up (the PIN typed only when every biometric try fails),
    so it locks the PIN out far less often, and lock-outs are reset at the town-hall counter. Phone
    holders are counted as the card holders times the phone share of logins (assumed: a holder with
    the phone token logs in by phone, and holders log in equally often)."""

    uptake: list[tuple[interval(0, 50), Fraction]] = Field(
        default_factory=list, description="ASSUMED, range 0-0.6 after 3 years: (years since the platform's "
        "service start, share of its holders' portal and private logins made by phone), linear in between, flat "
        "after the last point; each platform follows it from its own start; empty: no phone logins")
    android_share: Fraction = Field(
        0.45, description="ASSUMED, range 0.35-0.55: share of the holders' smartphones that run Android (the rest "
        "iPhone); no figure in the project's sources")
    replacement_years: interval(1, 10) = Field(
        4.0, description="ASSUMED, range 3-5 years: a phone is replaced on average this often; the new one is "
        "issued its own pair (the old pair revoked)")
    presigned_share: Fraction = Field(
        0.98, description="ASSUMED, range 0.9-0.99: phone-certificate OCSP answers from the pre-signed cache "
        "(the card's default; the phone population is its own cache)")
    crl_partitions: interval(0, 2000, integer=True) = Field(
        1, description="ASSUMED, range 1-47: CRL partitions of the phone certificates (CRL mode), refreshed as "
        "often as the card's by the relying parties that accept phones")
    pin_lockouts_per_card_login: Fraction = Field(
        2e-4, description="ASSUMED, range 5e-5-1e-3: logins with the 4-digit PIN typed (every card login) that "
        "end with the PIN locked after 3 wrong tries (reset at the counter)")
    biometric_share: Fraction = Field(
        0.8, description="ASSUMED, range 0.5-0.95: phones with the biometric unlock set up; the others type the PIN "
        "at every login, as with the card")
    biometric_match_rate: Fraction = Field(
        0.97, description="ASSUMED, range 0.90-0.99: the holder's face or finger accepted on one try (the phone "
        "token's emulators.phone_se.BiometricUnlock)")
    biometric_tries: interval(1, 10, integer=True) = Field(
        3, description="biometric tries before the app falls back to the PIN (BiometricUnlock.max_tries)")
    reset_minutes: PositiveFloat = Field(
        10.0, description="ASSUMED, range 5-20: counter minutes per PIN reset")

    @property
    def pin_lockouts_per_phone_login(self) -> float:
        """A phone login types the PIN only without the biometric unlock or after every biometric try failed;
        a typed PIN locks out as often as at a card login."""
        b = self.biometric_share
        typed = (1 - b) + b * (1 - self.biometric_match_rate) ** self.biometric_tries
        return self.pin_lockouts_per_card_login * typed

    @field_validator("uptake", mode="after")
    @classmethod
    def _years_in_order(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        years = [y for y, _ in v]
        if years != sorted(years) or len(set(years)) != len(years):
            raise ValueError(f"{years}: the years since the service start must increase, e.g. [[0, 0], [1, 0.1], "
                             "[3, 0.3]]")
        return v


class Reception(StrictModel):
    """The face-authentication reader at the reception (顔認証付きカードリーダー)."""

    match_rate: Fraction = Field(0.92, description="ASSUMED, range 0.80-0.98: one face capture matches the card "
                                 "photo (no published rate for the reception readers)")
    max_face_attempts: interval(1, 5, integer=True) = 2
    knows_pin: Fraction = Field(0.6, description="ASSUMED, range 0.3-0.9: a patient whose face did not match knows "
                                "the PIN")
    visual_check: Fraction = Field(0.8, description="ASSUMED, range 0.5-1.0: otherwise the staff check the face "
                                   "visually (目視確認)")
    face_seconds: NonNegativeFloat = 3.0
    card_seconds: NonNegativeFloat = 2.0
    pin_seconds: NonNegativeFloat = 6.0


class ServiceTimes(StrictModel):
    """Seconds of one worker per request on each real path (defaults: the measurement, over HTTP where served)."""

    ocsp_fresh: PositiveFloat = Field(default_factory=lambda: _measured("ocsp_fresh"))
    ocsp_cached: PositiveFloat = Field(default_factory=lambda: _measured("ocsp_cached"))
    crl_download: PositiveFloat = Field(default_factory=lambda: _measured("crl_download"))
    eligibility_card_pin: PositiveFloat = Field(default_factory=lambda: _measured("eligibility_card_pin"))
    eligibility_card_face: PositiveFloat = Field(default_factory=lambda: _measured("eligibility_card_face"))
    eligibility_number: PositiveFloat = Field(default_factory=lambda: _measured("eligibility_number"))
    portal_login: PositiveFloat = Field(default_factory=lambda: _measured("portal_login"))
    certificate_issue: PositiveFloat = Field(default_factory=lambda: _measured("certificate_issue"))
    phone_issue: PositiveFloat = Field(
        PHONE_ISSUE_SECONDS, description="J-LIS's CPU for one phone's pair of certificates (benchmarks/"
        "test_bench_phone.py, 1.15 ms)")
    linkage_query: PositiveFloat = Field(
        LINKAGE_QUERY_SECONDS_HTTP, description="server CPU per linkage query over HTTP "
        "(benchmarks/test_bench_linkage_http.py: 0.31 ms, one uvicorn worker on SQLite under wrk)")


class Pool(StrictModel):
    """One server pool: ``servers`` workers, each serving one request at a time."""

    servers: interval(1, 1_000_000, integer=True)
    slo_p99_seconds: PositiveFloat = 1.0
    timeout_seconds: PositiveFloat = 5.0


def _default_pools() -> dict[str, Pool]:
    return {"eligibility": Pool(servers=4), "ocsp": Pool(servers=2), "portal": Pool(servers=2), "ca": Pool(servers=2),
            "linkage": Pool(servers=LINKAGE_POOL_SERVERS)}


class Revocation(StrictModel):
    """How relying parties learn of revocations: OCSP (with a CDN in front) or CRL downloads."""

    mode: Literal["ocsp", "crl"] = "ocsp"
    cdn_hit_rate: Fraction = Field(0.0, description="OCSP answers served from a CDN cache, not the responder")
    presigned_share: Fraction = Field(0.98, description="responder answers from the pre-signed cache")
    crl_relying_parties: interval(0, None, integer=True) = Field(
        230_000, description="CRL mode: parties downloading (every facility, the portal, the verifiers)"
    )
    crl_downloads_per_day: PositiveFloat = Field(24.0, description="CRL mode: each party refreshes hourly")
    crl_partitions: interval(1, 2000, integer=True) = Field(1_741, description="CRL partitions (one per municipality)")


class Agent(StrictModel):
    """Agent fidelity: a sample of patients runs the real card, reader and eligibility code."""

    patients: interval(1, 100_000, integer=True) = 300
    cards: interval(1, 16, integer=True) = Field(4, description="real personalised cards the patients share")
    mislink_rate: Fraction = Field(8_351 / 82_080_000, description="linking error rate (2023 review)")
    revoked_share: Fraction = Field(0.002, description="patients presenting a card revoked since (lost, moved)")


class Retry(StrictModel):
    """What a reception PC does when the centre does not answer in time (or answers "busy")."""

    policy: Literal["none", "immediate", "backoff", "backoff_jitter"] = "backoff_jitter"
    max_retries: interval(0, 20, integer=True) | None = Field(
        3, description="retries after the first attempt; required: unbounded retries are refused")
    base_seconds: NonNegativeFloat = Field(0.5, description="back-off before the first retry (doubles)")
    cap_seconds: NonNegativeFloat = Field(30.0, description="longest back-off")
    budget: NonNegativeFloat | None = Field(
        None, description="retry budget: retries per first attempt over the last 10 s (e.g. 0.1); "
        "a retry over it is not sent (Finagle RetryBudget, gRPC retry throttling). None: no budget")

    @field_validator("max_retries", mode="after")
    @classmethod
    def _bounded(cls, v: int | None) -> int:
        if v is None:
            raise ValueError("unbounded retries are refused; give a whole number 0-20")
        return v


FacilityType = Literal["hospital", "clinic", "dental", "pharmacy"]


class Fallback(StrictModel):
    """What a reception decides when the online eligibility check (オンライン資格確認) fails or is slow.

    It tries again up to its limit, then gives up on the online check; a reception that falls back then
    confirms the patient's eligibility another way (the card face, a 資格確認書, a self-declaration form),
    the others leave the patient unconfirmed that day. Each facility decides by its type with
    :func:`twin.models.capacity.decisions.decide_retries` (a Mesa agent at agent fidelity, the facility
    columns at aggregate fidelity); the retry policy's kind and back-off stay the scenario's. A type left
    out keeps the defaults.
    """

    max_retries: dict[FacilityType, interval(0, 20, integer=True) | None] = Field(
        default_factory=lambda: dict.fromkeys(FACILITY_TYPES),
        description="ASSUMED (a judgement; no published figure), range 0-5: retries of a type's reception "
        "requests (eligibility lookups, a card's with its certificate's status check) before it gives up on the "
        "online check; None: the retry policy's max_retries (requests.retry.max_retries)")
    share: dict[FacilityType, Fraction] = Field(
        default_factory=lambda: dict.fromkeys(FACILITY_TYPES, 1.0),
        description="ASSUMED (a judgement; no published share), range 0.5-1.0: share of a type's facilities "
        "that, once they give up, confirm eligibility another way (card face, 資格確認書, self-declaration); "
        "1.0: every facility does as the ministry asked in 2023-24")

    @field_validator("max_retries", "share", mode="before")
    @classmethod
    def _every_type(cls, v: object, info: object) -> object:
        # a scenario names the types it changes; the others keep the default
        if isinstance(v, dict):
            default = None if info.field_name == "max_retries" else 1.0  # type: ignore[attr-defined]
            return {t: v.get(t, default) for t in FACILITY_TYPES} | v
        return v


class Surge(StrictModel):
    """A burst of extra load (e.g. a ministry notice, a portal campaign, a relay failure upstream)."""

    start: str = Field("09:00", pattern=r"^\d\d:\d\d$")
    minutes: interval(1, 1440, integer=True) = 15
    factor: PositiveFloat = Field(3.0, description="multiplier on the requests sent in the window")


class Requests(StrictModel):
    """Request-level simulation of one day: every check as requests through the pools (twin.sim.clients)."""

    enabled: bool = Field(False, description="run the request-level day (per-minute latency and goodput)")
    day: Date | None = Field(None, description="the day simulated (default: the calendar's first weekday)")
    window: tuple[str, str] = Field(("00:00", "24:00"), description="time of day simulated (HH:MM)")
    timeout_seconds: PositiveFloat = Field(5.0, description="client timeout of every request")
    retry: Retry = Retry()
    fallback: Fallback = Fallback()
    shed_after_seconds: PositiveFloat | None = Field(
        None, description="admission control: a request waiting longer than this at a pool is refused (503)")
    database: Pool = Field(default_factory=lambda: Pool(servers=8))
    database_seconds: PositiveFloat = Field(
        "measured", description="PostgreSQL round trip per lookup, seconds, or 'measured': the mean lookup round "
        "trip against the 1M-insured book (service_times.json distributions)")  # type: ignore[assignment]
    tls_seconds: NonNegativeFloat = Field(
        0.0, description="added worker time per request for TLS, seconds, or 'measured': HTTPS - HTTP worker CPU "
        "per request on a kept-alive connection (service_times.json distributions); 0: no TLS")
    service_cv: NonNegativeFloat = Field(1.0, description="coefficient of variation of service times (1: exponential)")
    hop_ms: dict[str, NonNegativeFloat] = Field(
        default_factory=lambda: {"hokkaido": 12.0, "tohoku": 8.0, "kanto": 2.0, "chubu": 5.0, "kinki": 2.0,
                                 "chugoku": 5.0, "shikoku": 6.0, "kyushu": 9.0, "okinawa": 18.0},
        description="one-way network delay from each region to the data centre serving it")
    staff_seconds: NonNegativeFloat = Field(20.0, description="staff keying an insured number before the check")
    opening_burst: Fraction = Field(0.15, description="share of a session's patients waiting at the door")
    surge: Surge | None = None
    knee: bool = Field(True, description="find the knee by simulation (peak minute) beside Erlang C")

    @field_validator("database_seconds", "tls_seconds", mode="before")
    @classmethod
    def _measured_figure(cls, v: object, info: object) -> object:
        return measured_distribution(info.field_name) if v == "measured" else v  # type: ignore[attr-defined]
    crl_cached: bool = Field(False, description="facilities check a cached CRL instead of asking OCSP")


class Params(StrictModel):
    fidelity: Literal["aggregate", "agent"] = "aggregate"
    facilities: Facilities = Facilities()
    demand: Demand = Demand()
    reception: Reception = Reception()
    phones: Phones = Phones()
    pools: dict[Literal["eligibility", "ocsp", "portal", "ca", "linkage"], Pool] = Field(
        default_factory=_default_pools, description="server pools; linkage may be left out (LINKAGE_POOL_SERVERS "
        "workers, as in the HTTP benchmark), the others must be sized")
    revocation: Revocation = Revocation()
    service_times: ServiceTimes = ServiceTimes()
    load_multiplier: interval(0, 10_000, lo_open=True, description="demand times this; beyond 10,000 x the July "
                              "2024 nation the pools would need millions of workers") = 1.0  # fmt: skip
    #: load multipliers swept for the knee (where the peak hour's p99 breaks the SLO)
    sweep: list[PositiveFloat] = Field(
        default_factory=lambda: [1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    )
    agent: Agent = Agent()
    requests: Requests = Requests()

    @field_validator("pools", mode="before")
    @classmethod
    def _linkage_pool(cls, v: object) -> object:
        # scenarios written before the linkage pool existed size the other four: the linkage pool gets its default
        if isinstance(v, dict) and "linkage" not in v:
            return {**v, "linkage": Pool(servers=LINKAGE_POOL_SERVERS)}
        return v

    @model_validator(mode="after")
    def _complete(self) -> Params:
        missing = [p for p in REQUIRED_POOLS if p not in self.pools]
        if missing:
            raise ValueError(f"pools: missing {', '.join(missing)}; every pool of {', '.join(REQUIRED_POOLS)} needs "
                             "servers")
        if sorted(self.sweep) != list(self.sweep):
            raise ValueError(f"sweep: {list(self.sweep)} must be in increasing order")
        return self


MEASURED = "measured: scripts/measure_service_times.py (service_times.json; over HTTP where served)"
SOURCED = {
    "facilities.count": "MHLW 医療保険部会 163 (2023-02): 229,717 facilities",
    "facilities.adoption": "MHLW 医療保険部会 163: operating 2023-02 by type (later points assumed)",
    "facilities.checks_reference_month": "MHLW 医療保険部会 181: July 2024 checks by facility type",
    "demand.checks_reference_total": "MHLW 医療保険部会 181: 204,975,295 online checks in July 2024",
    "demand.reference_month": "MHLW 医療保険部会 181",
    "demand.card_share": "MHLW via news: 6.30 % (2023-04) ... 11.13 % (2024-07) ... 37.14 % (2025-10)",
    "demand.etax_season": "NTA: income-tax filing period 16 February - 15 March",
    "agent.mislink_rate": "Digital Agency 2023-12: 8,351 errors in 8,208万 records",
    "service_times.ocsp_fresh": MEASURED,
    "service_times.ocsp_cached": MEASURED,
    "service_times.crl_download": MEASURED,
    "service_times.eligibility_card_pin": MEASURED,
    "service_times.eligibility_card_face": MEASURED,
    "service_times.eligibility_number": MEASURED,
    "service_times.portal_login": MEASURED,
    "service_times.certificate_issue": MEASURED,
    "service_times.phone_issue": "measured: benchmarks/test_bench_phone.py::test_issuing_smartphone_certificates, "
    "J-LIS's work per phone (two certificates), mean 1.15 ms (2026-12-05, shared 2-core machine)",
    "service_times.linkage_query": "measured: benchmarks/test_bench_linkage_http.py, server CPU per query of one "
    "uvicorn worker of `twin serve linkage` on SQLite under wrk, 0.31 ms (2026-12-04)",
}

#: assumed parameters of the linkage load: the range the report shows beside the value used
ASSUMED_RANGES = {
    "demand.linkage_queries_per_business_day": "300,000-5,000,000 a business day: no national count of "
    "information-linkage queries is in the project's figures",
    "demand.linkage_batch_share": "0-0.6: bulk inquiries (一括照会) against queries made at the office",
    "demand.linkage_batch_hours": "evening windows from 17 to 24 JST, after the offices close",
    "demand.platform_links": "5,000,000-60,000,000 links of private user IDs to certificate serials (no published "
    "count; 626 firms used JPKI in 2024-11)",
    "demand.platform_logins_per_link_per_day": "0.005-0.1 private logins per live link a day, once in 200 days to "
    "once in 10 (no published count of private JPKI verifications)",
    "demand.platform_status_checks_per_link_per_day": "1/30-1: monthly to daily status checks per link",
    "demand.platform_status_check_hours": "night windows from 0 to 6 JST",
    "phones.uptake": "0-0.6 of a served platform's holders' logins by phone, 3 years after its start",
    "phones.android_share": "0.35-0.55 of the holders' smartphones",
    "phones.replacement_years": "3-5 years between phones",
    "phones.presigned_share": "0.9-0.99 of phone-certificate OCSP answers pre-signed",
    "phones.crl_partitions": "1-47 CRL partitions for the phone certificates",
    "phones.pin_lockouts_per_card_login": "5e-5-1e-3 card logins ending in a locked PIN",
    "phones.biometric_share": "0.5-0.95 of the phones with the biometric unlock set up",
    "phones.biometric_match_rate": "0.90-0.99 per try (docs/CARD_PROTOCOL.md §12)",
    "phones.reset_minutes": "5-20 counter minutes per PIN reset",
    "reception.match_rate": "0.80-0.98 per face capture at the reception reader (no published rate)",
    "reception.knows_pin": "0.3-0.9 of patients whose face did not match",
    "reception.visual_check": "0.5-1.0 of the rest checked visually by the staff",
    "requests.fallback.max_retries": "0-5 retries per type before a reception gives up on the online check (a "
    "judgement: no published figure; None is the retry policy's limit)",
    "requests.fallback.share": "0.5-1.0 of a type's facilities confirming eligibility another way once they give "
    "up (a judgement: no published share)",
}
