"""What the payout comparison shows a policymaker: how fast each design gets money to households,
where the time goes, and what it costs the town halls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from pydantic import BaseModel

from twin.metrics import Metrics
from twin.models.payout.aggregate import JOB_CLASSES, AggregateResult
from twin.models.payout.behaviour import ROUTES
from twin.models.payout.params import MUNICIPALITY_TYPES, SOURCED
from twin.report import Assumption, Figure, Paragraph, Section, Table
from twin.report.assumptions import assumptions as shared_assumptions
from twin.report.html import scale_text

TYPE_LABELS = {
    "special_ward": "Tokyo special wards",
    "designated_city": "designated cities",
    "city": "other cities",
    "town_village": "towns and villages",
}
#: 2020 online applications, cumulative (Diet record; kancho-t; Asahi)
ONLINE_2020 = [(dt.date(2020, 5, 7), 513_491), (dt.date(2020, 5, 13), 1_440_000), (dt.date(2020, 5, 24), 1_940_000)]
SOURCES = [
    "MIC 「マイナンバーカード交付状況について」 (population by municipality, card holding), via Code for Japan (MIT)",
    "Census 2020 households (Statistics Bureau)",
    "2020 Special Cash Payments: MIC design; Diet record 2020-05-21; Nikkei xTECH; Japan Times 2020-05-21; "
    "Tokyo Shimbun; Jiji (facts in twin/data/FIGURES.md)",
]


def days_to_share(cum_share: np.ndarray, share: float) -> float:
    """First day on which the cumulative share reaches ``share`` (nan if never within the horizon)."""
    hit = np.flatnonzero(cum_share >= share - 1e-12)
    return float(hit[0]) if len(hit) else float("nan")


#: per option, in order: (line style, marker, colour, width); the first option (the 2020 baseline) is a thick
#: solid line; the later ones are thinner, dashed or dotted, with their own markers, drawn on top of it
_STYLES = (("-", "o", "#1f3b73", 3.2), ("--", "s", "#d1495b", 1.8), (":", "^", "#2a9d8f", 2.2),
           ("-.", "D", "#e9a03b", 1.8), ((0, (5, 1, 1, 1)), "v", "#6c4f9c", 1.8))  # fmt: skip


def option_style(i: int, points: int) -> dict[str, Any]:
    """Line style of the i-th option: never two alike (for up to five), markers every ~12th point, so a
    curve lying exactly on another (automated matching on the baseline) is still seen and told apart."""
    ls, marker, colour, lw = _STYLES[i % len(_STYLES)]
    return {"linestyle": ls, "marker": marker, "color": colour, "lw": lw, "markersize": 5,
            "markevery": (i * 3 % 12, max(1, points // 10)), "zorder": 2 + i}  # fmt: skip


def headline(r: AggregateResult, scale: float, amount: int, start_offset: int, day0: dt.date) -> dict[str, Any]:
    """Headline numbers of one option (national totals, scaled back by 1/scale)."""
    up = 1.0 / scale
    ent = r.entitled_households.sum()
    cum = r.paid_households.sum(axis=0).cumsum() / ent
    money = r.paid_persons.sum(axis=0).cumsum() / r.entitled_persons.sum()
    rel = cum[start_offset:]  # days counted from the programme start
    rel_money = money[start_offset:]

    def date_of(days: float) -> str | None:
        return None if np.isnan(days) else (day0 + dt.timedelta(days=int(days) + start_offset)).isoformat()
    served = r.served.sum(axis=1)
    arrivals_first = r.arrivals[0].sum() + r.arrivals[1].sum()
    wait = r.waiting_days
    mean_wait = float((wait * np.arange(len(wait))).sum() / wait.sum()) if wait.sum() else 0.0
    return {
        "entitled_households": ent * up,
        "paid_households": r.paid_households.sum() * up,
        "paid_share": float(cum[-1]),
        "paid_share_day_30": float(rel[min(30, len(rel) - 1)]),
        "paid_share_day_60": float(rel[min(60, len(rel) - 1)]),
        "days_to_10pct": days_to_share(rel, 0.10),
        "days_to_50pct": days_to_share(rel, 0.50),
        "days_to_90pct": days_to_share(rel, 0.90),
        "days_to_99pct": days_to_share(rel, 0.99),
        "date_99pct_households": date_of(days_to_share(rel, 0.99)),
        "budget_share_paid": float(money[-1]),
        "budget_days_to_50pct": days_to_share(rel_money, 0.50),
        "budget_days_to_90pct": days_to_share(rel_money, 0.90),
        "budget_days_to_99pct": days_to_share(rel_money, 0.99),
        "date_99pct_budget": date_of(days_to_share(rel_money, 0.99)),
        "money_paid_yen": r.paid_persons.sum() * up * amount,
        "applications_mail": r.arrivals[0].sum() * up,
        "applications_online": r.arrivals[1].sum() * up,
        "paid_by_push": r.paid_by_route[3].sum() * up,
        "duplicates_caught": served[2] * up,
        "forms_returned_for_correction": r.errors_returned.sum() * up,
        "bank_transfers_returned": r.bank_rejected.sum() * up,
        "never_applied": r.extra.get("never_applied", 0.0) * up,
        "staff_hours": r.staff_minutes.sum() / 60 * up,
        "staff_hours_per_1000_households": r.staff_minutes.sum() / 60 / max(ent, 1) * 1000,
        "mean_wait_at_town_hall_days": mean_wait,
        "peak_backlog_jobs": float(r.backlog.sum(axis=0).max()) * up,
        "applications_per_household": float(arrivals_first / max(ent, 1)),
    }


def add_metrics(m: Metrics, option: str, r: AggregateResult, day0: dt.date, scale: float, codes: np.ndarray,
                amount: int = 100_000) -> None:  # fmt: skip
    up = 1.0 / scale
    days = np.array([np.datetime64(day0) + np.timedelta64(d, "D") for d in range(r.horizon)])
    for t, name in enumerate(MUNICIPALITY_TYPES):
        m.add_series("paid_households", days, r.paid_households[t] * up, option=option, type=name)
        m.add_series(
            "paid_share_cumulative",
            days,
            r.paid_households[t].cumsum() / max(r.entitled_households[t], 1),
            option=option,
            type=name,
        )
    m.add_series(
        "paid_share_cumulative", days, r.paid_households.sum(axis=0).cumsum() / r.entitled_households.sum(),
        option=option, type="national",
    )  # fmt: skip
    # money and households are separate metrics: budget share weights households by their members
    m.add_series("households_paid_share", days, r.paid_households.sum(axis=0).cumsum() / r.entitled_households.sum(),
                 option=option)  # fmt: skip
    m.add_series("budget_paid_share", days, r.paid_persons.sum(axis=0).cumsum() / r.entitled_persons.sum(),
                 option=option)  # fmt: skip
    m.add_series("money_paid_yen", days, r.paid_persons.sum(axis=0) * up * amount, option=option)
    for c, name in enumerate(JOB_CLASSES):
        m.add_series("town_hall_arrivals", days, r.arrivals[c] * up, option=option, job=name)
        m.add_series("town_hall_served", days, r.served[c] * up, option=option, job=name)
    for k, name in enumerate(ROUTES):
        if r.paid_by_route[k].any():
            m.add_series("paid_households_by_route", days, r.paid_by_route[k] * up, option=option, route=name)
    m.add_series("town_hall_backlog", days, r.backlog.sum(axis=0) * up, option=option)
    m.add_series("forms_returned", days, r.errors_returned * up, option=option)
    m.add_table("staff_hours", {"municipality": codes}, r.staff_minutes / 60 * up, option=option)
    m.add_table("peak_backlog_jobs", {"municipality": codes}, r.backlog.max(axis=1) * up, option=option)


def assumptions(
    params: BaseModel, options: list[tuple[str, BaseModel]], fitted: dict[str, float] | None = None
) -> list[Assumption]:
    """Every parameter of the baseline, sourced, fitted or assumed, plus what each option changes."""
    sourced = dict(SOURCED)
    for path in fitted or {}:
        sourced[path] = "fitted by `twin calibrate scenarios/payout_2020.yaml` to the training figures of " \
                        "twin/data/PAYOUT_2020.md (up to 2020-06-19)"
    return shared_assumptions(params, sourced, options)


def record_check(r: AggregateResult, codes: np.ndarray, day0: dt.date) -> list[dict[str, Any]]:
    """Every training figure of 2020 next to the twin's value (shares in %, town halls as counts)."""
    from twin.models.payout.targets import TRAINING, twin_values

    figs = list(TRAINING)
    vals = twin_values(r, codes, day0, figs)
    out = []
    for f, v in zip(figs, vals, strict=True):
        k = 1.0 if f.family == "municipalities_paying" else 100.0
        out.append({"family": f.family, "figure": f.name, "date": f.date.isoformat(), "record": f.value * k,
                    "twin": float(v) * k, "error": float(v - f.value) * k, "source": f.source})  # fmt: skip
    return out


