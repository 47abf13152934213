"""What the rollout run shows: how many hold a card and when, where the chain backs up, what points cost.

The report puts the twin beside MIC's published counts (national, by prefecture, by age band),
shows the backlog and waiting days at each stage of the chain, and compares the options side by
side: cards in hand, holding rate, points budget and the cost per *additional* card (points paid
divided by the cards the points brought forward, against the same run without points).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.metrics import Metrics
from twin.models.rollout.chain import COUNTER_CLASSES
from twin.models.rollout.observed import AGE_BANDS, MUNICIPALITY_TYPES, Observed
from twin.models.rollout.params import SOURCED, Params
from twin.models.rollout.simulate import SERIES, RolloutResult
from twin.report import Assumption, Figure, Paragraph, Section, Table
from twin.report.html import scale_text

SOURCES = [
    "MIC 「マイナンバーカード交付状況について」 2017-03 .. 2021-12 (municipality, prefecture, type, age band), "
    "via Code for Japan (MIT)",
    "MIC 通信利用動向調査 2014 and 2023 (internet use by age)",
    "My Number Points, Special Cash Payments, J-LIS production: facts in twin/data/FIGURES.md",
]


@dataclass
class OptionOutcome:
    """One option: its replications and the points economics against its no-points counterfactual."""

    name: str
    params: Params
    runs: list[RolloutResult]
    no_points: RolloutResult | None


def points_budget(p: Params, r: RolloutResult) -> dict[str, float]:
    """Yen of points paid per phase: take-up x holders at the phase's last deadline (or the end) x points."""
    out = {"phase1": 0.0, "phase2": 0.0}
    if not p.points.enabled:
        return out
    holders = r.daily["holders"]
    for name in out:
        ph = getattr(p.points, name)
        if not ph.enabled or ph.start > r.day0 + dt.timedelta(days=r.n_days - 1):
            continue
        k = min(r.n_days - 1, (ph.deadlines[-1].date - r.day0).days)
        out[name] = ph.take_up * holders[k] / r.scale * ph.points
    return out


def headline(o: OptionOutcome) -> dict[str, Any]:
    ends = np.array([r.daily["holders"][-1] / r.scale for r in o.runs])
    pop = o.runs[0].totals["population"] / o.runs[0].scale
    budget = [sum(points_budget(o.params, r).values()) for r in o.runs]
    extra = (
        float(np.mean(ends) - o.no_points.daily["holders"][-1] / o.no_points.scale) if o.no_points is not None else 0.0
    )
    counter_wait = [float(np.nanmax(_rolling(r.daily["wait_counter_days"], 30))) for r in o.runs]
    backlog = [
        float(
            max(
                r.daily[f"backlog_{k}"].max()
                for k in ("checking_and_production", "awaiting_appointment", "counter_handover")
            )
        )
        / r.scale  # fmt: skip
        for r in o.runs
    ]
    return {
        "holders_end": float(ends.mean()),
        "holders_end_min": float(ends.min()),
        "holders_end_max": float(ends.max()),
        "holding_rate_end": float(ends.mean() / pop),
        "applications": float(np.mean([r.totals["applied"] / r.scale for r in o.runs])),
        "points_budget_yen": float(np.mean(budget)),
        "additional_cards_from_points": extra,
        "cost_per_additional_card_yen": float(np.mean(budget) / extra) if extra > 0 else float("nan"),
        "peak_stage_backlog": float(np.mean(backlog)),
        "max_counter_wait_days_30d": float(np.mean(counter_wait)),
        "replications": len(o.runs),
    }


