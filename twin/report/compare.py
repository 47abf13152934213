"""One page that compares runs, options and sweeps, with the uncertainty a decision needs.

A working group choosing between the 2020 payout design and a push design must see, on one page,
the headline numbers with their 10/50/90 % bands over replications, how much better each option
is than the reference replication by replication (common random numbers), how the answer moves
along a sweep, which knobs matter (Morris screening), what every input assumed and where its data
came from, and the manifests that make each number reproducible. :func:`build` writes that page as
a self-contained ``index.html`` (figures embedded) with the figures also saved under ``figures/``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import twin
from twin.experiments.analysis import band_text, bands, paired
from twin.experiments.collect import Source, comparison
from twin.experiments.task import SERIES, SUMMARY
from twin.report import Figure, Paragraph, Section, Table
from twin.report.html import figure_png, render, scale_text

#: at most this many headline columns and figures, so a 500-point sweep still gives a readable page
MAX_COLUMNS = 12
MAX_FIGURES = 8


def build(
    sources: Sequence[Source],
    out: str | Path,
    *,
    title: str = "Comparison",
    metrics: Sequence[str] = (),
) -> Path:
    """Write ``out/index.html`` comparing ``sources``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    comp = comparison(sources)
    chosen = list(metrics) or _interesting_metrics(comp)
    sections = [
        inputs_section(sources),
        headline_section(comp, chosen),
        *paired_sections(sources, chosen),
        *figure_sections(sources, comp, chosen),
        *morris_sections(sources),
        assumptions_section(sources),
        manifests_section(sources),
    ]
    pngs: dict[str, bytes] = {}
    for s in sections:
        for b in s.blocks:
            if isinstance(b, Figure):
                pngs[b.name] = figure_png(b.figure)
                (out / "figures" / f"{b.name}.png").write_bytes(pngs[b.name])
                plt.close(b.figure)
    scales = sorted({s.scale for s in sources})
    subtitle = " vs ".join(s.label for s in sources)
    if len(scales) > 1:
        subtitle += " — inputs differ in scale: " + ", ".join(scale_text(x) for x in scales)
    comp.drop(columns=["column"]).to_csv(out / "comparison.csv", index=False)
    page = render(
        title=title,
        subtitle=subtitle,
        meta={"inputs": str(len(sources)), "version": twin.__version__},
        scale=scales[0],
        sections=sections,
        figures_png=pngs,
        sources=sorted({x for s in sources for x in s.sources}),
    )
    (out / "index.html").write_text(page, encoding="utf-8")
    return out / "index.html"


def default_folder(sources: Sequence[Source], root: str | Path = "reports") -> Path:
    """``reports/compare-<hash of the inputs' manifests>``: the same inputs name the same folder."""
    h = hashlib.sha256()
    for s in sources:
        h.update(json.dumps(s.manifest, sort_keys=True).encode())
    return Path(root) / f"compare-{h.hexdigest()[:12]}"


#: differences below this share of a metric's magnitude are floating-point noise (e.g. -5.82e-11 from
#: summing the same numbers in another order), not a difference between designs
REL_NOISE = 1e-9


def _noise_floor(values: pd.Series) -> float:
    finite = values[np.isfinite(values)]
    return REL_NOISE * max(1.0, float(finite.abs().max())) if len(finite) else 0.0


def denoised(comp: pd.DataFrame) -> pd.DataFrame:
    """The comparison with each metric's floating-point noise set to exactly zero (per metric scale)."""
    out = comp.copy()
    for _, idx in out.groupby("metric", sort=False).groups.items():
        cols = [c for c in ("q10", "q50", "q90") if c in out.columns]
        block = out.loc[idx, cols].astype(float)
        floor = _noise_floor(block.stack())
        out.loc[idx, cols] = block.where((block.abs() > floor) | block.isna(), 0.0)
    return out


def varying_metrics(comp: pd.DataFrame) -> list[str]:
    """Headline metrics that differ between columns or replications by more than noise."""
    names = []
    for metric, g in comp.groupby("metric", sort=False):
        floor = _noise_floor(pd.concat([g["q10"], g["q50"], g["q90"]]))
        spread = (g["q90"] - g["q10"]).abs().max()
        between = g["q50"].max() - g["q50"].min()
        some_undefined = g["q50"].isna().any() and g["q50"].notna().any()  # defined in one column only
        if spread > floor or between > floor or some_undefined:
            names.append(str(metric))
    return names


