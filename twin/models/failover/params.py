"""Parameters of the failover scenario: the services, what they depend on, where they run, how they fail.

The defaults describe the central My Number systems as a planner would sketch them on a whiteboard:
two data centres (east and west), the shared lines (共有回線) and the resident-registry network
(住基ネット, Juki-net) underneath, the JPKI certificate authority (公的個人認証 CA) and its OCSP
responder, the card management system (カード管理システム) with its relay servers (中継サーバ),
and on top the services people use: card issuance and renewal at the town hall, Myna Portal
(マイナポータル), online eligibility confirmation (オンライン資格確認) and payouts (給付).

``SOURCED`` names the public source of a default; anything not listed there is an assumption and
the report lists it as such. Failure and repair times are industry-typical assumptions, not
published figures: the ministries publish outages, not MTBFs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from twin.config import Fraction, NonNegativeFloat, PositiveFloat, StrictModel, interval
from twin.models.failover.demand import (
    LINKAGE_BATCH_HOURS,
    LINKAGE_BATCH_SHARE,
    LINKAGE_QUERIES_PER_BUSINESS_DAY,
    PLATFORM_LINKS,
    PLATFORM_LOGINS_PER_LINK_PER_DAY,
    PLATFORM_STATUS_CHECK_HOURS,
    PLATFORM_STATUS_CHECKS_PER_LINK_PER_DAY,
    private_logins_per_day,
)
from twin.scenario import _FieldError, deep_merge

Mode = Literal["single", "cold", "warm", "hot", "active_active"]
MODES: tuple[str, ...] = ("single", "cold", "warm", "hot", "active_active")
PROFILES: tuple[str, ...] = ("eligibility", "portal", "payout", "card", "ocsp", "phone", "linkage", "status")
Profile = Literal["eligibility", "portal", "payout", "card", "ocsp", "phone", "linkage", "status"]
#: profiles that are batches, not people: a request that meets the service down waits and is run again
#: (twin.models.failover.status_checks), so it is counted apart from the people's requests, failed and retried
BATCH_PROFILES: tuple[str, ...] = ("status",)


class FailureClass(StrictModel):
    """Random failures of one instance: exponential time between failures and to repair.

    ``stress_factor`` makes failures load-dependent: above ``stress_threshold`` utilisation the
    failure rate grows linearly, reaching ``1 + stress_factor`` times the base rate at 100 % (a
    defect that load tests at lower load never trigger, as with the 2016 relay servers).
    """

    mtbf_hours: PositiveFloat = 4_000.0
    mttr_hours: PositiveFloat = 4.0
    stress_factor: NonNegativeFloat = 0.0
    stress_threshold: Fraction = 0.7
    common_mode: bool = Field(False, description="a stress failure hits every site at once (same software, same load)")


class Dependency(StrictModel):
    """A call from one service to another: hard (down if it is down) or soft (some requests fail)."""

    service: str
    kind: Literal["hard", "soft"] = "hard"
    share: Fraction = Field(1.0, description="share of requests that need it (soft dependencies)")


class Release(StrictModel):
    """Software releases: how often, how many carry a defect that escapes testing, how fast it is undone."""

    cadence_days: interval(1, 365) = 14.0
    defect_escape_rate: Fraction = Field(0.05, description="releases whose defect takes the service down")
    detection_minutes: NonNegativeFloat = 45.0
    rollback_minutes: NonNegativeFloat = 60.0
    blast_radius: interval(0, 1, lo_open=True) = Field(
        1.0, description="share of traffic a bad release reaches before rollback (canary: small)"
    )
    hour: interval(0, 24, hi_open=True) = Field(22.0, description="hour of day releases go live")


class Replication(StrictModel):
    """How the standby site gets the data (RPO): synchronously, by shipping the log, or by backups."""

    mode: Literal["sync", "async", "backup"] = "async"
    lag_seconds: NonNegativeFloat = Field(5.0, description="async: how far the replica is behind")
    backup_interval_hours: PositiveFloat = Field(24.0, description="backup: hours between backups")


class DailyStop(StrictModel):
    """A stop of every site of a service each day (a batch window the whole service waits for, such as
    the intermediate servers' copy registration): not covered by the standby, unlike maintenance."""

    start_hour: interval(0, 24, hi_open=True) = 2.0
    hours: interval(0, 24, lo_open=True) = 1.0


class Service(StrictModel):
    """One central service: its dependencies, deployment, capacity and failure behaviour."""

    title: str = ""
    depends_on: list[Dependency] = Field(default_factory=list)
    deployment: Mode = "hot"
    sites: list[str] = Field(default_factory=lambda: ["east", "west"], description="primary first")
    failure: FailureClass = FailureClass()
    release: Release = Release()
    replication: Replication = Replication()
    carries: list[Profile] = Field(
        default_factory=list, description="demand profiles whose requests pass through this service ('phone': "
        "the portal and private logins made with a smartphone's certificate; 'status': the platform operators' "
        "nightly status checks, a batch counted apart)"
    )
    capacity_per_site_rps: PositiveFloat = 1_000.0
    service_time_ms: PositiveFloat = 150.0
    timeout_s: PositiveFloat = 30.0
    retry_probability: Fraction = Field(0.7, description="a failed request is retried by the user or client")
    max_attempts: interval(1, 10, integer=True) = 3
    write_share: Fraction = Field(0.1, description="requests that change stored data (count for RPO)")
    admission_control: bool = Field(False, description="reject load above capacity at once instead of collapsing")
    daily_stop: DailyStop | None = Field(None, description="a daily stop of every site (batch window); none by default")


class Site(StrictModel):
    """A data centre: loss of the whole site (power, disaster, fire) is rare and long."""

    title: str = ""
    mtbf_hours: PositiveFloat = 87_600.0
    mttr_hours: PositiveFloat = 48.0


class Link(StrictModel):
    """A line between two data centres; while it is cut, synchronous replication cannot commit."""

    between: tuple[str, str] = ("east", "west")
    mtbf_hours: PositiveFloat = 17_520.0
    mttr_hours: PositiveFloat = 2.0


DEFAULT_RTO_MINUTES = {"cold": 24 * 60.0, "warm": 120.0, "hot": 10.0, "active_active": 0.0}


class Failover(StrictModel):
    """Detection and recovery time objective (RTO) of each failover mode."""

    detection_minutes: NonNegativeFloat = 5.0
    rto_minutes: dict[Literal["cold", "warm", "hot", "active_active"], NonNegativeFloat] = Field(
        default_factory=lambda: dict(DEFAULT_RTO_MINUTES),
        description="modes not named keep their default (cold 24 h, warm 2 h, hot 10 min, active-active 0)",
    )

    @field_validator("rto_minutes", mode="after")
    @classmethod
    def _all_modes(cls, v: dict[str, float]) -> dict[str, float]:
        return {**DEFAULT_RTO_MINUTES, **v}


class Maintenance(StrictModel):
    """Planned maintenance windows (計画停止): one a month; a single site must stop for them."""

    enabled: bool = True
    week_of_month: interval(1, 4, integer=True) = 3
    weekday: interval(0, 6, integer=True) = Field(6, description="0 = Monday; 6 = Sunday")
    start_hour: interval(0, 23, integer=True) = 0
    hours: interval(0, 24, lo_open=True) = 6.0


class Surge(StrictModel):
    """Demand of one profile multiplied by ``factor`` from ``start`` to ``end`` (local time)."""

    profile: Profile
    start: dt.datetime
    end: dt.datetime
    factor: PositiveFloat


class Injected(StrictModel):
    """A fault placed by hand (incident replays, drills): what breaks, when, and how."""

    target: str = Field(description="a service or site name")
    kind: Literal["component", "site_loss", "defect"] = "component"
    start: dt.datetime
    hours: PositiveFloat = Field(1.0, description="component/site: hours until repaired (defects: until rollback)")


#: demand fields removed, with what replaced them: a scenario that still sets one is refused, naming the
#: replacement (both models' ``demand`` blocks; no bundled scenario sets them)
REMOVED_DEMAND = {
    "private_verifier_checks_per_day": (
        "was removed (a flat count): private logins are derived from the platform operators' links, "
        "demand.platform_links x demand.platform_logins_per_link_per_day (default "
        f"{PLATFORM_LINKS:,} x {PLATFORM_LOGINS_PER_LINK_PER_DAY:g} = "
        f"{private_logins_per_day(PLATFORM_LINKS, PLATFORM_LOGINS_PER_LINK_PER_DAY):,.0f} a day); set those instead"),
}


def refuse_removed_demand(data: Any) -> Any:
    """A ``demand`` block as given, refused if it sets a removed field (before validation, so the message
    names the replacement rather than calling the key unknown)."""
    if isinstance(data, dict):
        for key, why in REMOVED_DEMAND.items():
            if key in data:
                raise _FieldError(key, data[key], why)
    return data


class PlatformDemand(StrictModel):
    """The platform operators' load both models' ``demand`` carry: the private logins, links x logins per link a
    day (:func:`twin.models.failover.demand.private_logins_per_day`), and the status checks (現況確認), links x
    checks per link a day in the nightly window (:func:`twin.models.failover.demand.platform_status_hourly`),
    with one set of defaults and one refusal of the removed flat count."""

    platform_links: NonNegativeFloat = Field(
        PLATFORM_LINKS, description="ASSUMED, range 5,000,000-60,000,000: live links of private providers' user "
        "IDs to JPKI certificate serials across the platform operators (626 private firms used JPKI in 2024-11, "
        "FIGURES.md; no count of links is published); they also carry the operators' status checks")
    platform_logins_per_link_per_day: NonNegativeFloat = Field(
        PLATFORM_LOGINS_PER_LINK_PER_DAY, description="ASSUMED, range 0.005-0.1: private-sector JPKI logins per "
        "live link a day (logins and account openings at banks, brokers, phone companies verified by the "
        "platform operators); links x this = the private logins a day, in the hours people are at home, on the "
        "revocation-check ('ocsp') load")

    platform_status_checks_per_link_per_day: interval(0, 24) = Field(
        PLATFORM_STATUS_CHECKS_PER_LINK_PER_DAY, description="ASSUMED, range 1/30-1: status checks (現況確認) per "
        "live link a day (1/30: every link once a month, the links staggered over the month's nights); each is one "
        "status request to J-LIS, as twin.services.platform.PlatformOperator.check_status makes them")
    platform_status_check_hours: tuple[interval(0, 23, integer=True), interval(1, 24, integer=True)] = Field(
        PLATFORM_STATUS_CHECK_HOURS, description="ASSUMED: the operators' nightly status-check window, [first hour, "
        "end hour) JST, the checks spread evenly over it, every day")

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        return refuse_removed_demand(data)

    @field_validator("platform_status_check_hours", mode="after")
    @classmethod
    def _status_window(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[1] <= v[0]:
            raise ValueError(f"{list(v)}: the end hour must be after the first hour (e.g. [1, 5])")
        return v


class Demand(PlatformDemand):
    """National demand volumes; the hourly shapes are in :mod:`twin.models.failover.demand`."""

    eligibility_checks_per_month: PositiveFloat = 204_975_295
    eligibility_reference_month: str = "2024-07"
    card_share_of_eligibility: Fraction = 0.1113
    portal_logins_per_day: NonNegativeFloat = 1_000_000
    payout_applications_per_day: NonNegativeFloat = 20_000
    card_transactions_per_business_day: NonNegativeFloat = 150_000
    phone_share_of_logins: Fraction = Field(
        0.0, description="ASSUMED, range 0-0.3: share of portal logins and private verifications made with the "
        "smartphone token by holders whose phone platform is served (Android from 2023-05-11, iPhone from "
        "2025-06-24); they are the 'phone' profile, still within 'portal' and 'ocsp'")
    phone_android_share: Fraction = Field(
        0.45, description="ASSUMED, range 0.35-0.55: share of the holders' smartphones that run Android")
    # the 'linkage' profile: the same assumed defaults as the capacity model's (twin.models.failover.demand)
    linkage_queries_per_business_day: NonNegativeFloat = Field(
        LINKAGE_QUERIES_PER_BUSINESS_DAY, description="ASSUMED, range 300,000-5,000,000: information-linkage "
        "queries between bodies on a business day (none on other days), as in the capacity model")
    linkage_batch_share: Fraction = Field(
        LINKAGE_BATCH_SHARE, description="ASSUMED, range 0-0.6: share of a business day's linkage queries sent "
        "as bulk inquiries in the batch window; the rest follow the town halls' office hours")
    linkage_batch_hours: tuple[interval(0, 23, integer=True), interval(1, 24, integer=True)] = Field(
        LINKAGE_BATCH_HOURS, description="ASSUMED: the batch window, [first hour, end hour) JST")
    platform_revocations_per_link_per_year: NonNegativeFloat = Field(
        0.08, description="ASSUMED, range 0.03-0.15: revocations a year of the certificate a live link is linked to "
        "(a change of the four items, a lost card, a death, a renewal); only the report's count of links whose "
        "revocation a delayed status check noticed late uses it")
    surges: list[Surge] = Field(default_factory=list)

    @field_validator("linkage_batch_hours", mode="after")
    @classmethod
    def _batch_window(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[1] <= v[0]:
            raise ValueError(f"{list(v)}: the end hour must be after the first hour (e.g. [19, 23])")
        return v


class Agent(StrictModel):
    """Agent fidelity: the real JPKI service runs with its ledger replicated as the option says."""

    enabled: bool = False
    days: interval(1, 366, integer=True) = Field(14, description="days of the horizon run with real services")
    households: interval(1, 100_000, integer=True) = Field(120, description="payout ledger: households on the roll")
    certificates: interval(1, 100_000, integer=True) = Field(
        40, description="JPKI: cards in circulation at the start, each handed over with its auth certificate"
    )
    revocations_per_day: NonNegativeFloat = Field(2.0, description="cards reported lost (any hour): revoked")
    issuances_per_day: NonNegativeFloat = Field(
        1.0, description="new cards handed over at the counter per business day (office hours)"
    )
    renewals_per_day: NonNegativeFloat = Field(
        2.0, description="certificate renewals at the counter per business day (office hours)"
    )
    pin_locks_per_day: NonNegativeFloat = Field(
        1.0, description="auth PINs locked by wrong tries (any hour); reset at the counter in the next office hour"
    )
    suspensions_per_day: NonNegativeFloat = Field(
        0.5, description="ASSUMED, range 0-2 (a sample rate, like the loss reports'): cards suspended (一時停止) "
        "by a call to the 24/365 call centre (個人番号カードコールセンター) because they are missing (any hour); "
        "their certificates are revoked")
    suspended_found_share: Fraction = Field(
        0.5, description="ASSUMED, range 0.3-0.8: share of suspended cards found again; the holder has the card "
        "resumed at the counter (一時停止解除) and gets new certificates; the others are reported lost there and "
        "a replacement card applied for (再交付申請)")
    suspended_days: PositiveFloat = Field(
        3.0, description="ASSUMED, range 1-14: days from the call until the holder goes to the counter (its first "
        "office hour after)")
    status_checks_per_hour: interval(0, 10_000, integer=True) = 4
    drill_hours: PositiveFloat = Field(4.0, description="a failover drill mid-run when the year had none: hours down")
    standby_cache_invalidation: bool = Field(
        True, description="replaying a revocation at the standby also drops the standby's pre-signed OCSP answers"
    )


class LinkageSample(StrictModel):
    """A sample of the linkage queries through the real information-provision network, every message checked
    for a My Number (:mod:`twin.models.failover.linkage_sample`)."""

    queries: interval(0, 100_000, integer=True) = Field(
        1_000, description="linkage queries of the horizon sent through the real network (0: none), at times drawn "
        "from the 'linkage' profile")
    people: interval(1, 10_000, integer=True) = Field(40, description="residents the sample's bodies hold copies of")


class Params(StrictModel):
    sites: dict[str, Site] = Field(default_factory=lambda: dict(DEFAULT_SITES))
    services: dict[str, Service] = Field(default_factory=lambda: dict(DEFAULT_SERVICES))
    links: dict[str, Link] = Field(default_factory=lambda: {"east_west": Link()})
    failover: Failover = Failover()
    maintenance: Maintenance = Maintenance()
    demand: Demand = Demand()
    injected: list[Injected] = Field(default_factory=list)
    random_faults: bool = Field(True, description="false: only the injected faults happen (replays)")
    collapse: NonNegativeFloat = Field(
        2.0, description="goodput above capacity falls as 1/(1 + collapse * overload): thrashing, timeouts"
    )
    outage_failure_share: Fraction = Field(0.5, description="an hour counts as down when this share of requests fails")
    agent: Agent = Agent()
    linkage_sample: LinkageSample = LinkageSample()

    @field_validator("services")
    @classmethod
    def _some_service(cls, v: dict[str, Service]) -> dict[str, Service]:
        if not v:
            raise ValueError("is empty; a failover study needs at least one service")
        return v

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        """Services and sites given in a scenario are merged over the default topology, key by key."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, defaults in (("services", DEFAULT_SERVICES), ("sites", DEFAULT_SITES)):
            given = out.get(key)
            if isinstance(given, dict) and not given:  # merges to the defaults: says nothing, so likely a slip
                raise _FieldError(key, given, "is an empty mapping; omit the key to keep the default "
                                  f"{key}, or name the {key} to change (`name: null` removes one)")  # fmt: skip
            if isinstance(given, dict):
                base = {k: v.model_dump(mode="python") for k, v in defaults.items()}
                merged = deep_merge(base, {k: v for k, v in given.items() if v is not None})
                for k, v in given.items():
                    if v is None:  # `name: null` removes a default service or site
                        merged.pop(k, None)
                out[key] = merged
        return out

    @model_validator(mode="after")
    def _topology(self) -> Params:
        from twin.models.failover.topology import check_topology

        check_topology(self)
        if self.demand.phone_share_of_logins > 0 and not any("phone" in s.carries for s in self.services.values()):
            raise _FieldError("demand.phone_share_of_logins", self.demand.phone_share_of_logins,
                              "needs a service that carries the 'phone' profile (e.g. phone_login: {carries: "
                              "[phone], depends_on: [{service: jpki_ocsp}]}), else its logins are counted nowhere")
        return self


def _svc(**kw: Any) -> Service:
    return Service(**kw)


def _deps(*items: str) -> list[Dependency]:
    out = []
    for it in items:
        name, _, rest = it.partition(":")
        if rest:
            out.append(Dependency(service=name, kind="soft", share=float(rest)))
        else:
            out.append(Dependency(service=name))
    return out


DEFAULT_SITES: dict[str, Site] = {
    "east": Site(title="East data centre"),
    "west": Site(title="West data centre"),
}

#: the default topology (the 2024 picture, simplified): every service has a hot standby in the west
DEFAULT_SERVICES: dict[str, Service] = {
    "shared_line": _svc(title="Shared lines (共有回線)", failure=FailureClass(mtbf_hours=8_760, mttr_hours=3),
                        release=Release(cadence_days=90, defect_escape_rate=0.01), write_share=0.0),
    "jukinet": _svc(title="Resident-registry network (住基ネット)", depends_on=_deps("shared_line"),
                    release=Release(cadence_days=60, defect_escape_rate=0.02)),
    "jpki_ca": _svc(title="JPKI certificate authority", deployment="warm", depends_on=_deps("jukinet:0.2"),
                    release=Release(cadence_days=60, defect_escape_rate=0.03), write_share=1.0),
    "jpki_ocsp": _svc(title="JPKI OCSP responder", carries=["ocsp", "status"], capacity_per_site_rps=4_000,
                      service_time_ms=20, timeout_s=10, write_share=0.0,
                      release=Release(cadence_days=60, defect_escape_rate=0.02)),
    "card_management": _svc(title="Card management system (カード管理システム)", deployment="warm",
                            depends_on=_deps("jukinet"), carries=["card"], capacity_per_site_rps=40,
                            service_time_ms=400, write_share=0.5),
    "relay_servers": _svc(title="Relay servers (中継サーバ)", depends_on=_deps("card_management", "shared_line"),
                          carries=["card"], capacity_per_site_rps=40, service_time_ms=300, write_share=0.0),
    "card_issuance": _svc(title="Card issuance and renewal at the town hall",
                          depends_on=_deps("relay_servers", "jpki_ca"), carries=["card"],
                          capacity_per_site_rps=60, service_time_ms=500, write_share=0.6),
    "myna_portal": _svc(title="Myna Portal (マイナポータル)", depends_on=_deps("jpki_ocsp"),
                        carries=["portal", "payout"], capacity_per_site_rps=60, write_share=0.05),
    "eligibility": _svc(title="Online eligibility confirmation (オンライン資格確認)",
                        depends_on=_deps("jpki_ocsp:0.1113"), carries=["eligibility"],
                        capacity_per_site_rps=900, service_time_ms=100, timeout_s=10, write_share=0.02,
                        release=Release(cadence_days=28)),
    # information linkage (issue 17): the network asks through the bodies' intermediate servers, which
    # J-LIS runs as one platform (中間サーバー・プラットフォーム) in an east and a west centre; a query
    # needs the network and the intermediate servers. Failure rates, release cadence and the nightly
    # copy-registration stop are assumed.
    "intermediate_servers": _svc(title="Intermediate servers (中間サーバー・プラットフォーム)",
                                 failure=FailureClass(mtbf_hours=4_380, mttr_hours=4),
                                 release=Release(cadence_days=30, defect_escape_rate=0.02),
                                 daily_stop=DailyStop(start_hour=2.0, hours=1.0), write_share=0.3),
    "info_network": _svc(title="Information-provision network (情報提供ネットワークシステム)",
                         depends_on=_deps("intermediate_servers"), carries=["linkage"],
                         capacity_per_site_rps=400, service_time_ms=200, timeout_s=30,
                         failure=FailureClass(mtbf_hours=8_760, mttr_hours=3),
                         release=Release(cadence_days=90, defect_escape_rate=0.02), write_share=0.05),
    "payout": _svc(title="Payout service (給付)", depends_on=_deps("myna_portal", "jukinet:0.3"),
                   carries=["payout"], capacity_per_site_rps=60, service_time_ms=300, write_share=1.0,
                   replication=Replication(mode="sync")),
}  # fmt: skip


#: assumed parameters with the range the report shows beside the value used
ASSUMED_RANGES = {
    "demand.phone_share_of_logins": "0-0.3 of served holders' portal and private logins by phone",
    "demand.phone_android_share": "0.35-0.55 of the holders' smartphones",
    "demand.linkage_queries_per_business_day": "300,000-5,000,000 linkage queries a business day (capacity model)",
    "demand.linkage_batch_share": "0-0.6 of a business day's linkage queries sent in the batch window",
    "demand.platform_links": "5,000,000-60,000,000 links of private user IDs to certificate serials (capacity model)",
    "demand.platform_logins_per_link_per_day": "0.005-0.1 private logins per live link a day (capacity model)",
    "demand.platform_status_checks_per_link_per_day": "1/30-1: monthly to daily status checks per link (capacity "
    "model)",
    "demand.platform_status_check_hours": "night windows from 0 to 6 JST (capacity model)",
    "demand.platform_revocations_per_link_per_year": "0.03-0.15 revocations a year of a linked certificate",
    "agent.suspensions_per_day": "0-2 cards suspended by a call to the call centre a day (sample rate)",
    "agent.suspended_found_share": "0.3-0.8 of suspended cards found again and resumed",
    "agent.suspended_days": "1-14 days from the call to the counter",
}

#: defaults backed by a public source (twin/data/FIGURES.md); everything else is assumed
SOURCED = {
    "demand.eligibility_checks_per_month": "MHLW 医療保険部会 181: 204,975,295 online checks in July 2024",
    "demand.card_share_of_eligibility": "MHLW 医療保険部会 181: 11.13 % of July 2024 checks by My Number card",
    "services.eligibility.depends_on": "card-based checks (11.13 %, MHLW) need the JPKI certificate check",
    "demand.card_transactions_per_business_day": "zeikei-news: 1,200万 card and 1,580万 certificate renewals "
    "expected in FY2025 (~114k a business day), plus new issuance (assumed)",
}