def record_figure(r: AggregateResult, day0: dt.date, scale: float, seed: int, fitted_until: dt.date | None) -> Figure:
    """The whole 2020 curve (budget and households) with the training points marked."""
    import matplotlib.pyplot as plt

    from twin.models.payout.targets import TRAINING

    x = [day0 + dt.timedelta(days=d) for d in range(r.horizon)]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    ax.plot(x, 100 * r.paid_persons.sum(axis=0).cumsum() / r.entitled_persons.sum(), lw=2,
            label="twin: share of the budget paid (persons x 100,000 yen)")  # fmt: skip
    ax.plot(x, 100 * r.paid_households.sum(axis=0).cumsum() / r.entitled_households.sum(), lw=1.5, ls="--",
            label="twin: share of households paid")  # fmt: skip
    for fam, marker, label in (("budget_share", "o", "record, budget share"),
                               ("households_share", "s", "record, households share")):  # fmt: skip
        pts = [f for f in TRAINING if f.family == fam]
        train = [f for f in pts if fitted_until is None or f.date <= fitted_until]
        ax.scatter([f.date for f in train], [100 * f.value for f in train], marker=marker, color="k", zorder=3,
                   label=f"{label} (training: fitted)")  # fmt: skip
        rest = [f for f in pts if f not in train]
        if rest:
            ax.scatter([f.date for f in rest], [100 * f.value for f in rest], marker=marker, facecolor="none",
                       edgecolor="k", zorder=3, label=f"{label} (not fitted)")  # fmt: skip
    final = [f for f in TRAINING if f.family == "final"]
    ax.scatter([f.date for f in final], [100 * f.value for f in final], marker="^", color="k", zorder=3,
               label="record, final 2021-03-31 (training)")  # fmt: skip
    ax.set_ylabel("% paid")
    ax.set_ylim(0, 101)
    ax.set_title("The 2020 payout: twin baseline, the whole run, with the training figures")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.text(0.01, -0.02, f"Myna Twin, scale {scale_text(scale).split(' (')[0]}, seed {seed}. "
             "Record: twin/data/PAYOUT_2020.md.", fontsize=8, color="#555")  # fmt: skip
    fig.autofmt_xdate()
    return Figure("record_2020", fig, "Share of the budget and of households paid, by day, against the 2020 "
                  "training figures (filled: used in the fit). National figures after 2020-06-19 are held out "
                  "and not shown.")  # fmt: skip


