"""Which knobs matter: Morris elementary effects (screening) over a sweep's parameters.

Before a working group argues about the exact verification speed, it should know whether that
number moves the answer at all. Morris screening walks ``r`` random trajectories through the
parameter box (each param's range scaled to [0, 1] and cut into ``levels`` levels); each step
changes one param by Δ = levels / (2 (levels - 1)) and the change in the output, divided by the
step, is one *elementary effect* of that param. Over the trajectories:

- ``mu_star`` (mean of |effect|): how much the param matters at all (Campolongo et al. 2007);
- ``mu`` (mean effect): its direction, when all effects share a sign;
- ``sigma`` (std of effects): how much its effect depends on where the others are (interactions or
  non-linearity).

Effects are per whole range (output change if the param went from LO to HI at that slope). The
design costs r (k + 1) points for k params. This is a small implementation of Morris (1991) with
the radial-free trajectory design; SALib is not needed for it. The outputs are the means over a
point's replications, which share random streams with every other point (common random numbers),
so the noise largely cancels in each difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.errors import InputError
from twin.experiments.space import ParamSpace, Point


def morris_design(space: ParamSpace, trajectories: int, rng: np.random.Generator, levels: int = 4) -> list[Point]:
    """``trajectories`` Morris trajectories of k + 1 points each (k = number of varied params)."""
    k = len(space.varied)
    if k == 0:
        raise InputError("--morris: give at least one --param NAME=LO:HI with LO < HI to screen")
    if trajectories < 2:
        raise InputError(f"--morris: {trajectories} trajectories are too few to estimate a spread (at least 2)")
    if levels < 2 or levels % 2:
        raise InputError(f"--morris-levels: {levels} is not an even number of levels (at least 2)")
    delta = levels / (2 * (levels - 1))
    grid = np.arange(levels) / (levels - 1)
    points: list[Point] = []
    for _ in range(trajectories):
        x = rng.choice(grid, size=k)
        signs = rng.choice([-1.0, 1.0], size=k)
        order = rng.permutation(k)
        points.append(space.at(x))
        for i in order:
            step = signs[i] * delta
            if not 0.0 <= x[i] + step <= 1.0 + 1e-12:
                step = -step
            x = x.copy()
            x[i] = min(1.0, max(0.0, x[i] + step))
            points.append(space.at(x))
    return points


def elementary_effects(space: ParamSpace, points: list[Point], outputs: np.ndarray) -> dict[str, list[float]]:
    """Elementary effects per param from consecutive points of each trajectory (k + 1 points each)."""
    varied = space.varied
    k = len(varied)
    if len(points) % (k + 1) or len(points) != len(outputs):
        raise ValueError(f"{len(points)} points are not whole Morris trajectories of {k + 1} points")
    effects: dict[str, list[float]] = {p.name: [] for p in varied}
    for start in range(0, len(points), k + 1):
        for j in range(start, start + k):
            a, b = points[j], points[j + 1]
            moved = [p for p in varied if a[p.name] != b[p.name]]
            if len(moved) != 1:
                continue  # an integer param rounded the step away: no effect to read
            p = moved[0]
            du = (b[p.name] - a[p.name]) / (p.hi - p.lo)
            dy = outputs[j + 1] - outputs[j]
            if np.isfinite(dy):
                effects[p.name].append(float(dy / du))
    return effects


def morris_indices(space: ParamSpace, points: list[Point], results: pd.DataFrame) -> pd.DataFrame:
    """mu, mu_star and sigma of every varied param for every headline (option, metric) of a sweep.

    ``results`` are the sweep's tidy results; each point's output is its mean over replications.
    """
    heads = results[results["origin"] == "summary"]
    means = heads.groupby(["option", "metric", "point"], sort=True)["value"].mean()
    rows = []
    for (option, metric), series in means.groupby(level=[0, 1], sort=True):
        y = series.droplevel([0, 1]).reindex(range(len(points))).to_numpy(dtype="float64")
        for name, ee in elementary_effects(space, points, y).items():
            e = np.asarray(ee)
            rows.append(
                {
                    "option": option,
                    "metric": metric,
                    "param": name,
                    "mu": float(e.mean()) if len(e) else float("nan"),
                    "mu_star": float(np.abs(e).mean()) if len(e) else float("nan"),
                    "sigma": float(e.std(ddof=1)) if len(e) > 1 else float("nan"),
                    "effects": len(e),
                }
            )
    return pd.DataFrame(rows, columns=["option", "metric", "param", "mu", "mu_star", "sigma", "effects"])
