"""Two later routes to the card in the rollout: the licence centre (マイナ免許証, from 2025-03-24) and the
residence card (特定在留カード, from 2026-06-14).

Picture a licence centre on a weekday morning in 2025. Of about 82 million licence holders (NPA, end 2023),
every one renews every three or five years, so tens of thousands renew each day. A renewer who holds a My
Number card may now have the licence written onto it (a *link*); one who holds none may be prompted to apply
for a card. From 2026-06-14 a foreign resident at a residence procedure (an extension, a change of status,
a residence notification at the town hall) may have the residence card put onto the My Number card (an
*integration*), or apply for the combined card if they hold no card yet.

Both channels act on the rollout's own state, by age band and sex:

* **licence** -- licence holders are a share ``ℓ[x]`` of each band and sex: NPA's 2015 counts by age
  (運転免許統計 平成27年版 via emuzu.link; 80+ split assumed) scaled to NPA's 2023 total and divided by the
  run's population of the band (so the 2015 age shape is assumed to hold). Licensed card holders are
  ``ℓ x`` the living holders of the band (assumed: holding a licence and a card are independent within a band
  and sex). Renewals per licence holder per year follow the cycles: under 70, a share ``five_year_share`` on
  the five-year cycle (優良・一般) and the rest on the three-year one (初回・違反); at 70 four years, from 71 three
  years (Road Traffic Act; the share on the five-year cycle assumed). A renewing card holder without a link
  links with ``link_share``; a linked holder stays linked; card holders also link outside a renewal at
  ``link_off_renewal_per_year``. A renewing resident who has not applied for a card applies with
  ``prompt_share``: those applications enter J-LIS production like any other. Residents whose card is on its
  way (applied, not yet handed over) are left out of the renewals counted.
* **residence** -- foreign residents are a share ``φ[x]`` of each band: ISA's end-2023 count with an assumed
  age shape. Their card holding is ``holding_ratio`` x the band's; only mid-to-long-term residents (ISA's
  share) may integrate. Residence procedures come at ``procedures_per_year`` per foreign resident; a holder
  integrates with ``integrate_share``, a resident who has not applied applies for the combined card with
  ``new_card_share`` (counted at application: the chain does not tag the cards it hands over).

Links and integrations are stocks within their pools (licensed card holders; eligible foreign card holders):
they die at the band's rate and age with the holders; a linked holder who ages into a band where fewer hold
a licence gives it up (返納) in that proportion, so a stock never exceeds its pool. Links and integrations are
expected values; the applications are binomial draws when the run is stochastic (drawn after the day's other
applications, and only from the channel's start: nothing before it changes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from pydantic import Field, field_validator

from twin.config import Fraction, PositiveFloat, StrictModel, date_from, interval
from twin.services.licence import MYNA_LICENCE_START
from twin.services.residence import RESIDENCE_CARD_START

N_BANDS = 21
#: NPA 運転免許統計 平成27年版 (end 2015), licence holders by age band (male, female), bands 16-19 .. 75-79
#: (via emuzu.link/archives/668); first band index 3 (15-19: 16-19 only)
NPA_HOLDERS_2015: tuple[tuple[int, int], ...] = (
    (581_074, 393_726), (2_575_850, 2_188_314), (3_079_057, 2_719_280), (3_598_118, 3_270_573),
    (4_109_262, 3_774_079), (4_828_117, 4_451_021), (4_291_528, 3_946_394), (3_906_993, 3_544_558),
    (3_583_424, 3_166_376), (3_846_682, 3_194_736), (4_350_942, 3_258_806), (2_977_543, 1_733_587),
    (2_010_820, 806_702),
)  # fmt: skip
#: holders 75+ at end 2015, 約478万 (NPA material on the 2017 Road Traffic Act amendment, via expydoc.com 11738938)
NPA_HOLDERS_75_PLUS_2015 = 4_780_000
#: ASSUMED split of the 80+ holders (80-84, 85-89, 90+); the sex split is the 75-79 band's
SPLIT_80_PLUS = (0.70, 0.25, 0.05)
#: NPA: マイナ免許証 holders (total) at month ends, twin/data/FIGURES.md: checks, never inputs
NPA_LINKED: tuple[tuple[dt.date, float], ...] = ((dt.date(2025, 3, 31), 117_589.0), (dt.date(2025, 6, 30), 868_188.0))


class LicenceChannel(StrictModel):
    """Licence renewals at licence centres as a channel of the rollout (off unless ``enabled``)."""

    enabled: bool = Field(False, description="play licence renewals, links to the card and prompted applications")
    start: date_from(MYNA_LICENCE_START, "the licence's start on the card") = Field(  # type: ignore[valid-type]
        MYNA_LICENCE_START, description="first day a licence may go on the card (NPA: 2025-03-24)")
    holders_total: PositiveFloat = Field(
        81_862_728, description="licence holders, end 2023 (NPA 運転免許統計, FIGURES.md); scales the 2015 age shape")
    five_year_share: Fraction = Field(
        0.75, description="ASSUMED, range 0.6-0.85: holders under 70 on the five-year cycle (the rest three years)")
    link_share: Fraction = Field(
        0.25, description="ASSUMED, range 0.1-0.4: renewing card holders who put the licence on the card")
    link_off_renewal_per_year: interval(0, 1) = Field(
        0.002, description="ASSUMED, range 0-0.01: licensed card holders a year who link outside a renewal")
    prompt_share: Fraction = Field(
        0.03, description="ASSUMED, range 0-0.1: renewing residents without a card or application who apply")



def _default_foreign_age() -> list[float]:
    # ASSUMED age shape of foreign residents (5-year bands 0-4 .. 100+): young working ages dominate
    # (students, trainees, engineers); ISA publishes the table (第13表) but it is not in the project's library
    return [0.035, 0.030, 0.025, 0.035, 0.150, 0.150, 0.120, 0.100, 0.080, 0.070, 0.060, 0.045, 0.035, 0.030,
            0.025, 0.015, 0.010, 0.003, 0.001, 0.001, 0.0]  # fmt: skip


class ResidenceChannel(StrictModel):
    """Residence-card integration at residence procedures (off unless ``enabled``)."""

    enabled: bool = Field(False, description="play residence procedures, integrations and combined-card applications")
    start: date_from(RESIDENCE_CARD_START, "the combined card's start") = Field(  # type: ignore[valid-type]
        RESIDENCE_CARD_START, description="first day of the combined card (ISA: 2026-06-14)")
    foreign_residents: PositiveFloat = Field(
        3_410_992, description="foreign residents, end 2023 (ISA 在留外国人統計, FIGURES.md)")
    mid_long_term_share: Fraction = Field(
        3_129_774 / 3_410_992, description="mid-to-long-term residents among them (ISA: 3,129,774; the 281,218 "
        "special permanent residents' certificate is not modelled)")
    age_shares: list[interval(0, 1)] = Field(
        default_factory=_default_foreign_age, description="ASSUMED: foreign residents' age shape, 21 bands")
    holding_ratio: interval(0, 1) = Field(
        0.6, description="ASSUMED, range 0.3-1.0: foreign residents' card holding as a multiple of their band's")
    procedures_per_year: interval(0, 5) = Field(
        0.4, description="ASSUMED, range 0.25-0.6: residence procedures a year per foreign resident (extensions, "
        "changes of status, residence notifications)")
    integrate_share: Fraction = Field(
        0.3, description="ASSUMED, range 0.1-0.6: card holders at a procedure who take the combined card")
    new_card_share: Fraction = Field(
        0.1, description="ASSUMED, range 0.02-0.3: residents without a card or application who apply for it")


    @field_validator("age_shares")
    @classmethod
    def _bands(cls, v: list[float]) -> list[float]:
        if len(v) != N_BANDS:
            raise ValueError(f"has {len(v)} values; {N_BANDS} are required (one per age band 0-4 .. 100+)")
        if sum(v) <= 0:
            raise ValueError("must have a positive sum")
        return v


class Channels(StrictModel):
    licence: LicenceChannel = LicenceChannel()
    residence: ResidenceChannel = ResidenceChannel()

    @property
    def any(self) -> bool:
        return self.licence.enabled or self.residence.enabled


SOURCED = {
    "channels.licence.start": "NPA poster via koubou-yuh.com, do-gugan.com: マイナ免許証 from 2025-03-24",
    "channels.licence.holders_total": "NPA 運転免許統計: 81,862,728 holders at end 2023 (FIGURES.md)",
    "channels.residence.start": "ISA moj.go.jp/isa/tokutei.html: 特定在留カード from 2026-06-14",
    "channels.residence.foreign_residents": "ISA press release 2024-03-22: 3,410,992 foreign residents at end 2023",
    "channels.residence.mid_long_term_share": "ISA press release 2024-03-22: 3,129,774 mid-to-long-term residents",
}
ASSUMED_RANGES = {
    "channels.licence.five_year_share": "0.6-0.85",
    "channels.licence.link_share": "0.1-0.4 (chosen with NPA's 2025 counts known; they check the flow, not the share)",
    "channels.licence.link_off_renewal_per_year": "0-0.01",
    "channels.licence.prompt_share": "0-0.1",
    "channels.residence.age_shares": "shape only; the total is ISA's",
    "channels.residence.holding_ratio": "0.3-1.0",
    "channels.residence.procedures_per_year": "0.25-0.6",
    "channels.residence.integrate_share": "0.1-0.6",
    "channels.residence.new_card_share": "0.02-0.3",
}


def licence_holders_by_mix() -> np.ndarray:
    """Licence holders by (band, sex), NPA's 2015 counts with the 80+ split (21, 2), unscaled."""
    out = np.zeros((N_BANDS, 2))
    out[3 : 3 + len(NPA_HOLDERS_2015)] = np.array(NPA_HOLDERS_2015, dtype=np.float64)
    b75 = np.array(NPA_HOLDERS_2015[-1], dtype=np.float64)
    rest = NPA_HOLDERS_75_PLUS_2015 - b75.sum()
    sex = b75 / b75.sum()
    for k, s in enumerate(SPLIT_80_PLUS):
        out[16 + k] = rest * s * sex
    return out