def _rolling(x: np.ndarray, w: int) -> np.ndarray:
    """Centred ``w``-day mean that skips days without a value (closed days have no waits)."""
    k = np.ones(w)
    total = np.convolve(np.nan_to_num(x), k, mode="same")
    count = np.convolve((~np.isnan(x)).astype(float), k, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _dates(r: RolloutResult) -> np.ndarray:
    return np.datetime64(r.day0, "D") + np.arange(r.n_days)


def fit_table(r: RolloutResult, obs: Observed) -> tuple[list[list[Any]], float]:
    """Error of the national cumulative at each observed release inside the run."""
    rows = []
    rel = []
    for i, d in enumerate(obs.dates):
        k = (d - r.day0).days
        if not 0 <= k < r.n_days:
            continue
        sim = r.daily["issued_cumulative"][k] / r.scale  # MIC counts cards issued, dead holders' included
        o = obs.national[i]
        rows.append([d.isoformat(), o, sim, sim - o, 100 * (sim - o) / o])
        rel.append((sim - o) / o)
    return rows, float(np.sqrt(np.mean(np.square(rel)))) if rel else float("nan")


def add_metrics(m: Metrics, o: OptionOutcome, obs: Observed) -> None:
    r0 = o.runs[0]
    days = _dates(r0)
    up = 1.0 / r0.scale
    for key in SERIES:
        vals = np.mean([r.daily[key] for r in o.runs], axis=0)
        m.add_series(key, days, vals if key.startswith("wait_") else vals * up, option=o.name)
    for rep, r in enumerate(o.runs):
        m.add_series("holders_replication", days, r.daily["holders"] * up, option=o.name, replication=rep)
    type_pop = np.bincount(obs.muni_type, weights=_muni_pop(r0), minlength=4)
    for t, name in enumerate(MUNICIPALITY_TYPES):
        rate = np.mean([r.holders_by_type[:, t] for r in o.runs], axis=0) / max(type_pop[t], 1)
        m.add_series("holding_rate", days, rate, option=o.name, type=name)
    for i, k in enumerate(r0.record_days):
        t = r0.day0 + dt.timedelta(days=k)
        muni = np.mean([r.holders_muni[i] for r in o.runs], axis=0)
        pref = obs.by_prefecture(muni) / np.maximum(obs.by_prefecture(_muni_pop(r0)), 1)
        m.add_table("holding_rate_prefecture", {"prefecture": [f"{p + 1:02d}" for p in range(47)]}, pref,
                    option=o.name, time=t)  # fmt: skip
        band = np.mean([r.issued_mix[i] for r in o.runs], axis=0).sum(axis=1)  # as MIC's age table counts
        m.add_table("holders_age_band", {"band": list(AGE_BANDS)}, band * up, option=o.name, time=t)
    h = headline(o)
    for k, v in h.items():
        m.add(k, v, option=o.name)


def _muni_pop(r: RolloutResult) -> np.ndarray:
    return r.muni_population


def figures(outcomes: list[OptionOutcome], obs: Observed, foot: str) -> list[Figure]:
    import matplotlib.pyplot as plt

    figs: list[Figure] = []
    fig, ax = plt.subplots(figsize=(9, 4.6))
    for o in outcomes:
        x = _dates(o.runs[0]).astype("datetime64[D]").astype(object)
        hs = np.array([r.daily["issued_cumulative"] / r.scale for r in o.runs]) / 1e6
        (line,) = ax.plot(x, hs.mean(axis=0), lw=2, label=o.name)
        if len(o.runs) > 1:
            ax.fill_between(x, hs.min(axis=0), hs.max(axis=0), color=line.get_color(), alpha=0.25)
    ax.scatter(list(obs.dates), obs.national / 1e6, color="k", s=14, zorder=3, label="MIC: cards issued")
    ax.set_ylabel("million cards issued")
    ax.set_title("Cards issued (dead holders' included, as MIC counts): twin vs MIC releases")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.01, -0.02, foot, fontsize=8, color="#555")
    fig.autofmt_xdate()
    figs.append(Figure("holders_national", fig, "Cumulative cards handed over; bands span the replications."))

    o = outcomes[0]
    r = o.runs[0]
    last = [i for i, d in enumerate(obs.dates) if 0 <= (d - r.day0).days < r.n_days]
    if last:
        i_obs = last[-1]
        k = (obs.dates[i_obs] - r.day0).days
        i_rec = r.record_days.index(k) if k in r.record_days else len(r.record_days) - 1
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
        sim_band = r.issued_mix[i_rec].sum(axis=1) / r.scale
        obs_band = obs.band_cards[i_obs].sum(axis=1)
        pop_band = obs.band_population[i_obs].sum(axis=1)
        axes[0].plot(range(len(AGE_BANDS)), 100 * sim_band / pop_band, "o-", label="twin")
        axes[0].plot(range(len(AGE_BANDS)), 100 * obs_band / pop_band, "s--", color="k", label="MIC")
        axes[0].set_xticks(range(len(AGE_BANDS)), AGE_BANDS, rotation=60, fontsize=7)
        axes[0].set_ylabel("% holding")
        axes[0].set_title(f"By age band, {obs.dates[i_obs]}")
        axes[0].legend()
        sim_p = obs.by_prefecture(r.issued_muni[i_rec] / r.scale)
        pop_p = obs.by_prefecture(obs.muni_population[i_obs])
        obs_p = obs.by_prefecture(obs.muni_cards[i_obs])
        axes[1].scatter(100 * obs_p / pop_p, 100 * sim_p / pop_p, s=12)
        lim = [0, max(100 * obs_p.max() / pop_p.min(), 1)]
        axes[1].plot([0, 100], [0, 100], color="#999", lw=1)
        axes[1].set_xlim(0, 100 * max(obs_p / pop_p) * 1.2)
        axes[1].set_ylim(0, 100 * max(max(sim_p / pop_p), max(obs_p / pop_p)) * 1.2)
        del lim
        axes[1].set_xlabel("MIC % holding")
        axes[1].set_ylabel("twin % holding")
        axes[1].set_title("47 prefectures")
        fig.text(0.01, -0.04, foot, fontsize=8, color="#555")
        figs.append(Figure("fit_age_prefecture", fig, "Twin vs observed holding rate by age band and by prefecture."))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    x = _dates(r).astype("datetime64[D]").astype(object)
    for key in (
        "checking_and_production",
        "in_transit",
        "awaiting_appointment",
        *(f"counter_{c}" for c in COUNTER_CLASSES),
    ):
        axes[0].plot(x, r.daily[f"backlog_{key}"] / r.scale / 1e6, label=key.replace("_", " "))
    axes[0].set_ylabel("million waiting")
    axes[0].set_title(f"Backlog at each stage ({o.name})")
    axes[0].legend(fontsize=7)
    axes[1].plot(x, _rolling(r.daily["wait_production_days"], 14), label="J-LIS production")
    axes[1].plot(x, _rolling(r.daily["wait_counter_days"], 14), label="town-hall counter")
    axes[1].plot(x, _rolling(r.daily["wait_counter_days_big_cities"], 14), label="counter, special wards and "
                 "designated cities")  # fmt: skip
    axes[1].set_ylabel("days waited (14-day mean)")
    axes[1].set_title("Waiting days")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.text(0.01, -0.06, foot, fontsize=8, color="#555")
    figs.append(Figure("backlog_waits", fig, "Where applications wait: backlog by stage and days waited."))
    return figs