def _interesting_metrics(comp: pd.DataFrame) -> list[str]:
    """Headline metrics that differ between columns or replications (constants tell nothing)."""
    return varying_metrics(comp)[:MAX_FIGURES]


def varying_metrics_of_differences(d: pd.DataFrame) -> list[str]:
    """Metrics whose paired difference is not zero (beyond noise) for some option."""
    keep = []
    for metric, g in d.groupby("metric", sort=False):
        vals = pd.concat([g["q10"], g["q50"], g["q90"]]).astype(float)
        if (vals[np.isfinite(vals)] != 0).any():
            keep.append(str(metric))
    return keep


def inputs_section(sources: Sequence[Source]) -> Section:
    rows = []
    for s in sources:
        m = s.manifest
        rows.append(
            [
                s.label,
                s.kind,
                f"{m.get('scenario', {}).get('name', '')} ({m.get('scenario', {}).get('kind', '')})",
                str(m.get("seed", "")),
                scale_text(s.scale),
                ", ".join(m.get("options", [])),
                int(m.get("replications", 1)),
                int(m.get("points", 1)),
                (m.get("design") or {}).get("kind", "single run"),
                ", ".join(m.get("params", [])) or "–",
            ]
        )
    cols = ["input", "type", "scenario", "seed", "scale", "options", "replications", "points", "design", "swept"]
    return Section(
        "What is compared",
        [
            Paragraph(
                "Each sweep's numbers are the median over its replications with the 10-90 % band in brackets; "
                "replication r of every option and every point used the same random streams (common random "
                "numbers). A single run has one replication and shows one number."
            ),
            Table("Inputs", cols, rows),
        ],
    )


def headline_section(comp: pd.DataFrame, chosen: Sequence[str]) -> Section:
    comp = denoised(comp)
    columns = list(dict.fromkeys(comp["column"]))
    shown = columns[:MAX_COLUMNS]
    metrics = list(dict.fromkeys(comp["metric"]))
    note = "median [10 %, 90 %] over replications"
    if len(columns) > 1:  # a metric equal in every column and replication tells nothing here
        varying = set(varying_metrics(comp))
        same = [m for m in metrics if m not in varying]
        metrics = [m for m in metrics if m in varying]
        if same:
            note += f"; {len(same)} metric(s) equal in every column left out (all of them in comparison.csv)"
    cell = {(r.metric, r.column): band_text(r.q10, r.q50, r.q90) for r in comp.itertuples()}
    rows = [[m, *(cell.get((m, c), "–") for c in shown)] for m in metrics]
    if len(columns) > len(shown):
        note += f"; first {len(shown)} of {len(columns)} columns shown, all of them in comparison.csv"
    blocks: list[Paragraph | Table | Figure] = [Table("Headline numbers", ["metric", *shown], rows, note=note)]
    if chosen:
        blocks.append(Paragraph("Metrics that vary between the inputs: " + ", ".join(chosen) + "."))
    return Section("Headline numbers", blocks)


def paired_sections(sources: Sequence[Source], chosen: Sequence[str]) -> list[Section]:
    out = []
    for s in sources:
        options = [o for o in s.manifest.get("options", []) if o]
        if len(options) < 2:
            continue
        heads = s.results[(s.results["origin"] == SUMMARY) & (s.results["option"] != "")]
        d = paired(heads, options[0])
        d = denoised(d[d["point"] == 0])
        rows = []
        share_shown = False
        for metric in varying_metrics_of_differences(d):
            row: list[Any] = [metric]
            for opt in options[1:]:
                r = d[(d["metric"] == metric) & (d["option"] == opt)]
                if r.empty:
                    row.append("–")
                    continue
                r0 = r.iloc[0]
                text = band_text(r0.q10, r0.q50, r0.q90)
                if int(r0.n) > 1 and not np.isnan(r0.share_lower):
                    text += f"; lower in {r0.share_lower * 100:.0f} %"
                    share_shown = True
                row.append(text)
            rows.append(row)
        if not rows:
            continue
        note = "median [10 %, 90 %] of the per-replication difference; metrics with no difference left out"
        if share_shown:
            note += "; 'lower in' is the share of replications in which the option's value is below the reference's"
        out.append(
            Section(
                f"{s.label}: each option minus {options[0]}, replication by replication",
                [
                    Table(
                        f"Paired differences (point 0, {int(s.manifest.get('replications', 1))} replications)",
                        ["metric", *(f"{o} − {options[0]}" for o in options[1:])],
                        rows,
                        note=note,
                    )
                ],
            )
        )
    return out


