"""`twin calibrate` on a payout scenario: fit the 2020 baseline to the training figures of 2020.

The record of the 2020 payout that the twin may learn from is in ``twin/data/PAYOUT_2020.md``
(:mod:`twin.models.payout.targets`): the national share of the budget and of households paid up to
2020-06-19, how many town halls had started paying, six big cities on 06-24 and the final figures.
The parameters named in ``params.calibration.fit`` (with bounds) are moved by bounded least
squares (scipy ``least_squares``, trust-region reflective, no evaluation cap: the optimiser runs
until one of its convergence tests holds, and the report says which), the same machinery as the
rollout calibration in :mod:`twin.calibration`: a forward-difference Jacobian whose columns run in
parallel on the experiments executor, and standard errors from covariance = s^2 (J^T J)^-1 at the
optimum. The synthetic nation is built once at ``calibration.scale`` with the scenario's seed;
each evaluation draws the households' plans and runs the baseline's 1,741 town halls.

The finite-difference step is 1 % of each parameter's bound range (not 1e-3 of its value): the
plans use fixed random numbers, so tiny steps would see the day grid's granularity, not the slope.

Output: a run folder ``reports/<scenario>/calib-<id>/`` (``fitted.json``, ``summary.json``,
``metrics.parquet``, ``index.html`` with the fit table and the curve), and nothing else; ``--promote``
copies a converged ``fitted.json`` to ``calibration.promote_to`` for ``params.calibrated_from`` to read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import twin
from twin.calibration import start_vector
from twin.errors import InputError
from twin.metrics import Metrics, write_parquet
from twin.runs import ProgressFactory, Run, git_commit, no_progress, stream_key, to_json, versions


@dataclass
class PayoutProblem:
    """One evaluation's inputs: households, municipalities, base params and the training figures."""

    base: Any
    hh: Any
    mun: Any
    day0: dt.date
    horizon: int
    closed: list[dt.date]
    seed: int
    scale: float
    paths: list[str]
    figures: list[Any]
    weights: dict[str, float]
    full_horizon: int = 0  # the scenario's whole run, for the report

    def params(self, x: np.ndarray) -> Any:
        from twin.models.payout import with_values

        return with_values(self.base, dict(zip(self.paths, (float(v) for v in x), strict=True)))

    def simulate(self, x: np.ndarray) -> Any:
        from twin.models.payout import payment_calendar
        from twin.models.payout.aggregate import simulate
        from twin.models.payout.behaviour import plan_households

        p = self.params(x)

        def stream(name: str) -> np.random.Generator:
            return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(stream_key(f"payout.{name}"), 0)))

        plan = plan_households(self.hh, self.mun, p, self.day0, stream, self.scale)
        cal = payment_calendar(p, self.day0, self.horizon, self.closed)
        return simulate(self.hh, self.mun, plan, p, cal, self.day0.weekday())

    def values(self, x: np.ndarray, figures: list[Any] | None = None) -> np.ndarray:
        from twin.models.payout.targets import twin_values

        return twin_values(self.simulate(x), self.mun.code, self.day0, figures or self.figures)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        from twin.models.payout.targets import residuals

        return residuals(self.values(x), self.figures, self.weights)


def _eval_point(item: tuple[int, PayoutProblem, np.ndarray]) -> tuple[int, np.ndarray]:
    j, problem, x = item
    return j, problem.residuals(x)


