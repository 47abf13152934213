"""Calibration: fit a scenario's chosen parameters to the published series, and say how well they fit.

The card rollout left a paper trail: MIC's releases of cards issued per municipality and age
band (2017-03 .. 2021-12). ``twin calibrate SCENARIO`` runs the model in expected-value mode,
compares it with those cumulative counts (national, by prefecture, by age band) and moves the
parameters named in ``params.calibration.fit`` (at most 12, each with bounds) by bounded least
squares (scipy ``least_squares``, trust-region reflective) **until it converges**: there is no
evaluation cap; should scipy's own limit be reached, the optimiser is restarted from where it
stopped. A fit that does not converge is reported as such and the command exits non-zero.

The machinery is generic: a :class:`Target` supplies parameter names, start values, bounds and a
``residuals(x)`` vector; :func:`fit` minimises it with a forward-difference Jacobian whose columns run
on the experiments executor (:func:`twin.experiments.make_executor`), and reports standard errors and
the correlation matrix from covariance = s^2 (J^T J)^-1 at the optimum (s^2: residual variance).
Effects with many levels (age bands, prefectures) are fitted between least-squares rounds by
iterative proportional adjustment (raking), which has no standard errors; the report says so. The
rounds go on until the raked effects move less than 0.05 (log units) between two; a fit whose effects
have not settled after 20 rounds is reported as not converged (no round count is a stopping rule that
passes). The 95-99 and 100+ bands share one lever response (:func:`_pool_oldest`).

The result is a folder under ``--out`` (``<out>/<scenario>/calib-<id>/``) with ``fitted.json``, the
fit-quality table against the targets, a sensitivity check of the fixed parameters, plots and an
HTML report. Nothing else is written: ``twin calibrate --promote`` is the explicit step that copies a
converged ``fitted.json`` to ``calibration.promote_to`` (the tracked file forecasts name in
``params.calibrated_from``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

import twin
from twin.errors import InputError, TwinError
from twin.metrics import Metrics, write_parquet
from twin.report import Figure, Paragraph, Section, Table
from twin.runs import ProgressFactory, Run, git_commit, no_progress, to_json, versions

#: scenario kinds that can be calibrated
CALIBRATABLE = ("rollout", "payout")

#: the issue's targets for the fit (relative errors)
TARGETS = {"national_rms": 0.02, "worst_after_2019": 0.03, "prefecture_rms": 0.05, "age_band_rms": 0.10}

#: factors a fixed parameter is multiplied by in the sensitivity check
SENSITIVITY_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0)


class NotConverged(TwinError):
    """The optimiser stopped without meeting its convergence criteria (exit code 1)."""

    exit_code = 1


class Target(Protocol):
    """What :func:`fit` needs from a model: named parameters and a residual vector (picklable)."""

    paths: list[str]

    def residuals(self, x: np.ndarray) -> np.ndarray: ...


@dataclass
class Problem:
    """The rollout as a :class:`Target`: base params, cells, observed series, fitted paths."""

    base: Any
    cells: Any
    obs: Any
    day0: dt.date
    n_days: int
    paths: list[str]
    closed: list[dt.date]
    #: holders' deaths per person-year (21, 2), setup.mortality_for; None: holders never die
    mortality: Any = None

    def params_at(self, x: np.ndarray) -> Any:
        from twin.models.rollout.setup import with_values

        return with_values(self.base, dict(zip(self.paths, (float(v) for v in x), strict=True)))

    def simulate(self, x: np.ndarray, params: Any = None) -> Any:
        from twin.models.rollout import age_reference, record_days
        from twin.models.rollout.simulate import Rollout

        p = params if params is not None else self.params_at(x)
        rec = record_days(self.obs.dates, self.day0, self.n_days)
        ages = age_reference(self.obs, self.day0, self.n_days)
        return Rollout(p, self.cells, self.day0, self.n_days, rng=None, record_days=rec, closed_days=self.closed,
                       age_reference=ages, mortality=self.mortality).run()

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return residual_vector(self.simulate(x), self.obs, self.base.calibration.weights)


def series_errors(r: Any, obs: Any) -> dict[str, np.ndarray]:
    """Relative errors (twin - observed) / observed per series: national (S,), prefecture (S, 47), age band
    (S', 21), and the applied-but-not-issued backlog (B,) at the dated figures within the releases fitted."""
    from twin.models.rollout.observed import APPLICATION_FIGURES, BACKLOG_FIGURES

    idx = [r.record_days.index((d - r.day0).days) for d in obs.dates]
    sim_muni = r.issued_muni[idx] / r.scale  # MIC counts cards issued, dead holders' included
    has_age = ~np.isnan(obs.band_cards[:, 0, 0])
    sim_band = r.issued_mix[idx][has_age].sum(axis=2) / r.scale
    stock = [(d, v) for d, v, _ in BACKLOG_FIGURES if obs.dates[0] <= d <= obs.dates[-1] and 0 <= (d - r.day0).days
             < r.n_days]  # fmt: skip
    sim_stock = np.array([r.daily["backlog_applied_not_issued"][(d - r.day0).days] / r.scale for d, _ in stock])
    # a month's applications count once the release after the month is fitted (they are in its window)
    months = [(a, b, v) for a, b, v, _ in APPLICATION_FIGURES if obs.dates[0] <= b < obs.dates[-1]
              and (a - r.day0).days >= 0 and (b - r.day0).days < r.n_days]  # fmt: skip
    sim_apps = np.array([r.daily["applications"][(a - r.day0).days : (b - r.day0).days + 1].sum() / r.scale
                         for a, b, _ in months])  # fmt: skip
    return {
        "national": _relative(sim_muni.sum(axis=1), obs.national),
        "prefecture": _relative(obs.by_prefecture(sim_muni), obs.by_prefecture(obs.muni_cards)),
        "age_band": _relative(sim_band, obs.band_cards[has_age].sum(axis=2)),
        "backlog": _relative(sim_stock, np.array([v for _, v in stock])),
        "applications": _relative(sim_apps, np.array([v for _, _, v in months])),
    }


def fit_quality(errs: dict[str, np.ndarray], dates: tuple[dt.date, ...]) -> dict[str, float]:
    """The target figures: RMS per family and the worst national release after 2019."""
    nat = errs["national"]
    after = np.array([d.year >= 2020 for d in dates])
    return {
        "national_rms": float(np.sqrt(np.mean(nat**2))),
        "worst_after_2019": float(np.max(np.abs(nat[after]))) if after.any() else float("nan"),
        "prefecture_rms": float(np.sqrt(np.mean(errs["prefecture"] ** 2))),
        "age_band_rms": float(np.sqrt(np.mean(errs["age_band"] ** 2))) if errs["age_band"].size else float("nan"),
        # the applied-but-not-issued stock against the dated figures (observed.BACKLOG_FIGURES): not a target
        "backlog_worst": float(np.max(np.abs(errs["backlog"])))
        if errs.get("backlog", np.zeros(0)).size else float("nan"),
        "applications_worst": float(np.max(np.abs(errs["applications"])))
        if errs.get("applications", np.zeros(0)).size else float("nan"),
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


def _eval_point(item: tuple[int, Target, np.ndarray]) -> tuple[int, np.ndarray]:
    """One Jacobian column's evaluation, on whatever worker the executor picks (picklable)."""
    j, problem, x = item
    return j, problem.residuals(x)


def _eval_params(item: tuple[int, Problem, Any]) -> tuple[int, Any]:
    """One run at given params (sensitivity checks); returns its series errors."""
    j, problem, params = item
    return j, series_errors(problem.simulate(np.zeros(0), params), problem.obs)


#: convergence tolerances (scipy least_squares); status 1-4 means one of them was met
TOLERANCES = {"ftol": 1e-5, "xtol": 1e-5, "gtol": 1e-6}


def fit(problem: Target, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray, advance: Any = lambda k=1: None,
        workers: int | None = None, executor: Any = None) -> dict[str, Any]:  # fmt: skip
    """Bounded least squares to convergence, with a forward-difference Jacobian evaluated in parallel.

    The Jacobian's columns run on the experiments runner's executor (:func:`twin.experiments.make_executor`:
    local processes by default, ``workers=0`` in-process), the same one sweeps and replications use.
    Scipy's internal evaluation limit is not a stopping rule here: when it is reached the optimiser
    continues from its last point. Returns ``converged`` (a tolerance was met), standard errors and
    the correlation matrix.
    """
    from scipy.optimize import least_squares

    from twin.experiments import make_executor

    workers = workers if workers is not None else max(1, min(len(x0), os.cpu_count() or 1))
    steps = 1e-3 * np.maximum(np.abs(x0), (hi - lo) * 1e-2)
    cache: dict[bytes, np.ndarray] = {}
    count = {"n": 0}

    def fun(x: np.ndarray) -> np.ndarray:
        key = np.asarray(x, dtype=np.float64).tobytes()
        if key not in cache:
            cache[key] = problem.residuals(x)
            count["n"] += 1
            advance(1)
        return cache[key]

    def jacobian(pool: Any, x: np.ndarray) -> np.ndarray:
        f0 = fun(x)
        points, hs = [], []
        for j in range(len(x)):
            h = steps[j] if x[j] + steps[j] <= hi[j] else -steps[j]
            xj = x.copy()
            xj[j] += h
            points.append(xj)
            hs.append(h)
        done = dict(pool.imap_unordered(_eval_point, [(j, problem, xj) for j, xj in enumerate(points)]))
        count["n"] += len(points)
        advance(len(points))
        return np.stack([(done[j] - f0) / h for j, h in enumerate(hs)], axis=1)

    pool = executor if executor is not None else make_executor(workers)
    rounds = 0
    try:
        x = np.clip(np.asarray(x0, dtype=np.float64), lo, hi)
        while True:
            rounds += 1
            res = least_squares(fun, x, jac=lambda v: jacobian(pool, v), bounds=(lo, hi), method="trf",
                                x_scale="jac", **TOLERANCES)  # fmt: skip
            x = res.x
            if res.status != 0:  # 0: scipy's evaluation limit, which is not a stopping rule here
                break
        J = jacobian(pool, res.x)  # a fresh Jacobian at the optimum for the covariance
    finally:
        if executor is None:
            pool.close()
    m, k = J.shape
    dof = max(m - k, 1)
    s2 = float(res.fun @ res.fun) / dof
    try:
        cov = s2 * np.linalg.inv(J.T @ J)
        stderr = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
        stderr = np.full(k, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(stderr, stderr)
    return {"x": res.x, "stderr": stderr, "cov": cov, "corr": corr, "cost": float(res.cost),
            "nfev": count["n"], "status": int(res.status), "converged": res.status > 0,
            "message": str(res.message), "residual_variance": s2, "restarts": rounds - 1,
            "active_bounds": res.active_mask.tolist(), "condition_number": float(np.linalg.cond(J))}  # fmt: skip


# ---- raking: many-level effects fitted by iterative proportional adjustment -------------------------
#: a release's cumulative cards before this date inform the base hazard effects; growth after it the
#: lever-response effects (My Number Points phase 1 opened 2020-07)
LEVER_ERA = dt.date(2020, 7, 1)


def rake_step(problem: Problem, r: Any, dims: list[str], damping: float = 0.8) -> tuple[dict[str, list[float]], float]:
    """One proportional adjustment of the age-band and prefecture effects from a run ``r``.

    For each level: log(observed / twin) of the cards before :data:`LEVER_ERA` moves its hazard
    effect, and log(observed / twin) of the cards added since moves its lever-response effect.
    Returns the new effects and the largest change (log units)."""
    obs, h = problem.obs, problem.base.hazard
    idx = [r.record_days.index((d - r.day0).days) for d in obs.dates]
    pre = np.array([d < LEVER_ERA for d in obs.dates])
    out: dict[str, list[float]] = {}
    moved = 0.0

    def adjust(sim: np.ndarray, seen: np.ndarray, cur_static: list[float], cur_lever: list[float],
               static_key: str, lever_key: str,
               pool: Callable[[np.ndarray], np.ndarray] = lambda a: a) -> None:  # fmt: skip
        nonlocal moved
        rows = np.flatnonzero(~np.isnan(seen[:, 0]))
        p_rows = [i for i in rows if pre[i]]
        q_rows = [i for i in rows if not pre[i]]
        new_s, new_l = np.array(cur_static, dtype=float), np.array(cur_lever, dtype=float)
        if p_rows:
            ratio = seen[p_rows].sum(axis=0) / np.maximum(sim[p_rows].sum(axis=0), 1.0)
            step = damping * np.log(np.clip(ratio, 0.2, 5.0))
            new_s += step
            moved = max(moved, float(np.abs(step).max()))
        if q_rows and p_rows:
            base_i = p_rows[-1]
            add_seen = pool(seen[q_rows] - seen[base_i]).sum(axis=0)
            add_sim = pool(sim[q_rows] - sim[base_i]).sum(axis=0)
            ratio = np.maximum(add_seen, 1.0) / np.maximum(add_sim, 1.0)
            step = damping * np.log(np.clip(ratio, 0.2, 5.0))
            new_l += step
            moved = max(moved, float(np.abs(step).max()))
        out[static_key] = np.clip(new_s, -4.9, 4.9).round(6).tolist()
        out[lever_key] = np.clip(new_l, -4.9, 4.9).round(6).tolist()

    if "age" in dims:
        sim_band = r.issued_mix[idx].sum(axis=2) / r.scale
        adjust(sim_band, obs.band_cards.sum(axis=2), h.age_log_rr, h.lever_age_log_rr,
               "hazard.age_log_rr", "hazard.lever_age_log_rr", pool=_pool_oldest)  # fmt: skip
    if "prefecture" in dims:
        sim_p = obs.by_prefecture(r.issued_muni[idx] / r.scale)
        adjust(sim_p, obs.by_prefecture(obs.muni_cards), h.prefecture_log_rr, h.lever_prefecture_log_rr,
               "hazard.prefecture_log_rr", "hazard.lever_prefecture_log_rr")  # fmt: skip
    return out, moved


def _pool_oldest(cards: np.ndarray) -> np.ndarray:
    """The 95-99 and 100+ bands share one lever response: about 80,000 people are 100 or older, too few
    cards added since the levers began to part their response from their own hazard (alone, the pair
    drifts apart round after round to the clip, one up, one down, and the outer loop never settles).
    Both columns get the pooled count; each band keeps its own hazard, raked on its own cards."""
    out = np.array(cards, dtype=np.float64, copy=True)
    out[:, -2:] = out[:, -2:].sum(axis=1, keepdims=True)
    return out


def with_raked(problem: Problem, raked: dict[str, list[float]]) -> Problem:
    from twin.models.rollout.setup import with_values

    return Problem(with_values(problem.base, raked), problem.cells, problem.obs, problem.day0, problem.n_days,
                   problem.paths, problem.closed, problem.mortality)  # fmt: skip


def rake(problem: Problem, x: np.ndarray, dims: list[str], iterations: int = 4, tol: float = 0.01,
         advance: Any = lambda k=1: None) -> tuple[Problem, dict[str, list[float]], float]:  # fmt: skip
    """Adjust the raked effects at fixed ``x`` until they move less than ``tol`` (log units)."""
    raked: dict[str, list[float]] = {}
    moved = float("inf")
    for _ in range(iterations):
        r = problem.simulate(x)
        advance(1)
        step, moved = rake_step(problem, r, dims)
        raked.update(step)
        problem = with_raked(problem, step)
        if moved < tol:
            break
    return problem, raked, moved



def start_vector(s: Any, base: Any, fit: dict[str, tuple[float, float]], get_path: Callable[[Any, str], Any]
                 ) -> tuple[list[str], list[float], list[float], list[float]]:  # fmt: skip
    """The fitted parameters' paths, their starting values (clipped into the bounds) and the bounds, for
    rollout and payout alike (``get_path`` reads a parameter of the kind's params).

    A path that names no number parameter is refused by name."""
    paths = list(fit)
    x0, lo, hi = [], [], []
    for pth in paths:
        v = get_path(base, pth)
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise InputError(f"{s.path}: params.calibration.fit.{pth}: is not a number parameter ({v!r})")
        a, b = fit[pth]
        lo.append(a)
        hi.append(b)
        x0.append(min(max(float(v), a), b))
    return paths, x0, lo, hi

def calibrate_file(path: str | Path, out: str | Path = "reports", progress: ProgressFactory = no_progress,
                   promote: bool = False, workers: int | None = None) -> Run:  # fmt: skip
    """Fit the ``params.calibration.fit`` parameters of a scenario file; returns the report's run folder.

    Raises :class:`NotConverged` (after writing the flagged report) when the fit did not converge."""
    from twin import scenario as sc

    s = sc.load(path)
    if s.kind not in CALIBRATABLE:
        raise InputError(f"{path}: kind: {s.kind!r} has no calibration (allowed: {', '.join(CALIBRATABLE)})")
    if s.kind == "payout":  # the payout's own targets and residuals, same least-squares machinery
        from twin.models.payout.calibrate import calibrate as calibrate_payout

        return calibrate_payout(s, out=out, progress=progress, workers=workers, promote=promote)
    return calibrate(s, out=out, progress=progress, promote=promote, workers=workers)


def _start_params(s: Any) -> Any:
    """The scenario's params, warm-started from its promoted fit when it names one that exists."""
    from twin.models.rollout.setup import read_fitted, resolve, with_values

    base = s.options[0].params
    if base.calibrated_from and resolve(base.calibrated_from).exists():
        try:
            return with_values(base, read_fitted(base.calibrated_from, need_converged=False))
        except InputError:
            return base  # a stale file (other parameters): start from the scenario's own values
    return base


def calibrate(s: Any, out: str | Path = "reports", progress: ProgressFactory = no_progress,
              workers: int | None = None, promote: bool = False, max_rounds: int = 20) -> Run:  # fmt: skip
    from twin.experiments import make_executor
    from twin.models.rollout.setup import cells_for, get_path, mortality_for, observed_for

    spec = s.spec
    base = _start_params(s)
    cal = base.calibration
    if not cal.fit:
        raise InputError(
            f"{s.path}: params.calibration.fit: is empty; name 1 to 8 parameters with [lower, upper] bounds"
        )
    if promote and not cal.promote_to:
        raise InputError(f"{s.path}: params.calibration.promote_to: is not set; --promote needs a file to update")
    paths, x0, lo, hi = start_vector(s, base, cal.fit, get_path)
    for pth in cal.sensitivity:
        get_path(base, pth)
    day0, end = spec.calendar.start, spec.calendar.end
    with progress("Reading the MIC releases", None):
        full_obs = observed_for(base, day0, end, strict=True)
        full_cells = cells_for(full_obs, spec.population.statistics)
        if cal.geography == "prefecture_type":
            from twin.models.rollout.observed import by_prefecture_and_type

            obs = by_prefecture_and_type(full_obs)
            cells = cells_for(obs, spec.population.statistics)
        else:
            obs, cells = full_obs, full_cells
    mortality = mortality_for(base)
    problem = Problem(base, cells, obs, day0, (end - day0).days + 1, paths, list(spec.calendar.closed_days),
                      mortality)
    t0 = time.perf_counter()
    x = np.array(x0)
    lo_a, hi_a = np.array(lo), np.array(hi)
    full = Problem(base, full_cells, full_obs, day0, problem.n_days, paths, problem.closed, mortality)
    start = full.simulate(x)
    workers = workers if workers is not None else max(1, min(len(x0), os.cpu_count() or 1))
    raked: dict[str, list[float]] = {}
    history: list[dict[str, Any]] = []
    outer_converged = not cal.rake
    with progress("Calibrating (model runs)", None) as advance, make_executor(workers) as pool:
        if cal.rake:
            problem, step, moved = rake(problem, x, list(cal.rake), advance=advance)
            raked.update(step)
        for rnd in range(max_rounds):
            result = fit(problem, x, lo_a, hi_a, advance, workers, executor=pool)
            x = result["x"]
            history.append({"round": rnd + 1, "evaluations": result["nfev"], "cost": result["cost"],
                            "message": result["message"]})  # fmt: skip
            if not cal.rake or not result["converged"]:
                outer_converged = result["converged"]
                break
            problem, step, moved = rake(problem, x, list(cal.rake), advance=advance)
            raked.update(step)
            history[-1]["raked_effects_moved"] = moved
            if moved < 0.05:
                # the effects held still: one more least-squares pass at them gives the reported optimum
                result = fit(problem, x, lo_a, hi_a, advance, workers, executor=pool)
                x = result["x"]
                history.append({"round": rnd + 2, "evaluations": result["nfev"], "cost": result["cost"],
                                "message": result["message"]})  # fmt: skip
                outer_converged = result["converged"]
                break
        result["converged"] = bool(result["converged"] and outer_converged)
        result["rounds"] = history
        result["evaluations_total"] = sum(h["evaluations"] for h in history)
        sens = sensitivity(problem, x, list(cal.sensitivity), pool)
        # the reported fit is the full model's, at the fitted and raked values
        full = Problem(problem.base, full_cells, full_obs, day0, problem.n_days, paths, problem.closed, mortality)
        best = full.simulate(x)
        result["search_quality"] = fit_quality(series_errors(problem.simulate(x), obs), obs.dates)
    wall = time.perf_counter() - t0
    run = write_report(s, out, full, result, start, best, np.array(x0), wall, raked, sens)
    if not result["converged"]:
        raise NotConverged(f"{s.path}: the fit did not converge ({result['message']}); report: {run.report}")
    if promote:
        promote_fit(run, problem.base.calibration.promote_to)
    return run


def sensitivity(problem: Problem, x: np.ndarray, paths: list[str], pool: Any) -> list[dict[str, Any]]:
    """Fit quality when each fixed parameter is scaled by :data:`SENSITIVITY_FACTORS`, the fitted ones held:
    a flat line says the releases cannot tell the values apart (the parameter is fixed, not fitted)."""
    from twin.models.rollout.setup import get_path, with_values

    at = problem.params_at(x)
    items, keys = [], []
    for pth in paths:
        v = get_path(at, pth)
        for f in SENSITIVITY_FACTORS:
            if isinstance(v, dict):
                nv: Any = {k: float(val) * f for k, val in v.items()}
            elif isinstance(v, list):
                nv = [float(val) * f for val in v]
            else:
                nv = float(v) * f
            try:
                params = with_values(at, {pth: nv}, where=f"sensitivity {pth} x{f:g}")
            except InputError:
                continue  # outside the parameter's allowed range
            keys.append((pth, f))
            items.append((len(items), problem, params))
    done = dict(pool.imap_unordered(_eval_params, items))
    out = []
    for j, (pth, f) in enumerate(keys):
        q = fit_quality(done[j], problem.obs.dates)
        r = residual_vector_from(done[j], problem.base.calibration.weights)
        out.append({"parameter": pth, "factor": f, "cost": 0.5 * float(r @ r), **q})
    return out


def residual_vector_from(errs: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    parts = [weights.get(k, 0.0) * e.reshape(-1) / np.sqrt(e.size / e.shape[0]) for k, e in errs.items()
             if weights.get(k, 0.0) > 0 and e.size]  # fmt: skip
    return np.concatenate(parts)


def promote_fit(run: Run, target: str) -> Path:
    """Copy a converged fit's ``fitted.json`` to the tracked file forecasts read (``twin calibrate --promote``)."""
    from twin.models.rollout.setup import resolve

    doc = json.loads((run.path / "fitted.json").read_text())
    if not doc.get("converged"):
        raise NotConverged(f"{run.path}/fitted.json: did not converge; it is not promoted to {target}")
    tp = resolve(target)
    if not tp.parent.exists():
        raise InputError(f"params.calibration.promote_to: {target}: folder {tp.parent} does not exist")
    tmp = tp.with_name(f".{tp.name}.tmp-{os.getpid()}")
    tmp.write_text((run.path / "fitted.json").read_text())
    os.replace(tmp, tp)
    return tp


def _fitted_doc(s: Any, paths: list[str], result: dict[str, Any], quality: dict[str, float],
                raked: dict[str, list[float]], obs: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "scenario": s.name,
        "scenario_file": str(s.path),
        "converged": bool(result["converged"]),
        "optimizer": result["message"],
        "fitted": {p: float(v) for p, v in zip(paths, result["x"], strict=True)},
        "stderr": {p: float(v) for p, v in zip(paths, result["stderr"], strict=True)},
        "correlation": np.round(np.nan_to_num(np.asarray(result["corr"]), nan=0.0), 4).tolist(),
        "covariance": np.asarray(result["cov"]).tolist(),
        "raked": raked,
        "releases": [obs.dates[0].isoformat(), obs.dates[-1].isoformat()],
        "quality": quality,
        "evaluations": result["evaluations_total"],
    }


def stock_text(errs: dict[str, np.ndarray], obs: Any) -> str:
    """The dated figures beside the releases: the applied-but-not-issued stock (fitted with weight
    ``calibration.weights.backlog``) and monthly applications (``weights.applications``), twin against source."""
    from twin.models.rollout.observed import APPLICATION_FIGURES, BACKLOG_FIGURES

    parts = []
    stock = [(d, v, src) for d, v, src in BACKLOG_FIGURES if obs.dates[0] <= d <= obs.dates[-1]]
    for (d, v, src), e in zip(stock, errs.get("backlog", []), strict=False):
        parts.append(f"applied but not yet issued on {d}: twin {v * (1 + e) / 1e6:.2f}M against {v / 1e6:.2f}M "
                     f"({100 * e:+.1f} %; {src})")
    months = [(a, v, src) for a, b, v, src in APPLICATION_FIGURES if obs.dates[0] <= b < obs.dates[-1]]
    for (a, v, src), e in zip(months, errs.get("applications", []), strict=False):
        parts.append(f"applications in {a:%Y-%m}: twin {v * (1 + e) / 1e6:.2f}M against {v / 1e6:.2f}M "
                     f"({100 * e:+.1f} %; {src})")
    return ("Dated figures beside the releases: " + "; ".join(parts) + ".") if parts else (
        "No dated backlog or application figure falls inside the fitted releases.")


def write_report(s: Any, out: str | Path, problem: Problem, result: dict[str, Any], start: Any, best: Any,
                 x0: np.ndarray, wall: float, raked: dict[str, list[float]] | None = None,
                 sens: list[dict[str, Any]] | None = None) -> Run:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from twin.models.rollout.observed import AGE_BANDS
    from twin.report.html import figure_png, render

    obs, paths = problem.obs, problem.paths
    errs = series_errors(best, obs)
    errs0 = series_errors(start, obs)
    raked = raked or {}
    sens = sens or []
    quality = fit_quality(errs, obs.dates)
    doc = _fitted_doc(s, paths, result, quality, raked, obs)
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
    for k, v in quality.items():
        m.add("fit_quality", v, measure=k)
    summary = {"converged": doc["converged"], "optimizer": result["message"], "fitted": doc["fitted"],
               "stderr": doc["stderr"], "quality": quality,
               "targets_met": {k: bool(quality[k] <= TARGETS[k]) for k in TARGETS},
               "national_rms_relative_error_start": float(np.sqrt(np.mean(errs0["national"] ** 2))),
               "evaluations": result["evaluations_total"], "wall_time_s": round(wall, 1)}  # fmt: skip
    (tmp / "summary.json").write_text(to_json(summary))
    (tmp / "fitted.json").write_text(to_json(doc))

    figs = []
    fig, ax = plt.subplots(figsize=(9, 4.4))
    x = np.datetime64(best.day0, "D") + np.arange(best.n_days)
    ax.plot(x.astype(object), best.daily["issued_cumulative"] / 1e6, lw=2, label="twin, fitted")
    ax.plot(x.astype(object), start.daily["issued_cumulative"] / 1e6, lw=1, ls="--", label="twin, starting values")
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
        ax.plot(list(obs.dates), 100 * best.issued_mix[idx, a].sum(axis=1) / pop_a, lw=1.5)
        ax.scatter(list(obs.dates), 100 * rate_obs, s=5, color="k")
        ax.set_title(AGE_BANDS[a], fontsize=8)
        ax.tick_params(labelsize=6, axis="both")
    fig.suptitle("Holding rate by age band: fitted (line) vs MIC (dots), %")
    figs.append(Figure("fit_age_bands", fig, "Every age band, fitted vs observed."))
    fig, axes = plt.subplots(6, 8, figsize=(18, 11), sharex=True, sharey=True)
    pop_p = obs.by_prefecture(obs.muni_population)
    sim_p = obs.by_prefecture(best.issued_muni[idx])
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
                 "at bound: no standard error" if act else ""]
                for pth, v0, v, se, act in zip(paths, x0, result["x"], result["stderr"], result["active_bounds"],
                                               strict=True)]  # fmt: skip
    corr = np.asarray(result["corr"])
    corr_rows = [[pth, *[float(c) for c in corr[i]]] for i, pth in enumerate(paths)]
    err_rows = [[d.isoformat(), o, o * (1 + e), 100 * e]
                for d, o, e in zip(obs.dates, obs.national, errs["national"], strict=True)]  # fmt: skip
    q0 = fit_quality(errs0, obs.dates)
    target_rows = [[k.replace("_", " "), 100 * TARGETS[k], 100 * quality[k], 100 * q0[k],
                    "met" if quality[k] <= TARGETS[k] else "NOT MET"] for k in TARGETS]  # fmt: skip
    verdict = ("Converged" if result["converged"] else "NOT CONVERGED: do not use this fit for forecasts")
    rounds = "; ".join(f"round {h['round']}: {h['evaluations']} runs, cost {h['cost']:.4g}"
                       + (f", raked effects moved {h['raked_effects_moved']:.3f}" if "raked_effects_moved" in h else "")
                       for h in result.get("rounds", []))  # fmt: skip
    sens_rows = [[r["parameter"], r["factor"], r["cost"], 100 * r["national_rms"], 100 * r["prefecture_rms"],
                  100 * r["age_band_rms"]] for r in sens]  # fmt: skip
    raked_rows = [[k, len(v), min(v), max(v)] for k, v in raked.items()]
    sections = [
        Section("Convergence", [
            Paragraph(f"{verdict}. Optimizer: {result['message']} Bounded least squares (trust-region reflective) "
                      f"on {len(obs.dates)} MIC releases ({obs.dates[0]} .. {obs.dates[-1]}), tolerances "
                      f"{', '.join(f'{k} {v:g}' for k, v in TOLERANCES.items())}, no evaluation cap "
                      f"({result.get('restarts', 0)} restart(s) after scipy's internal limit); "
                      f"{result['evaluations_total']} model runs in all, {wall:.0f} s. {rounds}. The optimiser "
                      f"searched on the {problem.base.calibration.geography.replace('_', ' x ')} geography (national "
                      f"RMS there {100 * result.get('search_quality', quality)['national_rms']:.2f} %); every "
                      "figure below is the full 1,741-municipality model at the fitted values."),
        ]),
        Section("Fitted parameters", [
            Paragraph("Standard errors from covariance = s^2 (J^T J)^-1 at the optimum (s^2: residual variance, J: "
                      "forward-difference Jacobian there); they are conditional on the raked effects below. "
                      f"Condition number of J: {result['condition_number']:.3g}."),
            Table("Fitted values", ["parameter", "start", "fitted", "std. error", "bounds", ""], par_rows,
                  formats={"start": "{:.4g}", "fitted": "{:.4g}", "std. error": "{:.2g}"}),
            Table("Correlation matrix of the estimates", ["parameter", *paths], corr_rows,
                  formats={pth: "{:+.2f}" for pth in paths}),
            Table("Raked effects (iterative proportional fitting between rounds; no standard errors)",
                  ["effect", "levels", "min (log)", "max (log)"], raked_rows,
                  formats={"min (log)": "{:+.2f}", "max (log)": "{:+.2f}"}),
        ]),
        Section("Fit quality against the targets", [
            Table("Relative error (%) against the issue's targets", ["measure", "target", "fitted", "at start",
                                                                      "verdict"], target_rows,
                  formats={"target": "{:.0f}", "fitted": "{:.2f}", "at start": "{:.1f}"}),
            Paragraph(stock_text(errs, obs)),
            Table("National cumulative at each release", ["release", "MIC", "twin", "error %"], err_rows,
                  formats={"MIC": "{:,.0f}", "twin": "{:,.0f}", "error %": "{:+.2f}"}),
            *figs,
        ]),
        Section("Sensitivity of the fixed parameters", [
            Paragraph("Each fixed parameter scaled by the factor, every fitted and raked value held at the optimum. "
                      "Where the fit quality barely moves across a factor of four, the releases cannot identify the "
                      "parameter (it only shapes waiting times), so it is fixed from its source instead of fitted."),
            Table("Fit quality when a fixed parameter moves", ["parameter", "factor", "cost", "national RMS %",
                                                                "prefecture RMS %", "age-band RMS %"], sens_rows,
                  formats={"factor": "{:g}", "cost": "{:.5g}", "national RMS %": "{:.2f}",
                           "prefecture RMS %": "{:.2f}", "age-band RMS %": "{:.2f}"}),
        ]),
    ]  # fmt: skip
    commit = git_commit(Path(twin.__file__).resolve().parent.parent)
    manifest = {"run_id": rid, "scenario": {"name": s.name, "kind": s.kind, "file": str(s.path),
                "validated": s.spec.model_dump(mode="json")}, "seed": s.seed, "scale": s.scale,
                "versions": versions(), "git_commit": commit, "wall_time_s": round(wall, 3),
                "calibration": {"paths": paths, "evaluations": result["evaluations_total"],
                                "converged": doc["converged"]}}  # fmt: skip
    (tmp / "manifest.json").write_text(to_json(manifest))
    page = render(title=f"Calibration: {s.title}", subtitle=s.spec.description or "",
                  meta={"scenario": f"{s.name} ({s.kind})", "run": rid, "version": twin.__version__,
                        "commit": (commit or "unknown")[:12]},
                  scale=s.scale, sections=sections, figures_png=pngs, sources=[], assumptions=[])  # fmt: skip
    (tmp / "index.html").write_text(page, encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return Run(final)
