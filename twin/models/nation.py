"""The synthetic nation against the statistics it was built from.

Before anyone trusts a payout or capacity rehearsal, they should see that the nation it runs on
looks like Japan: the resident-register population of every prefecture (住民基本台帳人口), the
four municipality types, the age pyramid by sex, census household sizes (38.0 % one-person, 2.21
persons per household), My Number card holding nationally, by type and by age, and the
digital-literacy profile by age. This scenario builds the nation at the scenario's scale and
reports each synthetic figure next to the official one, with its percentage error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from twin.config import StrictModel, interval
from twin.metrics import Metrics
from twin.population.attributes import band_of_age, literacy_mean
from twin.population.households import ASSUMPTIONS, size_distribution
from twin.population.municipalities import MUNICIPALITY_TYPES, type_totals
from twin.population.nation import Nation, build_nation, tally
from twin.population.statistics import AGE_BANDS, CENSUS_2010_SIZE_SHAPE, CENSUS_PERSONS_PER_HOUSEHOLD
from twin.report import Assumption, Figure, Paragraph, Section, Table
from twin.report.html import scale_text
from twin.runs import ModelResult, RunContext

SEXES = ("M", "F")
SIZE_LABELS = ("1", "2", "3", "4", "5+")
SOURCES = [
    "MIC 「マイナンバーカード交付状況について」: population (resident register) and cards issued by "
    "municipality, prefecture, municipality type and 5-year age band x sex; via Code for Japan (MIT)",
    "Census 2020 (Statistics Bureau): 55,704,949 general households, 2.21 persons per household, 38.0 % one-person",
    "Census 2010 household sizes (shape of the 2..5+ person classes)",
    "MIC 通信利用動向調査 2023 (internet use 13-69 above 90 %) and 2014 (65+ by sex)",
    "Public-benefit receipt account registrations: Nikkei xTECH 2022-09; limo 2023-05 (60.4 % of card holders)",
]


class Params(StrictModel):
    """Options of the synthetic nation (the ``population:`` block chooses snapshot, scale, card date)."""

    account_share: interval(0, 1, description="share of card holders with a registered account") | None = Field(
        None, description="None: from FIGURES.md at the card date (0 before 2022-03-28, 60.4 % from 2023-05-21)"
    )
    literacy_concentration: interval(0, None, lo_open=True) = Field(
        4.0, description="Beta concentration of individual literacy around the age-sex mean (assumed)"
    )


def _pct_error(synthetic: np.ndarray, official: np.ndarray) -> np.ndarray:
    return (np.asarray(synthetic, float) / np.maximum(np.asarray(official, float), 1e-300) - 1) * 100


def compare(nation: Nation) -> dict[str, Any]:
    """Every synthetic figure the report shows, scaled back to national counts, with its official twin."""
    r, h, m, snap = nation.residents, nation.households, nation.municipalities, nation.snapshot
    w = nation.weight
    mun_pop = tally(r.municipality, len(m)) * w
    mun_cards = tally(r.municipality, len(m), r.has_card) * w
    pref = np.bincount(m.prefecture, weights=mun_pop, minlength=48)[1:]
    types = {t: (mun_pop[m.type == t].sum(), mun_cards[m.type == t].sum()) for t in MUNICIPALITY_TYPES}
    band_sex = (band_of_age()[:, None] * 2 + np.arange(2)[None, :]).astype(np.uint8)
    bs = band_sex[r.age, r.sex]  # uint8: 126 MB at 1:1
    band_pop = tally(bs, 42).reshape(-1, 2) * w
    band_cards = tally(bs, 42, r.has_card).reshape(-1, 2) * w
    lit = tally(bs, 42, r.literacy).reshape(-1, 2) * w / np.maximum(band_pop, 1e-300)
    lit_target = np.zeros((21, 2))
    lm = literacy_mean()
    for b in range(21):
        ages = np.flatnonzero(band_of_age() == b)
        lit_target[b] = lm[ages].mean(axis=0)
    sizes = tally(np.minimum(h.size, 5), 6)[1:] / len(h)
    target = size_distribution()
    shape2010 = np.array(CENSUS_2010_SIZE_SHAPE) / sum(CENSUS_2010_SIZE_SHAPE)
    official_rate = float((nation.holding.muni_rate * m.population).sum() / m.population.sum())
    return {
        "mun_pop": mun_pop,
        "mun_rate": mun_cards / np.maximum(mun_pop, 1e-300),
        "pref": pref,
        "types": types,
        "types_official": type_totals(snap),
        "band_pop": band_pop,
        "band_rate": band_cards / np.maximum(band_pop, 1e-300),
        "literacy": lit,
        "literacy_target": lit_target,
        "sizes": sizes,
        "sizes_target": np.array([*target[:4], target[4:].sum()]),
        "sizes_2010": shape2010,
        "official_rate": official_rate,
        "rate": float(r.has_card.mean()),
        "account_rate": float(r.has_account.sum() / max(r.has_card.sum(), 1)),
        "persons_per_household": len(r) / len(h),
    }


def _official_type_rate(nation: Nation, ty: str) -> float:
    """Holding rate of one municipality type at the card date (MIC's rates, population-weighted)."""
    m = nation.municipalities
    sel = m.type == ty
    return float((nation.holding.muni_rate * m.population)[sel].sum() / m.population[sel].sum())


def add_metrics(mx: Metrics, nation: Nation, c: dict[str, Any]) -> None:
    snap, t = nation.snapshot, nation.card_date
    prefs = [f"{p:02d}" for p in range(1, 48)]
    for src, vals in (("synthetic", c["pref"]), ("official", snap.prefecture_population)):
        mx.add_table("population", {"prefecture": prefs}, vals, source=src)
    mx.add_table("population_error_pct", {"prefecture": prefs}, _pct_error(c["pref"], snap.prefecture_population))
    for ty in MUNICIPALITY_TYPES:
        (pop, cards), (opop, _) = c["types"][ty], c["types_official"][ty]
        mx.add("population", pop, type=ty, source="synthetic")
        mx.add("population", opop, type=ty, source="official")
        mx.add("card_holding_rate", cards / max(pop, 1e-300), time=t, type=ty, source="synthetic")
        mx.add("card_holding_rate", _official_type_rate(nation, ty), time=t, type=ty, source="official")
    bands = [b for b in AGE_BANDS for _ in SEXES]
    sexes = list(SEXES) * len(AGE_BANDS)
    keys = {"age_band": bands, "sex": sexes}
    mx.add_table("population", keys, c["band_pop"].reshape(-1), source="synthetic")
    mx.add_table("population", keys, snap.band_population.reshape(-1), source="official")
    mx.add_table("card_holding_rate", keys, c["band_rate"].reshape(-1), time=t, source="synthetic")
    mx.add_table("card_holding_rate", keys, nation.holding.band_rate.reshape(-1), time=t, source="official")
    mx.add_table("digital_literacy_mean", keys, c["literacy"].reshape(-1), source="synthetic")
    mx.add_table("digital_literacy_mean", keys, c["literacy_target"].reshape(-1), source="internet_use")
    mx.add_table("household_share", {"size": SIZE_LABELS}, c["sizes"], source="synthetic")
    mx.add_table("household_share", {"size": SIZE_LABELS}, c["sizes_target"], source="census_2020_target")
    mx.add_table("household_share", {"size": SIZE_LABELS}, c["sizes_2010"], source="census_2010")
    mx.add("card_holding_rate", c["rate"], time=t, source="synthetic")
    mx.add("card_holding_rate", c["official_rate"], time=t, source="official")
    mx.add("persons_per_household", c["persons_per_household"], source="synthetic")
    mx.add("persons_per_household", CENSUS_PERSONS_PER_HOUSEHOLD, source="census_2020")


def _figures(nation: Nation, c: dict[str, Any], scale: float) -> list[Figure]:
    import matplotlib.pyplot as plt

    note = f"Source: MIC card-issuance release {nation.snapshot.name}; synthetic nation at {scale_text(scale)}"
    y = np.arange(len(AGE_BANDS))
    fig, ax = plt.subplots(figsize=(8, 6))
    off = nation.snapshot.band_population / 1e6
    syn = c["band_pop"] / 1e6
    ax.barh(y, -syn[:, 0], color="#2b5d8a", label="synthetic, male")
    ax.barh(y, syn[:, 1], color="#c0504d", label="synthetic, female")
    ax.barh(y, -off[:, 0], fill=False, edgecolor="black", lw=1.0, label="official (resident register)")
    ax.barh(y, off[:, 1], fill=False, edgecolor="black", lw=1.0)
    ax.set_yticks(y, AGE_BANDS)
    ax.set_xlabel("residents (millions); males left, females right")
    ax.set_title("Age pyramid: synthetic vs official, by 5-year band and sex")
    ax.legend(loc="upper right", fontsize=8)
    fig.text(0.01, -0.02, note, fontsize=7)
    figs = [Figure("age_pyramid", fig, "Residents by age band and sex. " + note)]

    fig, ax = plt.subplots(figsize=(8, 4))
    for s, col in zip((0, 1), ("#2b5d8a", "#c0504d"), strict=True):
        ax.plot(y, c["band_rate"][:, s] * 100, "o-", color=col, label=f"synthetic, {SEXES[s]}")
        ax.plot(y, nation.holding.band_rate[:, s] * 100, "--", color=col, alpha=0.6, label=f"official, {SEXES[s]}")
    ax.set_xticks(y, AGE_BANDS, rotation=60, fontsize=7)
    ax.set_ylabel("card holders (% of residents)")
    ax.set_title(f"My Number card holding by age band and sex on {nation.card_date.isoformat()}")
    ax.legend(fontsize=8)
    fig.text(0.01, -0.08, note, fontsize=7)
    figs.append(Figure("card_holding_by_age", fig, "Card holding by age band and sex. " + note))

    fig, ax = plt.subplots(figsize=(8, 4))
    for s, col in zip((0, 1), ("#2b5d8a", "#c0504d"), strict=True):
        ax.plot(y, c["literacy"][:, s], "o-", color=col, label=f"synthetic mean, {SEXES[s]}")
        ax.plot(y, c["literacy_target"][:, s], "--", color=col, alpha=0.6, label=f"internet use share, {SEXES[s]}")
    ax.set_xticks(y, AGE_BANDS, rotation=60, fontsize=7)
    ax.set_ylabel("digital-literacy score (0..1)")
    ax.set_ylim(0, 1)
    ax.set_title("Digital literacy by age band and sex: synthetic mean vs internet use")
    ax.legend(fontsize=8)
    lit_note = "Source: MIC Communications Usage Trend Survey 2023 and 2014; " + note.removeprefix("Source: ")
    fig.text(0.01, -0.08, lit_note, fontsize=7)
    figs.append(Figure("literacy_by_age", fig, "Mean literacy score by age band and sex. " + lit_note))
    return figs


def _tables(nation: Nation, c: dict[str, Any]) -> list[Section]:
    snap, m = nation.snapshot, nation.municipalities
    err = _pct_error(c["pref"], snap.prefecture_population)
    pref_rows = [
        [f"{i + 1:02d} {snap.prefecture_name[i]}", float(c["pref"][i]), int(snap.prefecture_population[i]),
         float(err[i])]
        for i in range(47)
    ]
    fmt = {"synthetic": "{:,.0f}", "official": "{:,}", "error %": "{:+.2f}"}
    type_rows = []
    for ty in MUNICIPALITY_TYPES:
        (pop, cards), (opop, _) = c["types"][ty], c["types_official"][ty]
        orate = _official_type_rate(nation, ty)
        type_rows.append([ty, int((m.type == ty).sum()), pop, opop, float(_pct_error(pop, opop)),
                          cards / pop * 100, orate * 100])  # fmt: skip
    band_rows = [
        [AGE_BANDS[b], SEXES[s], float(c["band_pop"][b, s]), int(snap.band_population[b, s]),
         float(_pct_error(c["band_pop"][b, s], snap.band_population[b, s])),
         c["band_rate"][b, s] * 100, nation.holding.band_rate[b, s] * 100]
        for b in range(len(AGE_BANDS)) for s in (0, 1)
    ]  # fmt: skip
    size_rows = [[SIZE_LABELS[i], c["sizes"][i] * 100, c["sizes_target"][i] * 100, c["sizes_2010"][i] * 100]
                 for i in range(5)]  # fmt: skip
    size_rows.append(["persons per household", c["persons_per_household"], CENSUS_PERSONS_PER_HOUSEHOLD, None])
    pf = {"% synthetic": "{:.2f}", "% official": "{:.2f}", "error %": "{:+.2f}"}
    return [
        Section("Population by prefecture", [Table(
            "Residents by prefecture (47)", ["prefecture", "synthetic", "official", "error %"], pref_rows,
            note=f"Official: resident register on {snap.population_date.isoformat()} (MIC release {snap.name}).",
            formats=fmt)]),
        Section("Municipality types", [Table(
            "Residents and card holding by municipality type",
            ["type", "municipalities", "synthetic", "official", "error %", "% synthetic", "% official"], type_rows,
            note="Types derived from codes and names and checked against summary_by_types.csv. "
                 + " ".join(m.notes), formats={**fmt, **pf})]),
        Section("Ages", [Table(
            "Residents and card holding by age band and sex",
            ["age band", "sex", "synthetic", "official", "error %", "% synthetic", "% official"], band_rows,
            formats={**fmt, **pf})]),
        Section("Households", [Table(
            "Household sizes (% of households)", ["size", "synthetic", "census 2020 target", "census 2010 shape"],
            size_rows, note="Target: 38.0 % one-person and 2.21 persons per household (census 2020); 2..5+ in the "
            "census-2010 shape tilted to that mean.", formats={"synthetic": "{:.2f}", "census 2020 target": "{:.2f}",
                                                               "census 2010 shape": "{:.1f}"})]),
    ]  # fmt: skip


def run(ctx: RunContext) -> ModelResult:
    spec = ctx.scenario.spec
    p: Params = ctx.options[0].params  # type: ignore[assignment]
    with ctx.progress("Building the synthetic nation", 1.0) as advance:
        nation = build_nation(
            ctx.scale,
            ctx.rng("population"),
            snapshot=spec.population.statistics,
            card_date=spec.population.card_date,
            progress=advance,
            account_share=p.account_share,
            literacy_concentration=p.literacy_concentration,
        )
    c = compare(nation)
    mx = Metrics()
    add_metrics(mx, nation, c)
    err = _pct_error(c["pref"], nation.snapshot.prefecture_population)
    h = nation.households
    summary = {
        "scale": ctx.scale,
        "scale_text": scale_text(ctx.scale),
        "seed": ctx.seed,
        "snapshot": nation.snapshot.name,
        "card_date": nation.card_date.isoformat(),
        "rows": {"residents": len(nation), "households": len(h)},
        "residents": len(nation) * nation.weight,
        "residents_official": int(nation.municipalities.population.sum()),
        "households": len(h) * nation.weight,
        "persons_per_household": c["persons_per_household"],
        "one_person_share": float((h.size == 1).mean()),
        "holding_rate": c["rate"],
        "holding_rate_official": c["official_rate"],
        "account_share_of_holders": c["account_rate"],
        "max_abs_pct_error_prefecture": float(np.abs(err).max()),
    }
    head = Paragraph(
        f"{summary['residents']:,.0f} residents in {summary['households']:,.0f} households "
        f"({len(nation):,} rows at {scale_text(ctx.scale)}); official {summary['residents_official']:,}. "
        f"Persons per household {c['persons_per_household']:.3f} (census 2.21), one-person "
        f"{summary['one_person_share']:.1%} (census 38.0 %). Card holding on {nation.card_date.isoformat()}: "
        f"{c['rate']:.2%} synthetic vs {c['official_rate']:.2%} official ({nation.holding.method}). "
        f"Largest prefecture error {summary['max_abs_pct_error_prefecture']:.2f} %."
    )
    sections = [Section("Headline", [head, *_figures(nation, c, ctx.scale)]), *_tables(nation, c)]
    assumptions = [
        Assumption("persons per household", "2.21", "census 2020"),
        Assumption("one-person households", "38.0 %", "census 2020"),
        Assumption("household sizes 2..5+", "census 2010 shape, tilted to the 2.21 mean", None),
        *[Assumption(k, v, None) for k, v in ASSUMPTIONS],
        Assumption("card holding", f"logistic in municipality + age band x sex, raked to both published margins; "
                   f"{nation.holding.method}", "MIC card-issuance releases"),  # fmt: skip
        Assumption("cards issued = cards held", "returned and expired cards are not subtracted", None),
        Assumption("account share of holders", f"{nation.account_share:.1%} on {nation.card_date.isoformat()}",
                   "limo 2023-05 (60.4 % of holders); linear from 0 on 2022-03-28 (assumed)"),  # fmt: skip
        Assumption("literacy spread", f"Beta, concentration {p.literacy_concentration:g}", None),
        Assumption("literacy under 13", "0.05 (0-5), 0.60 (6-12)", None),
    ]
    return ModelResult(mx, summary, sections, sources=SOURCES, assumptions=assumptions)


__all__ = ["Params", "compare", "run"]