def figure_sections(sources: Sequence[Source], comp: pd.DataFrame, chosen: Sequence[str]) -> list[Section]:
    import matplotlib.pyplot as plt

    blocks: list[Paragraph | Table | Figure] = []
    for i, metric in enumerate(chosen[:MAX_FIGURES]):
        c = comp[comp["metric"] == metric].head(MAX_COLUMNS * 4)
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(c) + 1.2))
        y = np.arange(len(c))[::-1]
        ax.errorbar(c["q50"], y, xerr=[c["q50"] - c["q10"], c["q90"] - c["q50"]], fmt="o", capsize=3, color="#2b5d8a")
        ax.set_yticks(y, c["column"], fontsize=8)
        ax.set_xlabel(f"{metric} (median, 10-90 % band)")
        ax.grid(axis="x", alpha=0.3)
        blocks.append(Figure(f"headline_{i:02d}", fig, f"{metric}: median and 10-90 % band over replications"))
    out = [Section("Figures with uncertainty bands", blocks)] if blocks else []
    sweep_blocks = _sweep_curves(sources, chosen)
    if sweep_blocks:
        out.append(Section("Along the sweep", sweep_blocks))
    series_blocks = _series_bands(sources)
    if series_blocks:
        out.append(Section("Series over time", series_blocks))
    return out