def figures(
    results: dict[str, AggregateResult], day0: dt.date, start_offset: int, scale: float, seed: int
) -> list[Figure]:
    import matplotlib.pyplot as plt

    foot = f"Myna Twin, scale {scale_text(scale).split(' (')[0]}, seed {seed}. Sources: MIC, census 2020."
    x = [day0 + dt.timedelta(days=d) for d in range(next(iter(results.values())).horizon)]
    figs = []

    fig, ax = plt.subplots(figsize=(9, 4.6))
    for i, (name, r) in enumerate(results.items()):  # curves that coincide stay visible: own style and marker
        ax.plot(x, 100 * r.paid_households.sum(axis=0).cumsum() / r.entitled_households.sum(), label=name,
                **option_style(i, len(x)))  # fmt: skip
    ax.set_title("Households with the money in their account")
    ax.set_ylabel("% of entitled households")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.text(0.01, -0.02, foot, fontsize=8, color="#555")
    fig.autofmt_xdate()
    figs.append(Figure("paid_share", fig, "Share of entitled households paid, by day, for each design."))

    n = len(results)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n + 1, 3.8), sharey=True, squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items(), strict=True):
        for t, tname in enumerate(MUNICIPALITY_TYPES):
            ent = max(r.entitled_households[t], 1)
            ax.plot(x, 100 * r.paid_households[t].cumsum() / ent, label=TYPE_LABELS[tname])
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    axes[0][0].set_ylabel("% of households paid")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Paid share by municipality type")
    fig.text(0.01, -0.06, foot, fontsize=8, color="#555")
    figs.append(Figure("paid_share_by_type", fig, "Big cities mailed their forms last and had the longest queues."))

    fig, ax = plt.subplots(figsize=(9, 4.2))
    for i, (name, r) in enumerate(results.items()):
        ax.plot(x, r.backlog.sum(axis=0) / scale / 1e6, label=name, **option_style(i, len(x)))
    ax.set_title("Applications waiting at town halls (national)")
    ax.set_ylabel("million applications")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.text(0.01, -0.02, foot, fontsize=8, color="#555")
    fig.autofmt_xdate()
    figs.append(Figure("backlog", fig, "Town-hall verification backlog, end of each day (national totals)."))

    if "baseline_2020" in results or len(results) == 1:
        r = results.get("baseline_2020", next(iter(results.values())))
        fig, ax = plt.subplots(figsize=(9, 4.2))
        ax.plot(x, r.arrivals[1].cumsum() / scale / 1e6, lw=2, label="twin: online applications (cumulative)")
        ax.scatter([d for d, _ in ONLINE_2020], [v / 1e6 for _, v in ONLINE_2020], color="k", zorder=3,
                   label="2020 record (Diet, press)")  # fmt: skip
        ax.set_xlim(x[0], x[min(len(x) - 1, start_offset + 45)])
        ax.set_ylabel("million applications")
        ax.set_title("Online applications in May 2020: twin vs record")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.text(0.01, -0.02, foot, fontsize=8, color="#555")
        fig.autofmt_xdate()
        figs.append(
            Figure(
                "online_2020", fig, "Calibration check of the 2020 baseline against the recorded online applications."
            )
        )
    return figs