def monthly(o: OptionOutcome, year: int) -> list[dict[str, float]]:
    """Month by month in ``year`` (mean over replications): applications and cards issued in the month,
    cards held, the applied-but-not-issued backlog and the waits at month end."""
    r0 = o.runs[0]
    days = [r0.day0 + dt.timedelta(days=k) for k in range(r0.n_days)]
    out = []
    for month in range(1, 13):
        ks = [k for k, d in enumerate(days) if d.year == year and d.month == month]
        if not ks:
            continue
        a, b = ks[0], ks[-1]

        def mean(key: str, how: str, a: int = a, b: int = b) -> float:
            vals = []
            for r in o.runs:
                x = r.daily[key]
                if how == "sum":
                    vals.append(float(x[a : b + 1].sum()) / r.scale)
                elif how == "end":
                    vals.append(float(x[b]) / r.scale)
                else:
                    vals.append(float(np.nanmean(x[a : b + 1])) if np.isfinite(x[a : b + 1]).any() else np.nan)
            return float(np.mean(vals))

        out.append({"month": f"{year}-{month:02d}", "applications": mean("applications", "sum"),
                    "issued": mean("issued", "sum"), "held": mean("holders", "end"),
                    "backlog_applied_not_issued": mean("backlog_applied_not_issued", "end"),
                    "production_capacity": mean("production_capacity", "sum"),
                    "wait_counter_days_big_cities": mean("wait_counter_days_big_cities", "mean"),
                    "wait_counter_days": mean("wait_counter_days", "mean")})  # fmt: skip
    return out


def policy_rows(outcomes: list[OptionOutcome]) -> list[list[Any]]:
    rows = []
    for o in outcomes:
        pol = o.params.policy
        cost = sum(e.cost_yen for e in o.params.production.expansions)
        rows.append([o.name, pol.known_on.isoformat() if pol.known_on else "", "; ".join(pol.assumes), cost / 1e8])
    return rows


