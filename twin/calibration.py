"""Calibration: fit a scenario's chosen parameters to the published series, and say how well they fit.

The card rollout left a paper trail: MIC's releases of cards issued per municipality and age
band (2017-03 .. 2021-12). ``twin calibrate SCENARIO`` runs the model in expected-value mode,
compares it with those cumulative counts (national, by prefecture, by age band) and moves the
parameters named in ``params.calibration.fit`` (at most 8, each with bounds) by bounded least
squares (scipy ``least_squares``, trust-region reflective). The Jacobian's columns are simulated
in parallel on the machine's cores. Uncertainty comes from the Jacobian at the optimum:
covariance = s^2 (J^T J)^-1 with s^2 the residual variance. The result is a run folder
(``reports/<scenario>/calib-<id>/``) with ``fitted.json``, per-release errors, fitted-vs-observed
plots and an HTML report; the fitted values are also written to ``calibration.write_fitted`` for
forecast scenarios to read (``params.calibrated_from``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import twin
from twin.errors import InputError
from twin.metrics import Metrics, write_parquet
from twin.report import Figure, Paragraph, Section, Table
from twin.runs import ProgressFactory, Run, git_commit, no_progress, to_json, versions

#: scenario kinds that can be calibrated
CALIBRATABLE = ("rollout", "payout")


@dataclass
class Problem:
    """Everything one evaluation needs: base params, cells, observed series, fitted paths."""

    base: Any
    cells: Any
    obs: Any
    day0: dt.date
    n_days: int
    paths: list[str]
    closed: list[dt.date]

    def simulate(self, x: np.ndarray) -> Any:
        from twin.models.rollout import record_days
        from twin.models.rollout.setup import with_values
        from twin.models.rollout.simulate import Rollout

        p = with_values(self.base, dict(zip(self.paths, (float(v) for v in x), strict=True)))
        rec = record_days(self.obs.dates, self.day0, self.n_days)
        return Rollout(p, self.cells, self.day0, self.n_days, rng=None, record_days=rec, closed_days=self.closed).run()

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return residual_vector(self.simulate(x), self.obs, self.base.calibration.weights)


def series_errors(r: Any, obs: Any) -> dict[str, np.ndarray]:
    """Relative errors (twin - observed) / observed per series: national (S,), prefecture (S, 47), age band (S', 21)."""
    idx = [r.record_days.index((d - r.day0).days) for d in obs.dates]
    sim_muni = r.holders_muni[idx] / r.scale
    has_age = ~np.isnan(obs.band_cards[:, 0, 0])
    sim_band = r.holders_mix[idx][has_age].sum(axis=2) / r.scale
    return {
        "national": _relative(sim_muni.sum(axis=1), obs.national),
        "prefecture": _relative(obs.by_prefecture(sim_muni), obs.by_prefecture(obs.muni_cards)),
        "age_band": _relative(sim_band, obs.band_cards[has_age].sum(axis=2)),
    }


def _relative(sim: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(twin - observed) / observed, with at least one card in the denominator."""
    return (sim - observed) / np.maximum(observed, 1.0)


def residual_vector(r: Any, obs: Any, weights: dict[str, float]) -> np.ndarray:
    """Weighted relative errors; each family's weight is spread over its values (w / sqrt(n))."""
    parts = []
    for name, e in series_errors(r, obs).items():
        w = weights.get(name, 0.0)
        if w > 0 and e.size:
            parts.append(w * e.reshape(-1) / np.sqrt(e.size / e.shape[0]))
    return np.concatenate(parts)


def _eval_point(item: tuple[int, Problem, np.ndarray]) -> tuple[int, np.ndarray]:
    """One Jacobian column's evaluation, on whatever worker the executor picks (picklable)."""
    j, problem, x = item
    return j, problem.residuals(x)


def fit(problem: Problem, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray, max_nfev: int,
        advance: Any = lambda k=1: None, workers: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Bounded least squares with a forward-difference Jacobian evaluated in parallel.

    The Jacobian's columns run on the experiments runner's executor (:func:`twin.experiments.make_executor`:
    local processes by default, ``workers=0`` in-process), the same one sweeps and replications use.
    """
    from scipy.optimize import least_squares

    from twin.experiments import make_executor

    workers = workers if workers is not None else max(1, min(len(x0), os.cpu_count() or 1))
    steps = 1e-3 * np.maximum(np.abs(x0), (hi - lo) * 1e-2)
    cache: dict[bytes, np.ndarray] = {}

    def fun(x: np.ndarray) -> np.ndarray:
        key = np.asarray(x, dtype=np.float64).tobytes()
        if key not in cache:
            cache[key] = problem.residuals(x)
            advance(1)
        return cache[key]

    with make_executor(workers) as pool:

        def jac(x: np.ndarray) -> np.ndarray:
            f0 = fun(x)
            points = []
            hs = []
            for j in range(len(x)):
                h = steps[j] if x[j] + steps[j] <= hi[j] else -steps[j]
                xj = x.copy()
                xj[j] += h
                points.append(xj)
                hs.append(h)
            done = dict(pool.imap_unordered(_eval_point, [(j, problem, xj) for j, xj in enumerate(points)]))
            advance(len(points))
            return np.stack([(done[j] - f0) / h for j, h in enumerate(hs)], axis=1)

        res = least_squares(fun, x0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac", max_nfev=max_nfev)
    J = res.jac
    m, k = J.shape
    dof = max(m - k, 1)
    s2 = float(res.fun @ res.fun) / dof
    try:
        cov = s2 * np.linalg.inv(J.T @ J)
        stderr = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
        stderr = np.full(k, np.nan)
    return {"x": res.x, "stderr": stderr, "cov": cov, "cost": float(res.cost), "nfev": int(res.nfev),
            "status": int(res.status), "message": str(res.message), "residual_variance": s2,
            "active_bounds": res.active_mask.tolist()}  # fmt: skip


def calibrate_file(path: str | Path, out: str | Path = "reports", progress: ProgressFactory = no_progress) -> Run:
    """Fit the ``params.calibration.fit`` parameters of a scenario file; returns the report's run folder."""
    from twin import scenario as sc

    s = sc.load(path)
    if s.kind not in CALIBRATABLE:
        raise InputError(f"{path}: kind: {s.kind!r} has no calibration (allowed: {', '.join(CALIBRATABLE)})")
    if s.kind == "payout":  # the payout's own targets and residuals, same least-squares machinery
        from twin.models.payout.calibrate import calibrate as calibrate_payout

        return calibrate_payout(s, out=out, progress=progress)
    return calibrate(s, out=out, progress=progress)


def calibrate(s: Any, out: str | Path = "reports", progress: ProgressFactory = no_progress,
              workers: int | None = None) -> Run:  # fmt: skip
    from twin.models.rollout.setup import cells_for, get_path, observed_for

    spec = s.spec
    base = s.options[0].params
    cal = base.calibration
    if not cal.fit:
        raise InputError(
            f"{s.path}: params.calibration.fit: is empty; name 1 to 8 parameters with [lower, upper] bounds"
        )
    paths = list(cal.fit)
    x0, lo, hi = [], [], []
    for pth in paths:
        v = get_path(base, pth)
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise InputError(f"{s.path}: params.calibration.fit.{pth}: is not a number parameter ({v!r})")
        a, b = cal.fit[pth]
        lo.append(a)
        hi.append(b)
        x0.append(min(max(float(v), a), b))
    day0, end = spec.calendar.start, spec.calendar.end
    with progress("Reading the MIC releases", None):
        obs = observed_for(base, day0, end, strict=True)
        cells = cells_for(obs, spec.population.statistics)
    problem = Problem(base, cells, obs, day0, (end - day0).days + 1, paths, list(spec.calendar.closed_days))
    t0 = time.perf_counter()
    x0a = np.array(x0)
    start = problem.simulate(x0a)
    with progress("Calibrating (model runs)", cal.max_evaluations * (len(paths) + 1)) as advance:
        result = fit(problem, x0a, np.array(lo), np.array(hi), cal.max_evaluations, advance, workers)
    best = problem.simulate(result["x"])
    wall = time.perf_counter() - t0
    return write_report(s, out, problem, result, start, best, x0a, wall)


def _fitted_doc(s: Any, paths: list[str], result: dict[str, Any], rms: float) -> dict[str, Any]:
    return {
        "scenario": s.name,
        "scenario_file": str(s.path),
        "fitted": {p: float(v) for p, v in zip(paths, result["x"], strict=True)},
        "stderr": {p: float(v) for p, v in zip(paths, result["stderr"], strict=True)},
        "covariance": np.asarray(result["cov"]).tolist(),
        "national_rms_relative_error": rms,
        "evaluations": result["nfev"],
        "optimizer": result["message"],
    }


def write_report(s: Any, out: str | Path, problem: Problem, result: dict[str, Any], start: Any, best: Any,
                 x0: np.ndarray, wall: float) -> Run:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from twin.models.rollout.observed import AGE_BANDS
    from twin.report.html import figure_png, render

    obs, paths = problem.obs, problem.paths
    errs = series_errors(best, obs)
    errs0 = series_errors(start, obs)
    rms = float(np.sqrt(np.mean(errs["national"] ** 2)))
    doc = _fitted_doc(s, paths, result, rms)
    rid = "calib-" + hashlib.sha256(f"{s.digest()}|{twin.__version__}".encode()).hexdigest()[:12]
    out = Path(out)
    final = out / s.name / rid
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{rid}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "figures").mkdir(parents=True)
    m = Metrics()
    dates = np.array(obs.dates, dtype="datetime64[D]")
    sim_nat = obs.national * (1 + errs["national"])
    m.add_series("cards_observed", dates, obs.national, series="national")
    m.add_series("cards_fitted", dates, sim_nat, series="national")
    m.add_series("relative_error", dates, errs["national"], series="national")
    for p in range(47):
        m.add_series("relative_error", dates, errs["prefecture"][:, p], series="prefecture", prefecture=f"{p + 1:02d}")
    has_age = ~np.isnan(obs.band_cards[:, 0, 0])
    for a, band in enumerate(AGE_BANDS):
        m.add_series("relative_error", dates[has_age], errs["age_band"][:, a], series="age_band", band=band)
    for pth, v, se in zip(paths, result["x"], result["stderr"], strict=True):
        m.add("fitted", v, parameter=pth)
        m.add("stderr", se, parameter=pth)
    write_parquet(m.frame(), str(tmp / "metrics.parquet"))
    summary = {"fitted": doc["fitted"], "stderr": doc["stderr"], "national_rms_relative_error": rms,
               "national_rms_relative_error_start": float(np.sqrt(np.mean(errs0["national"] ** 2))),
               "evaluations": result["nfev"], "wall_time_s": round(wall, 1)}  # fmt: skip
    (tmp / "summary.json").write_text(to_json(summary))
    (tmp / "fitted.json").write_text(to_json(doc))

    figs = []
    fig, ax = plt.subplots(figsize=(9, 4.4))
    x = np.datetime64(best.day0, "D") + np.arange(best.n_days)
    ax.plot(x.astype(object), best.daily["holders"] / 1e6, lw=2, label="twin, fitted")
    ax.plot(x.astype(object), start.daily["holders"] / 1e6, lw=1, ls="--", label="twin, starting values")
    ax.scatter(list(obs.dates), obs.national / 1e6, color="k", s=14, zorder=3, label="MIC releases")
    ax.set_ylabel("million cards issued (cumulative)")
    ax.set_title("National: fitted vs observed")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.autofmt_xdate()
    figs.append(Figure("fit_national", fig, "Cumulative cards issued, national."))
    idx = [best.record_days.index((d - best.day0).days) for d in obs.dates]
    fig, axes = plt.subplots(3, 7, figsize=(16, 7), sharex=True, sharey=True)
    for a, ax in enumerate(axes.reshape(-1)):
        rate_obs = obs.band_cards[:, a].sum(axis=1) / obs.band_population[:, a].sum(axis=1)
        pop_a = np.nanmean(obs.band_population[:, a].sum(axis=1))
        ax.plot(list(obs.dates), 100 * best.holders_mix[idx, a].sum(axis=1) / pop_a, lw=1.5)
        ax.scatter(list(obs.dates), 100 * rate_obs, s=5, color="k")
        ax.set_title(AGE_BANDS[a], fontsize=8)
        ax.tick_params(labelsize=6, axis="both")
    fig.suptitle("Holding rate by age band: fitted (line) vs MIC (dots), %")
    figs.append(Figure("fit_age_bands", fig, "Every age band, fitted vs observed."))
    fig, axes = plt.subplots(6, 8, figsize=(18, 11), sharex=True, sharey=True)
    pop_p = obs.by_prefecture(obs.muni_population)
    sim_p = obs.by_prefecture(best.holders_muni[idx])
    obs_p = obs.by_prefecture(obs.muni_cards)
    for p, ax in enumerate(axes.reshape(-1)):
        if p >= 47:
            ax.axis("off")
            continue
        ax.plot(list(obs.dates), 100 * sim_p[:, p] / pop_p[:, p], lw=1.2)
        ax.scatter(list(obs.dates), 100 * obs_p[:, p] / pop_p[:, p], s=4, color="k")
        ax.set_title(f"{p + 1:02d}", fontsize=8)
        ax.tick_params(labelsize=6, axis="both")
    fig.suptitle("Holding rate by prefecture (JIS code): fitted (line) vs MIC (dots), %")
    figs.append(Figure("fit_prefectures", fig, "Every prefecture, fitted vs observed."))
    pngs = {}
    for f in figs:
        pngs[f.name] = figure_png(f.figure)
        (tmp / "figures" / f"{f.name}.png").write_bytes(pngs[f.name])
        plt.close(f.figure)

    bounds = problem.base.calibration.fit
    par_rows = [[pth, v0, v, se, f"[{bounds[pth][0]:g}, {bounds[pth][1]:g}]",
                 "at bound" if act else ""]
                for pth, v0, v, se, act in zip(paths, x0, result["x"], result["stderr"], result["active_bounds"],
                                               strict=True)]  # fmt: skip
    err_rows = [[d.isoformat(), o, o * (1 + e), 100 * e]
                for d, o, e in zip(obs.dates, obs.national, errs["national"], strict=True)]  # fmt: skip
    fam_rows = [[k, 100 * float(np.sqrt(np.mean(v**2))), 100 * float(np.max(np.abs(v))),
                 100 * float(np.sqrt(np.mean(errs0[k] ** 2)))] for k, v in errs.items()]  # fmt: skip
    sections = [
        Section("Fitted parameters", [
            Paragraph(f"Bounded least squares (trust-region reflective) on {len(obs.dates)} MIC releases; "
                      f"{result['nfev']} residual evaluations plus parallel Jacobians, {wall:.0f} s. Standard "
                      "errors from covariance = s^2 (J^T J)^-1 at the optimum (s^2: residual variance). "
                      f"Optimizer: {result['message']}"),
            Table("Fitted values", ["parameter", "start", "fitted", "std. error", "bounds", ""], par_rows,
                  formats={"start": "{:.4g}", "fitted": "{:.4g}", "std. error": "{:.2g}"}),
        ]),
        Section("Fit quality", [
            Table("Relative error per series family (%)", ["series", "RMS fitted", "max |error| fitted",
                                                           "RMS at start"], fam_rows,
                  formats={"RMS fitted": "{:.1f}", "max |error| fitted": "{:.1f}", "RMS at start": "{:.1f}"}),
            Table("National cumulative at each release", ["release", "MIC", "twin", "error %"], err_rows,
                  formats={"MIC": "{:,.0f}", "twin": "{:,.0f}", "error %": "{:+.1f}"}),
            *figs,
        ]),
    ]  # fmt: skip
    commit = git_commit(Path(twin.__file__).resolve().parent.parent)
    manifest = {"run_id": rid, "scenario": {"name": s.name, "kind": s.kind, "file": str(s.path),
                "validated": s.spec.model_dump(mode="json")}, "seed": s.seed, "scale": s.scale,
                "versions": versions(), "git_commit": commit, "wall_time_s": round(wall, 3),
                "calibration": {"paths": paths, "evaluations": result["nfev"]}}  # fmt: skip
    (tmp / "manifest.json").write_text(to_json(manifest))
    page = render(title=f"Calibration: {s.title}", subtitle=s.spec.description or "",
                  meta={"scenario": f"{s.name} ({s.kind})", "run": rid, "version": twin.__version__,
                        "commit": (commit or "unknown")[:12]},
                  scale=s.scale, sections=sections, figures_png=pngs, sources=[], assumptions=[])  # fmt: skip
    (tmp / "index.html").write_text(page, encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    target = problem.base.calibration.write_fitted
    if target:
        from twin.models.rollout.setup import REPO

        tp = Path(target) if Path(target).is_absolute() else (Path.cwd() / target)
        if not tp.parent.exists():
            tp = REPO / target
        tp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return Run(final)