def sections(
    results: dict[str, AggregateResult],
    heads: dict[str, dict[str, Any]],
    day0: dt.date,
    start_offset: int,
    scale: float,
    seed: int,
    fidelity: str,
    ledger_counts: dict[str, dict[str, int]] | None = None,
    codes: np.ndarray | None = None,
    params: Any = None,
    fitted: dict[str, float] | None = None,
    fit_doc: dict[str, Any] | None = None,
) -> list[Section]:
    rows = []
    for name, h in heads.items():
        rows.append(
            [
                name,
                100 * h["paid_share_day_30"],
                100 * h["paid_share_day_60"],
                h["days_to_50pct"],
                h["days_to_90pct"],
                h["mean_wait_at_town_hall_days"],
                h["applications_online"],
                h["duplicates_caught"],
                h["forms_returned_for_correction"],
                h["staff_hours"],
                h["money_paid_yen"] / 1e12,
            ]
        )
    table = Table(
        "Headline: how fast each design pays (days counted from the programme start)",
        [
            "option",
            "% paid by day 30",
            "% paid by day 60",
            "days to 50 %",
            "days to 90 %",
            "mean wait at town hall (days)",
            "online applications",
            "duplicates caught",
            "forms returned",
            "town-hall staff hours",
            "paid (trillion yen)",
        ],  # fmt: skip
        rows,
        formats={
            "% paid by day 30": "{:.1f}",
            "% paid by day 60": "{:.1f}",
            "days to 50 %": "{:.0f}",
            "days to 90 %": "{:.0f}",
            "mean wait at town hall (days)": "{:.1f}",
            "paid (trillion yen)": "{:.2f}",
        },  # fmt: skip
        note=f"National totals, scaled back from the {scale_text(scale)} sample; fidelity: {fidelity}.",
    )
    figs = figures(results, day0, start_offset, scale, seed)
    intro = Paragraph(
        "Every household entitled on the reference date is followed from the programme start until the "
        "money is in its account: the form or online application, the town hall's check against the "
        "resident register (with forms sent back for correction), the transfer batch and the bank. "
        "Push designs pay households with a registered public-benefit account without an application."
    )
    by_type_rows = []
    for name, r in results.items():
        for t, tname in enumerate(MUNICIPALITY_TYPES):
            ent = max(r.entitled_households[t], 1)
            cum = r.paid_households[t].cumsum()[start_offset:] / ent
            by_type_rows.append(
                [
                    name,
                    TYPE_LABELS[tname],
                    r.entitled_households[t] / scale,
                    days_to_share(cum, 0.5),
                    days_to_share(cum, 0.9),
                ]  # fmt: skip
            )
    by_type = Table(
        "Time to cash by municipality type",
        ["option", "municipality type", "entitled households", "days to 50 %", "days to 90 %"],
        by_type_rows,
        formats={"days to 50 %": "{:.0f}", "days to 90 %": "{:.0f}"},
    )
    out = [Section("The answer", [intro, table, figs[0]]), Section("Where the time goes", [by_type, *figs[1:3]])]
    if ledger_counts:
        keys = sorted({k for c in ledger_counts.values() for k in c})
        rows = [[k, *[ledger_counts[o].get(k, 0) for o in ledger_counts]] for k in keys]
        out.append(Section("The ledger's decisions (agent fidelity, sample counts)", [
            Paragraph("Every application of the sampled households went through the payout ledger: idempotency "
                      "keys, duplicate checks, verification against the resident register, transfer batches and "
                      "bank answers. Counts are in the sample (not scaled). The ledger's invariants (nobody paid "
                      "twice, money conserved) were checked every simulated day and in full at the end."),
            Table("Decisions by kind", ["decision", *ledger_counts], rows),
        ]))  # fmt: skip
    if len(figs) > 3:
        out.append(Section("Online applications in May 2020", [Paragraph(
            "Online applications are a check, not a fit target of the payout calibration: their behaviour "
            "parameters were fitted by scripts/calibrate_payout_online.py to the recorded online applications."),
            figs[3]]))  # fmt: skip
    base = results.get("baseline_2020")
    if base is not None and codes is not None and fidelity == "aggregate":
        out.append(record_section(base, heads["baseline_2020"], day0, scale, seed, codes, params, fitted or {},
                                  fit_doc or {}))  # fmt: skip
    return out