def licence_share(p: LicenceChannel, band_pop: np.ndarray) -> np.ndarray:
    """Share of each (band, sex) holding a licence: NPA's age shape scaled to ``holders_total`` over the
    run's national population by band and sex ``band_pop`` (21, 2); at most 0.98."""
    h = licence_holders_by_mix()
    h *= p.holders_total / h.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.where(band_pop > 0, h / band_pop, 0.0), 0.0, 0.98)


def renewals_per_year(p: LicenceChannel) -> np.ndarray:
    """Renewals per licence holder per year by band (21,): the three-, four- and five-year cycles."""
    r = np.full(N_BANDS, p.five_year_share / 5.0 + (1.0 - p.five_year_share) / 3.0)
    r[14] = (1.0 / 4.0 + 4.0 / 3.0) / 5.0  # 70-74: four years at 70, three from 71
    r[15:] = 1.0 / 3.0
    return r


def foreign_share(p: ResidenceChannel, band_pop: np.ndarray) -> np.ndarray:
    """Share of each (band, sex) who are foreign residents (21, 2), half of each band's count by sex."""
    w = np.asarray(p.age_shares, dtype=np.float64)
    f = p.foreign_residents * w / w.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.where(band_pop > 0, 0.5 * f[:, None] / band_pop, 0.0), 0.0, 1.0)