def fit(problem: PayoutProblem, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
        advance: Any = lambda k=1: None, workers: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Bounded least squares to convergence; Jacobian columns in parallel (see the module docstring)."""
    from scipy.optimize import least_squares

    from twin.experiments import make_executor

    workers = workers if workers is not None else max(1, min(len(x0), os.cpu_count() or 1))
    steps = 0.01 * (hi - lo)
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
            points, hs = [], []
            for j in range(len(x)):
                h = steps[j] if x[j] + steps[j] <= hi[j] else -steps[j]
                xj = x.copy()
                xj[j] += h
                points.append(xj)
                hs.append(h)
            done = dict(pool.imap_unordered(_eval_point, [(j, problem, xj) for j, xj in enumerate(points)]))
            advance(len(points))
            return np.stack([(done[j] - f0) / h for j, h in enumerate(hs)], axis=1)

        res = least_squares(fun, x0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac",
                            ftol=1e-5, xtol=1e-5, gtol=1e-8, max_nfev=None)  # fmt: skip
    J = res.jac
    m, k = J.shape
    dof = max(m - k, 1)
    s2 = float(res.fun @ res.fun) / dof
    # a parameter the residuals do not move at the optimum (e.g. pinned at a bound where its figure
    # no longer depends on it) is not identified: its standard error is undefined, not zero
    identified = np.linalg.norm(J, axis=0) > 1e-12
    try:
        cov = s2 * np.linalg.pinv(J.T @ J)
        stderr = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
        stderr = np.full(k, np.nan)
    stderr = np.where(identified, stderr, np.nan)
    return {"x": res.x, "stderr": stderr, "cov": cov, "cost": float(res.cost), "nfev": int(res.nfev),
            "njev": int(res.njev or 0), "status": int(res.status), "converged": bool(res.status > 0),
            "message": str(res.message), "residual_variance": s2, "dof": dof,
            "active_bounds": res.active_mask.tolist(), "identified": identified.tolist()}  # fmt: skip


def problem_for(s: Any, scale: float | None = None) -> tuple[PayoutProblem, np.ndarray, np.ndarray, np.ndarray]:
    """The calibration problem of a payout scenario (nation built once) and its start and bounds."""
    from twin.models.payout import get_path, households_from_heads, read_fitted, with_values
    from twin.models.payout.targets import training
    from twin.population import build_heads

    spec = s.spec
    base = s.options[0].params
    cal = base.calibration
    if not cal.fit:
        raise InputError(f"{s.path}: params.calibration.fit: is empty; name 1 to 16 parameters with [lower, upper]")
    if base.fidelity != "aggregate":
        raise InputError(f"{s.path}: params.fidelity: {base.fidelity!r}; calibration runs the aggregate fidelity")
    if base.calibrated_from:
        # start from the last fit where there is one (the file may not exist yet: then from the scenario)
        try:
            base = with_values(base, {k: v for k, v in read_fitted(base.calibrated_from).items() if k in cal.fit})
        except InputError:
            pass
    paths, x0, lo, hi = start_vector(s, base, cal.fit, get_path)
    scale = scale or cal.scale
    ctx_seed = s.seed
    rng = np.random.default_rng(np.random.SeedSequence(ctx_seed, spawn_key=(stream_key("population"), 0)))
    heads = build_heads(scale=scale, rng=rng, snapshot=spec.population.statistics,
                        card_date=spec.population.card_date or base.reference_date)  # fmt: skip
    hh, mun = households_from_heads(heads)
    del heads
    day0 = spec.calendar.start
    # the final figures (2021-03-31) are set by who never applies (every application is paid in the
    # end), not by the fitted parameters: they are checked in the report, not fitted, so each
    # evaluation needs to run only up to the last fitted date
    figures = [f for f in training(cal.train_until) if f.family != "final" and cal.weights.get(f.family, 0) > 0]
    last = max(f.date for f in figures)
    horizon = min((spec.calendar.end - day0).days, (last - day0).days) + 1
    problem = PayoutProblem(base, hh, mun, day0, horizon, list(spec.calendar.closed_days),
                            ctx_seed, scale, paths, figures, dict(cal.weights),
                            (spec.calendar.end - day0).days + 1)  # fmt: skip
    return problem, np.array(x0), np.array(lo), np.array(hi)


def calibrate(s: Any, out: str | Path = "reports", progress: ProgressFactory = no_progress,
              workers: int | None = None, promote: bool = False) -> Run:  # fmt: skip
    """Fit ``params.calibration.fit`` of a payout scenario; returns the calibration's run folder.

    Writes only under ``out``. :class:`~twin.calibration.NotConverged` (after the flagged report is
    written) when the optimiser did not converge; ``promote`` then copies a converged fit to
    ``calibration.promote_to``, the tracked file ``params.calibrated_from`` names."""
    from twin.calibration import NotConverged, promote_fit

    target = s.options[0].params.calibration.promote_to
    if promote and not target:
        raise InputError(f"{s.path}: params.calibration.promote_to: is not set; --promote needs a file to update")
    with progress("Building the synthetic nation", None):
        problem, x0, lo, hi = problem_for(s)
    t0 = time.perf_counter()
    with progress("Calibrating (model runs)", None) as advance:
        result = fit(problem, x0, lo, hi, advance, workers)
    wall = time.perf_counter() - t0
    run = write_report(s, out, problem, result, x0, wall)
    if not result["converged"]:
        raise NotConverged(f"{run.path}: the fit did not converge ({result['message']}); see index.html")
    if promote:
        promote_fit(run, target)
    return run


def write_report(s: Any, out: str | Path, problem: PayoutProblem, result: dict[str, Any], x0: np.ndarray,
                 wall: float) -> Run:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    from twin.models.payout import report
    from twin.models.payout.targets import TRAINING
    from twin.report import Paragraph, Section, Table
    from twin.report.html import figure_png, render

    paths = problem.paths
    import dataclasses

    best_r = dataclasses.replace(problem, horizon=problem.full_horizon or problem.horizon).simulate(result["x"])
    figs_all = list(TRAINING)
    from twin.models.payout.targets import twin_values

    vals = twin_values(best_r, problem.mun.code, problem.day0, figs_all)
    used = {f.name for f in problem.figures}
    train_nat = [(f, v) for f, v in zip(figs_all, vals, strict=True)
                 if f.name in used and f.family in ("budget_share", "households_share")]  # fmt: skip
    rmse = float(np.sqrt(np.mean([(100 * (v - f.value)) ** 2 for f, v in train_nat]))) if train_nat else float("nan")
    until = problem.base.calibration.train_until
    commit = git_commit(Path(twin.__file__).resolve().parent.parent)
    doc = {
        "scenario": s.name,
        "scenario_file": str(s.path),
        "produced_by": f"twin calibrate {s.path}",
        "git_commit": commit,
        "scale": problem.scale,
        "seed": problem.seed,
        "train_until": until.isoformat(),
        "figures_fitted": sorted(used),
        "fitted": {p: float(v) for p, v in zip(paths, result["x"], strict=True)},
        "stderr": {p: float(v) for p, v in zip(paths, result["stderr"], strict=True)},
        "identified": {p: bool(v) for p, v in zip(paths, result["identified"], strict=True)},
        "covariance": np.asarray(result["cov"]).tolist(),
        "converged": result["converged"],
        "optimizer_status": result["status"],
        "optimizer": result["message"],
        "evaluations": result["nfev"],
        "jacobians": result["njev"],
        "rmse_training_national_points": rmse,
        "twin_vs_record": [{"figure": f.name, "record": f.value, "twin": float(v), "fitted": f.name in used}
                           for f, v in zip(figs_all, vals, strict=True)],  # fmt: skip
    }
    rid = "calib-" + hashlib.sha256(f"{s.digest()}|{twin.__version__}".encode()).hexdigest()[:12]
    out = Path(out)
    final = out / s.name / rid
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{rid}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "figures").mkdir(parents=True)
    m = Metrics()
    for pth, v, se in zip(paths, result["x"], result["stderr"], strict=True):
        m.add("fitted", v, parameter=pth)
        m.add("stderr", se, parameter=pth)
    for f, v in zip(figs_all, vals, strict=True):
        m.add("twin_value", float(v), figure=f.name, fitted=str(f.name in used).lower())
        m.add("record_value", f.value, figure=f.name)
    write_parquet(m.frame(), str(tmp / "metrics.parquet"))
    summary = {k: doc[k] for k in ("fitted", "stderr", "converged", "optimizer", "evaluations",
                                   "rmse_training_national_points", "train_until")}  # fmt: skip
    summary["wall_time_s"] = round(wall, 1)
    (tmp / "summary.json").write_text(to_json(summary))
    (tmp / "fitted.json").write_text(to_json(doc))
    fig = report.record_figure(best_r, problem.day0, problem.scale, problem.seed, until)
    pngs = {fig.name: figure_png(fig.figure)}
    (tmp / "figures" / f"{fig.name}.png").write_bytes(pngs[fig.name])
    bounds = problem.base.calibration.fit
    par_rows = [[p, v0, v, se, f"[{bounds[p][0]:g}, {bounds[p][1]:g}]",
                 ("at bound " if act else "") + ("" if ok else "not identified (no effect on the residuals)")]
                for p, v0, v, se, act, ok in zip(paths, x0, result["x"], result["stderr"], result["active_bounds"],
                                                 result["identified"], strict=True)]  # fmt: skip
    rows = [[f.name, f.value * (1 if f.family == "municipalities_paying" else 100),
             float(v) * (1 if f.family == "municipalities_paying" else 100),
             "fitted" if f.name in used else "not fitted"] for f, v in zip(figs_all, vals, strict=True)]  # fmt: skip
    sections = [
        Section("Fitted parameters", [
            Paragraph(f"Bounded least squares (trust-region reflective, no evaluation cap) on {len(used)} training "
                      f"figures (national ones up to {until}); {result['nfev']} residual evaluations and "
                      f"{result['njev']} parallel Jacobians, {wall:.0f} s, at scale {problem.scale:g}. Converged: "
                      f"{'yes' if result['converged'] else 'NO'} ({result['message']}). Standard errors from "
                      f"covariance = s^2 (J^T J)^-1 (s^2 = {result['residual_variance']:.3g}, {result['dof']} "
                      f"degrees of freedom). RMS error over the fitted national figures: {rmse:.2f} points."),
            Table("Fitted values", ["parameter", "start", "fitted", "std. error", "bounds", ""], par_rows,
                  formats={"start": "{:.4g}", "fitted": "{:.4g}", "std. error": "{:.2g}"}),
        ]),
        Section("Fit quality", [
            Table("Training figures: record and twin", ["figure", "record", "twin", "in the fit"], rows,
                  formats={"record": "{:.1f}", "twin": "{:.1f}"}, note="Shares in %, town halls as counts."),
            fig,
        ]),
    ]  # fmt: skip
    manifest = {"run_id": rid, "scenario": {"name": s.name, "kind": s.kind, "file": str(s.path),
                "validated": s.spec.model_dump(mode="json")}, "seed": s.seed, "scale": problem.scale,
                "versions": versions(), "git_commit": commit, "wall_time_s": round(wall, 3),
                "calibration": {"paths": paths, "evaluations": result["nfev"]}}  # fmt: skip
    (tmp / "manifest.json").write_text(to_json(manifest))
    page = render(title=f"Calibration: {s.title}", subtitle=s.spec.description or "",
                  meta={"scenario": f"{s.name} ({s.kind})", "run": rid, "version": twin.__version__,
                        "commit": (commit or "unknown")[:12]},
                  scale=problem.scale, sections=sections, figures_png=pngs, sources=[], assumptions=[])  # fmt: skip
    (tmp / "index.html").write_text(page, encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return Run(final)