def _sweep_curves(sources: Sequence[Source], chosen: Sequence[str]) -> list[Paragraph | Table | Figure]:
    """Headline metric against each swept param, with the 10-90 % band over replications."""
    import matplotlib.pyplot as plt

    blocks: list[Paragraph | Table | Figure] = []
    for si, s in enumerate(sources):
        params = [c for c in s.points.columns if c != "point" and s.points[c].nunique() > 1]
        if s.kind != "sweep" or not params:
            continue
        heads = s.results[s.results["origin"] == SUMMARY]
        b = bands(heads, ["point", "option", "metric"]).merge(s.points, on="point")
        for mi, metric in enumerate(chosen[: MAX_FIGURES // 2]):
            fig, axes = plt.subplots(1, len(params), figsize=(4.5 * len(params), 3.4), squeeze=False)
            for ax, param in zip(axes[0], params, strict=True):
                for opt, g in b[b["metric"] == metric].groupby("option", sort=False):
                    g = g.sort_values(param)
                    if len(params) == 1:  # one knob: a curve with its band
                        ax.plot(g[param], g["q50"], "o-", ms=3, label=opt or "—")
                        ax.fill_between(g[param], g["q10"], g["q90"], alpha=0.2)
                    else:  # several knobs move at once: points with their bands, no curve
                        err = [g["q50"] - g["q10"], g["q90"] - g["q50"]]
                        ax.errorbar(g[param], g["q50"], yerr=err, fmt="o", ms=3, capsize=2, alpha=0.7, label=opt or "—")
                ax.set_xlabel(param)
                ax.set_ylabel(metric)
                ax.grid(alpha=0.3)
            axes[0][0].legend(fontsize=7)
            note = "" if len(params) == 1 else " (other params vary too: each dot is one point of the design)"
            blocks.append(Figure(f"sweep_{si}_{mi:02d}", fig, f"{s.label}: {metric} along the sweep{note}"))
    return blocks


def _series_bands(sources: Sequence[Source]) -> list[Paragraph | Table | Figure]:
    """Each kept series (summed over its labels) with its 10-90 % band over replications, point 0."""
    import matplotlib.pyplot as plt

    frames = []
    for s in sources:
        r = s.results[(s.results["origin"] == SERIES) & (s.results["point"] == 0)]
        if r.empty:
            continue
        summed = r.groupby(["option", "metric", "replication", "time"], sort=False)["value"].sum().reset_index()
        b = bands(summed, ["option", "metric", "time"])
        b["column"] = [f"{s.label} · {o}" if o else s.label for o in b["option"]]
        frames.append(b)
    if not frames:
        return []
    allb = pd.concat(frames, ignore_index=True)
    blocks: list[Paragraph | Table | Figure] = []
    for i, (metric, g) in enumerate(allb.groupby("metric", sort=True)):
        if i >= MAX_FIGURES:
            break
        fig, ax = plt.subplots(figsize=(8, 3.6))
        for col, h in g.groupby("column", sort=False):
            ax.plot(h["time"], h["q50"], label=col, lw=1.4)
            ax.fill_between(h["time"], h["q10"], h["q90"], alpha=0.2)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.autofmt_xdate()
        blocks.append(Figure(f"series_{i:02d}", fig, f"{metric}: median with 10-90 % band over replications"))
    return blocks


def morris_sections(sources: Sequence[Source]) -> list[Section]:
    from twin.experiments.sensitivity import morris_indices
    from twin.experiments.space import Param, ParamSpace

    out = []
    for s in sources:
        design = s.manifest.get("design") or {}
        if design.get("kind") != "morris":
            continue
        from twin.experiments.space import parse_param

        space = ParamSpace(tuple(Param(*parse_param(t)) for t in s.manifest.get("params", [])))
        names = [p.name for p in space.params]
        points = [{n: float(row[n]) for n in names} for _, row in s.points.sort_values("point").iterrows()]
        idx = morris_indices(space, points, s.results).sort_values(
            ["metric", "option", "mu_star"], ascending=[True, True, False]
        )
        rows = [[r.metric, r.option or "–", r.param, r.mu_star, r.mu, r.sigma, r.effects] for r in idx.itertuples()]
        out.append(
            Section(
                f"{s.label}: which parameters matter (Morris screening)",
                [
                    Paragraph(
                        "mu* is the mean absolute elementary effect (output change per whole range of the "
                        "parameter): how much the parameter matters; mu its signed mean; sigma the spread of "
                        "its effects (interactions or non-linearity)."
                    ),
                    Table(
                        "Elementary effects", ["metric", "option", "parameter", "mu*", "mu", "sigma", "effects"], rows
                    ),
                ],
            )
        )
    return out


def assumptions_section(sources: Sequence[Source]) -> Section:
    names: dict[str, str | None] = {}
    values: dict[tuple[str, str], str] = {}
    for s in sources:
        for a in s.assumptions:
            names.setdefault(a["name"], None)
            if a.get("source"):
                names[a["name"]] = a["source"]
            values[(a["name"], s.label)] = str(a["value"])
    labels = [s.label for s in sources]
    rows = []
    for n, src in names.items():
        vals = [values.get((n, lab), "–") for lab in labels]
        rows.append([n, *vals, src or "assumed (no public source)"])
    assumed = sum(1 for src in names.values() if not src)
    blocks: list[Paragraph | Table | Figure] = []
    if rows:
        blocks.append(
            Table(
                "Parameters the results rest on",
                ["parameter", *labels, "source"],
                rows,
                note=f"{assumed} of {len(rows)} are assumed rather than sourced.",
            )
        )
    else:
        blocks.append(Paragraph("The inputs declare no assumptions."))
    return Section("Assumptions", blocks)


def manifests_section(sources: Sequence[Source]) -> Section:
    keys = [
        "run_id",
        "sweep_id",
        "seed",
        "scale",
        "executor",
        "workers",
        "tasks",
        "git_commit",
        "started_at",
        "wall_time_s",
        "metrics_sha256",
        "results_sha256",
    ]
    blocks: list[Paragraph | Table | Figure] = []
    for s in sources:
        m = s.manifest
        rows = [[k, str(m[k])] for k in keys if k in m]
        rows.append(
            [
                "scenario file",
                f"{m.get('scenario', {}).get('file')} "
                f"(sha256 {str(m.get('scenario', {}).get('file_sha256', ''))[:16]}…)",
            ]
        )
        rows.append(["versions", ", ".join(f"{k} {v}" for k, v in sorted((m.get("versions") or {}).items()))])
        rows.append(["folder", str(s.path)])
        blocks.append(Table(s.label, ["field", "value"], rows))
    return Section("Manifests", blocks)