#: daily series the channels record (national, in the simulated population's scale)
SERIES = (
    "licence_renewals", "licence_renewals_card_holders", "licence_links", "licence_links_stock",
    "licence_links_ended", "licence_holders_with_card", "licence_prompted_applications",
    "residence_procedures", "residence_integrations", "residence_integrations_stock", "residence_integrations_ended",
    "residence_card_holders_eligible", "residence_applications",
)  # fmt: skip

#: years of age one band spans (as simulate.BAND_YEARS)
_BAND_DAYS = 365.25 * 5.0


def _keep(share: np.ndarray) -> np.ndarray:
    """Of a stock ageing from band x to x+1, the part its pool keeps: min(1, share[x+1] / share[x]) (20, 2)."""
    lo, hi = share[:-1], share[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lo > 0, np.minimum(1.0, hi / np.where(lo > 0, lo, 1.0)), 1.0)


@dataclass
class ChannelState:
    """The channels' stocks and daily series for one run."""

    p: Channels
    day0: dt.date
    n_days: int
    band_pop: np.ndarray  # (21, 2) national residents (the shares' denominator: the sources count nationally)
    scale: float = 1.0  # the simulated population's scale: stocks and flows are kept at it, as the chain's

    def __post_init__(self) -> None:
        self.daily = {k: np.zeros(self.n_days) for k in SERIES}
        lic, res = self.p.licence, self.p.residence
        self.pop_sim = self.band_pop.reshape(-1) * self.scale
        self.ell = licence_share(lic, self.band_pop).reshape(-1)
        self.renew = (np.repeat(renewals_per_year(lic), 2) / 365.25) if lic.enabled else np.zeros(2 * N_BANDS)
        self.lic_start = (lic.start - self.day0).days if lic.enabled else self.n_days
        self.phi = foreign_share(res, self.band_pop).reshape(-1)
        self.res_start = (res.start - self.day0).days if res.enabled else self.n_days
        self.proc = res.procedures_per_year / 365.25
        self.links = np.zeros(2 * N_BANDS)
        self.integrations = np.zeros(2 * N_BANDS)
        self.keep_ell = _keep(self.ell.reshape(N_BANDS, 2))
        self.keep_phi = _keep(self.phi.reshape(N_BANDS, 2))

    # ---- applications (residents stage) ------------------------------------------------------------
    def application_probability(self, day: int, alive_mix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Per (band x sex), today's probability that a resident who has not applied applies through the licence
        channel and through the residence channel; None before both starts."""
        if day < self.lic_start and day < self.res_start:
            return None
        X = 2 * N_BANDS
        lic = self.ell * self.renew * self.p.licence.prompt_share if day >= self.lic_start else np.zeros(X)
        res = np.zeros(X)
        if day >= self.res_start:
            rp = self.p.residence
            pop = self.pop_sim
            with np.errstate(divide="ignore", invalid="ignore"):
                held = np.where(pop > 0, np.minimum(alive_mix / pop, 1.0), 0.0)
                # foreign share of those without a card: phi (1 - ratio h) / (1 - h)
                fu = np.where(held < 1.0, np.minimum(1.0, self.phi * (1.0 - rp.holding_ratio * held)
                                                     / np.maximum(1.0 - held, 1e-12)), 0.0)  # fmt: skip
            res = fu * rp.mid_long_term_share * self.proc * rp.new_card_share
        return np.minimum(lic, 1.0), np.minimum(res, 1.0)

    def record_applications(self, day: int, licence: float, residence: float) -> None:
        self.daily["licence_prompted_applications"][day] = licence
        self.daily["residence_applications"][day] = residence

    def renewals_of_unapplied(self, day: int, unapplied_mix: np.ndarray) -> float:
        """Licence renewals today by residents who have not applied for a card (for the renewals series)."""
        return float(unapplied_mix @ (self.ell * self.renew)) if day >= self.lic_start else 0.0

    # ---- stocks (after the counter's hand-overs and the holders' deaths) ---------------------------
    def step_stocks(self, day: int, alive_mix: np.ndarray, death_rate: np.ndarray | None,
                    unapplied_renewals: float) -> None:  # fmt: skip
        """Links and integrations die and age with the holders (``death_rate``: per day by band x sex, None: the
        holders neither die nor age), then today's new links and integrations join from the unlinked pool."""
        d = self.daily
        if death_rate is not None:
            for stock, keep, ended in ((self.links, self.keep_ell, "licence_links_ended"),
                                       (self.integrations, self.keep_phi, "residence_integrations_ended")):
                stock -= stock * death_rate
                grid = stock.reshape(N_BANDS, 2)
                older = grid[:-1] / _BAND_DAYS
                grid[:-1] -= older
                grid[1:] += older * keep
                d[ended][day] = float((older * (1.0 - keep)).sum())  # fmt: skip
        pool_lic = alive_mix * self.ell
        if day >= self.lic_start:
            lp = self.p.licence
            renewing = pool_lic * self.renew
            free = np.maximum(pool_lic - self.links, 0.0)
            rate = np.minimum(self.renew * lp.link_share + lp.link_off_renewal_per_year / 365.25, 1.0)
            new = free * rate
            self.links += new
            d["licence_renewals"][day] = float(renewing.sum()) + unapplied_renewals
            d["licence_renewals_card_holders"][day] = float(renewing.sum())
            d["licence_links"][day] = float(new.sum())
        d["licence_links_stock"][day] = float(self.links.sum())
        d["licence_holders_with_card"][day] = float(pool_lic.sum())
        rp = self.p.residence
        pool_res = alive_mix * self.phi * rp.holding_ratio * rp.mid_long_term_share
        if day >= self.res_start:
            free = np.maximum(pool_res - self.integrations, 0.0)
            new = free * min(self.proc * rp.integrate_share, 1.0)
            self.integrations += new
            d["residence_integrations"][day] = float(new.sum())
            d["residence_procedures"][day] = float((self.pop_sim * self.phi).sum() * rp.mid_long_term_share
                                                   * self.proc)  # fmt: skip
        d["residence_integrations_stock"][day] = float(self.integrations.sum())
        d["residence_card_holders_eligible"][day] = float(pool_res.sum())


# ---- what the run reports ---------------------------------------------------------------------------------
#: flows summed over a period; the rest are stocks (taken at a day)
FLOWS = ("licence_renewals", "licence_renewals_card_holders", "licence_links", "licence_links_ended",
         "licence_prompted_applications", "residence_procedures", "residence_integrations",
         "residence_integrations_ended", "residence_applications")  # fmt: skip


def mean_series(runs: list, key: str) -> np.ndarray:
    """A channel series averaged over the replications, at national scale."""
    return np.mean([r.channels[key] / r.scale for r in runs], axis=0)


def at(runs: list, key: str, day: dt.date) -> float:
    r0 = runs[0]
    k = (day - r0.day0).days
    return float(mean_series(runs, key)[k]) if 0 <= k < r0.n_days else float("nan")


def headline(p: Channels, runs: list) -> dict[str, float]:
    """Totals from each channel's start to the run's end, the stocks at the end, NPA's counts beside the twin's."""
    r0 = runs[0]
    end = r0.day0 + dt.timedelta(days=r0.n_days - 1)
    out: dict[str, float] = {}
    for key in FLOWS:
        out[key] = float(mean_series(runs, key).sum())
    for key in ("licence_links_stock", "licence_holders_with_card", "residence_integrations_stock",
                "residence_card_holders_eligible"):  # fmt: skip
        out[f"{key}_end"] = at(runs, key, end)
    if p.licence.enabled:
        for day, count in NPA_LINKED:
            out[f"licence_links_stock_{day.isoformat()}"] = at(runs, "licence_links_stock", day)
            out[f"npa_linked_{day.isoformat()}"] = count
    return out


def monthly(runs: list, since: dt.date) -> list[list]:
    """Month by month from ``since``: flows summed, stocks at month end (mean over replications)."""
    r0 = runs[0]
    days = np.datetime64(r0.day0, "D") + np.arange(r0.n_days)
    months = days.astype("datetime64[M]")
    keep = days >= np.datetime64(since, "D")
    rows = []
    series = {k: mean_series(runs, k) for k in SERIES}
    for m in np.unique(months[keep]):
        ks = np.flatnonzero(months == m)
        last = ks[-1]
        rows.append([str(m), series["licence_renewals"][ks].sum(), series["licence_links"][ks].sum(),
                     series["licence_links_stock"][last], series["licence_prompted_applications"][ks].sum(),
                     series["residence_procedures"][ks].sum(), series["residence_integrations"][ks].sum(),
                     series["residence_integrations_stock"][last], series["residence_applications"][ks].sum()])
    return rows


def add_metrics(m, option: str, runs: list) -> None:  # noqa: ANN001 (twin.metrics.Metrics)
    r0 = runs[0]
    days = [r0.day0 + dt.timedelta(days=k) for k in range(r0.n_days)]
    for key in SERIES:
        m.add_series(key, days, mean_series(runs, key), option=option)


def section(outcomes: list) -> object:
    """The two channels per option: monthly flows and stocks, and NPA's counts beside the twin's."""
    from twin.report import Paragraph, Section, Table

    on = [o for o in outcomes if o.params.channels.any]
    since = min(o.params.channels.licence.start if o.params.channels.licence.enabled
                else o.params.channels.residence.start for o in on)  # fmt: skip
    heads = {o.name: headline(o.params.channels, o.runs) for o in on}
    texts = []
    for o in on:
        h, lp = heads[o.name], o.params.channels.licence
        if lp.enabled:
            texts.append(
                f"{o.name}: from {lp.start}, {h['licence_renewals']:,.0f} licence renewals, of which "
                f"{h['licence_renewals_card_holders']:,.0f} by card holders; {h['licence_links']:,.0f} licences put on "
                f"the card ({h['licence_links_stock_end']:,.0f} on cards at the end, of "
                f"{h['licence_holders_with_card_end']:,.0f} licensed card holders) and "
                f"{h['licence_prompted_applications']:,.0f} card applications prompted at the renewal.")
        if o.params.channels.residence.enabled:
            texts.append(
                f"{o.name}: from {o.params.channels.residence.start}, {h['residence_integrations']:,.0f} residence "
                f"cards put on a held card and {h['residence_applications']:,.0f} applications for the combined card, "
                f"of {h['residence_card_holders_eligible_end']:,.0f} eligible foreign card holders at the end.")
    intro = Paragraph(
        "Licence holders renew at licence centres on their three-, four- or five-year cycle (NPA's holders by age, "
        "the share on each cycle assumed); from the licence's start on the card a renewing card holder may put it "
        "on the card and a renewing resident without a card may be prompted to apply. From the combined card's "
        "start, foreign residents (ISA's count, age shape assumed) at a residence procedure may put the residence "
        "card on their card or apply for the combined one. Every uptake share is assumed (ranges in the "
        "assumptions). " + " ".join(texts))
    rows = [[o.name, *row] for o in on for row in monthly(o.runs, since)]
    money = "{:,.0f}"
    cols = ["option", "month", "licence renewals", "licences put on a card", "licences on cards (end)",
            "applications prompted at a renewal", "residence procedures", "residence cards put on a card",
            "residence cards on cards (end)", "combined-card applications"]  # fmt: skip
    table = Table("Licence centre and residence-card channels, by month", cols, rows,
                  note="National expected counts, mean over the replications.",
                  formats={c: money for c in cols[2:]})  # fmt: skip
    checks = []
    for o in on:
        if o.params.channels.licence.enabled:
            for day, count in NPA_LINKED:
                twin = heads[o.name][f"licence_links_stock_{day.isoformat()}"]
                checks.append([o.name, day.isoformat(), count, twin, 100 * (twin - count) / count])
    parts: list = [intro, table]
    if checks:
        parts.append(Table(
            "Licences on cards: the National Police Agency's counts (not an input) beside the twin's", [
                "option", "day", "NPA", "twin", "difference %"], checks,
            note="The first count is a week after the start, when the early rush of links outside a renewal is "
            "not modelled; the link share's range was chosen with these counts known, so they check the renewal "
            "flow, not the share.",
            formats={"NPA": money, "twin": money, "difference %": "{:+.0f}"}))  # fmt: skip
    return Section("The licence centre and the residence card as channels", parts), heads