def record_section(r: AggregateResult, head: dict[str, Any], day0: dt.date, scale: float, seed: int,
                   codes: np.ndarray, params: Any, fitted: dict[str, float],
                   fit_doc: dict[str, Any] | None = None) -> Section:  # fmt: skip
    """The 2020 baseline against every training figure, and what was fitted to what."""
    from twin.models.payout.targets import training

    until = params.calibration.train_until if params is not None else None
    used = {f.name for f in training(until)} if fitted and until else set()
    rows = [[c["figure"], c["record"], c["twin"], c["error"], "fitted" if c["figure"] in used else "not fitted",
             c["source"]] for c in record_check(r, codes, day0)]  # fmt: skip
    national = [c for c in record_check(r, codes, day0) if c["family"] in ("budget_share", "households_share")]
    rmse = float(np.sqrt(np.mean([c["error"] ** 2 for c in national]))) if national else float("nan")
    fig = record_figure(r, day0, scale, seed, until if fitted else None)
    parts: list[Any] = [Paragraph(
        "The baseline's town halls each mail their forms, open and suspend online intake, staff up (own staff, "
        "then outsourced data entry), pay on their own transfer days and close applications three months after "
        "their mail-out; households reply over days to weeks with a long tail up to the deadline, send forms "
        "back for correction and sometimes apply twice. The curve below is the whole run; the record's "
        f"national figures are shown only up to 2020-06-19 (later ones are the held-out check). RMS error over "
        f"the national figures shown: {rmse:.1f} points. The twin reaches 99 % of households on "
        f"{head['date_99pct_households']} and 99 % of the budget on {head['date_99pct_budget']}."), fig,
        Table("The 2020 record (training figures) and the twin", ["figure", "record", "twin", "error",
              "in the fit", "source"], rows,
              formats={"record": "{:.1f}", "twin": "{:.1f}", "error": "{:+.1f}"},
              note="Shares in %, municipalities paying as counts of the 1,741.")]  # fmt: skip
    if fitted:
        doc = fit_doc or {}
        parts.append(Paragraph(
            f"Fitted by `twin calibrate` (file {params.calibrated_from}, scale {doc.get('scale', '?')}, seed "
            f"{doc.get('seed', '?')}) to the figures marked 'fitted' (national figures up to {until}); converged: "
            f"{'yes' if doc.get('converged') else 'NO'} ({doc.get('optimizer', '?')}). Every other parameter is "
            "sourced or assumed as listed under Assumptions."))  # fmt: skip
        se = doc.get("stderr", {})
        ident = doc.get("identified", {})

        def note(k: str) -> str:
            e = se.get(k, float("nan"))
            if not ident.get(k, True) or not np.isfinite(e) or e == 0:
                return "not identified: the fitted figures do not depend on it at this value"
            return ""

        parts.append(Table("Fitted parameters", ["parameter", "value", "std. error", "note"],
                           [[k, v, se.get(k, float("nan")), note(k)] for k, v in fitted.items()],
                           formats={"value": "{:.4g}", "std. error": "{:.2g}"}))  # fmt: skip
    else:
        parts.append(Paragraph("No fitted values are applied (params.calibrated_from is not set): every "
                               "parameter is sourced or assumed as listed under Assumptions."))  # fmt: skip
    from twin.models.payout.params import ASSUMED_RANGES
    from twin.report.assumptions import describe, flatten

    values = dict(flatten(params)) if params is not None else {}
    arows = []
    for path, (rng, basis) in ASSUMED_RANGES.items():
        v = values.get(path)
        if v is None:  # a block: show its leaves
            v = "; ".join(f"{k[len(path) + 1:]}={describe(x)}" for k, x in values.items() if k.startswith(path + "."))
        else:
            v = describe(v)
        status = "fitted" if any(f == path or f.startswith(path + ".") for f in fitted) else "assumed"
        arows.append([path, v, rng, basis, status])
    parts.append(Table("Town halls and households: assumptions without a public source, with the range considered",
                       ["parameter", "value used", "range considered", "basis", "status"], arows))  # fmt: skip
    return Section("2020 against the record", parts)