def sections(outcomes: list[OptionOutcome], obs: Observed, scale: float, seed: int) -> tuple[list[Section], dict]:
    heads = {o.name: headline(o) for o in outcomes}
    rows = []
    for name, h in heads.items():
        rows.append([name, h["holders_end"] / 1e6, f"{h['holders_end_min'] / 1e6:.2f}-{h['holders_end_max'] / 1e6:.2f}",
                     100 * h["holding_rate_end"], h["points_budget_yen"] / 1e8, h["additional_cards_from_points"] / 1e6,
                     h["cost_per_additional_card_yen"], h["peak_stage_backlog"] / 1e6,
                     h["max_counter_wait_days_30d"]])  # fmt: skip
    table = Table(
        "Options side by side (end of the simulated period)",
        [
            "option",
            "cards in hand (M)",
            "range over replications (M)",
            "holding %",
            "points budget (億円)",
            "cards added by points (M)",
            "yen per additional card",
            "peak stage backlog (M)",
            "max counter wait (days, 30-day mean)",
        ],  # fmt: skip
        rows,
        formats={
            "cards in hand (M)": "{:.2f}",
            "holding %": "{:.1f}",
            "points budget (億円)": "{:,.0f}",
            "cards added by points (M)": "{:.2f}",
            "yen per additional card": "{:,.0f}",
            "peak stage backlog (M)": "{:.2f}",
            "max counter wait (days, 30-day mean)": "{:.1f}",
        },  # fmt: skip
        note=f"National totals scaled back from the {scale_text(scale)} population; "
        f"{outcomes[0].runs.__len__()} replication(s) per option; cost per additional card against the same "
        "option without points (expected values).",
    )
    fit_rows, rms = fit_table(outcomes[0].runs[0], obs)
    fit = Table(
        f"Fit: national cumulative cards vs MIC ({outcomes[0].name}, replication 0); "
        f"RMS relative error {100 * rms:.1f} %",
        ["release", "MIC cards", "twin cards", "error", "error %"],
        fit_rows,
        formats={"MIC cards": "{:,.0f}", "twin cards": "{:,.0f}", "error": "{:+,.0f}", "error %": "{:+.1f}"},
    )
    foot = f"Myna Twin, scale {scale_text(scale).split(' (')[0]}, seed {seed}. Sources: MIC releases, FIGURES.md."
    figs = figures(outcomes, obs, foot)
    intro = Paragraph(
        "Every resident without a card decides each day whether to apply; the hazard depends on age, sex, "
        "digital literacy, municipality type, the levers active that day (mailed forms, insurance leaflets, "
        "My Number Points, the 2020 payout, support desks) and the share of card holders around them. "
        "Applications then pass J-LIS production, shipment and the town hall's handover counter."
    )
    out = [
        Section("The answer", [intro, table, figs[0]]),
        Section("Options as policy", [Table("What each option assumes and when it was known",
                                            ["option", "known on", "assumes", "added production cost (億円)"],
                                            policy_rows(outcomes),
                                            formats={"added production cost (億円)": "{:,.0f}"})]),
    ]  # fmt: skip
    r_end = outcomes[0].runs[0].day0 + dt.timedelta(days=outcomes[0].runs[0].n_days - 1)
    forecast: dict[str, Any] = {}
    if r_end >= dt.date(2022, 12, 31):
        o = outcomes[0]
        rows_m = monthly(o, 2022)
        forecast = {"option": o.name, "assumes": list(o.params.policy.assumes), "months": rows_m}
        out.append(Section(f"2022 forecast: {o.name}", [
            Paragraph("Assumptions: " + " ".join(f"({i + 1}) {a}." for i, a in enumerate(o.params.policy.assumes))
                      + f" Known on {o.params.policy.known_on}. Fitted to MIC releases up to 2021-12 only; the 2022 "
                      "releases are held out and not bundled."),
            Table(f"Month by month, 2022 ({o.name}, mean of {len(o.runs)} replication(s))",
                  ["month", "applications", "issued", "held (end)", "applied, not issued (end)",
                   "production capacity", "counter wait, big cities (days)", "counter wait, all (days)"],
                  [[m["month"], m["applications"], m["issued"], m["held"], m["backlog_applied_not_issued"],
                    m["production_capacity"], m["wait_counter_days_big_cities"], m["wait_counter_days"]]
                   for m in rows_m],
                  formats={"applications": "{:,.0f}", "issued": "{:,.0f}", "held (end)": "{:,.0f}",
                           "applied, not issued (end)": "{:,.0f}", "production capacity": "{:,.0f}",
                           "counter wait, big cities (days)": "{:.1f}", "counter wait, all (days)": "{:.1f}"}),
        ]))  # fmt: skip
    out += [
        Section("Fit to the published counts", [fit, *figs[1:-1]]),
        Section("Where applications wait", [figs[-1]]),
    ]
    summary: dict[str, Any] = {"options": heads, "fit_rms_relative_error": rms}
    if forecast:
        summary["forecast_2022"] = forecast
    return out, summary


def assumptions(params: Params) -> list[Assumption]:
    from twin.models.rollout.channels import ASSUMED_RANGES
    from twin.report.assumptions import assumptions as shared_assumptions

    out = shared_assumptions(params, SOURCED)
    if not params.channels.any:  # the channels' parameters matter only when one is played
        out = [a for a in out if not a.name.startswith("channels.")]
    out = [Assumption(a.name, f"{a.value} (assumed range {ASSUMED_RANGES[a.name]})", a.source)
           if a.name in ASSUMED_RANGES and a.source is None else a for a in out]
    out.append(Assumption("cells", "each municipality has the national age-sex structure (no municipal age "
                          "tables in the releases)", None))  # fmt: skip
    return out
