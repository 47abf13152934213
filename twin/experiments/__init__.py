"""Experiments: replications, option comparisons, parameter sweeps and sensitivity, at any scale.

A single run answers "what happens"; a planner needs "how sure are we" and "what if". An
experiment runs a scenario many times -- replications with fresh random streams, points of a design
that turn its parameters -- and reads the spread: 10/50/90 % bands, paired option differences with
common random numbers, Morris screening. Three lines in a notebook::

    from twin import experiments
    sw = experiments.sweep("scenarios/payout_2020.yaml", ["verification.minutes_mail=2:4"], grid=3, reps=20)
    sw.headline()

The same runner serves the command line (``twin sweep``), the calibration engineer and any
executor: local processes, a Dask LocalCluster, or a Dask scheduler by address. A calibration
evaluates whatever points its optimiser proposes, with the same caching and common random numbers::

    plan = experiments.Plan(scenario, ({"behaviour.mail_reply_median_days": 5.0}, ...), replications=5,
                            design={"kind": "calibration", "iteration": 3})
    with experiments.LocalExecutor(2) as ex:
        headline = experiments.run_plan(plan, executor=ex).headline()

Modules: :mod:`.space` (params and designs), :mod:`.task` (the unit of
work), :mod:`.executors`, :mod:`.runner` (streaming, caching, resuming, merging), :mod:`.analysis`
(bands, paired comparisons), :mod:`.sensitivity` (Morris).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.experiments.analysis import bands, headline_table, paired
from twin.experiments.executors import (
    DaskExecutor,
    Executor,
    InlineExecutor,
    LocalExecutor,
    make_executor,
)
from twin.experiments.runner import Plan, Sweep, open_sweep, run_plan
from twin.experiments.sensitivity import morris_design, morris_indices
from twin.experiments.space import Param, ParamSpace, Point, param_space, parse_param, with_params
from twin.experiments.task import ReplicationContext, Task, TaskResult, make_task, run_task
from twin.runs import ProgressFactory, no_progress, stream_key
from twin.scenario import Scenario


def design_rng(seed: int) -> np.random.Generator:
    """The stream that places a design's points (LHS, Morris): named, so it never shifts a model's."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream_key("experiments.design"),)))


MAX_POINTS = 10_000
"""The most points one sweep may have (a grid is levels ** varied params): refused before any is built."""


def design_points(
    space: ParamSpace,
    *,
    seed: int,
    grid: int | None = None,
    lhs: int | None = None,
    morris: int | None = None,
    morris_levels: int = 4,
) -> tuple[list[Point], dict[str, Any]]:
    """The points of one design (at most one of grid / lhs / morris; none: the scenario as it is)."""
    chosen = [n for n, v in (("--grid", grid), ("--lhs", lhs), ("--morris", morris)) if v is not None]
    if len(chosen) > 1:
        raise InputError(f"{' and '.join(chosen)}: choose one design")
    if space.varied and not chosen:
        raise InputError("--param with a range needs a design: --grid N, --lhs N or --morris R")
    k = len(space.varied)
    planned = {"--grid": (grid or 0) ** k if k else 1, "--lhs": lhs or 0, "--morris": (morris or 0) * (k + 1)}
    for option, n in planned.items():
        if option in chosen and n > MAX_POINTS:
            value = {"--grid": grid, "--lhs": lhs, "--morris": morris}[option]
            raise InputError(f"{option}: {value} gives {n:,} points for {k} varied param(s); at most "
                             f"{MAX_POINTS:,} points are allowed in one sweep")  # fmt: skip
    if grid is not None:
        return space.grid(grid), {"kind": "grid", "levels": grid}
    if lhs is not None:
        return space.lhs(lhs, design_rng(seed)), {"kind": "lhs", "points": lhs}
    if morris is not None:
        pts = morris_design(space, morris, design_rng(seed), morris_levels)
        return pts, {"kind": "morris", "trajectories": morris, "levels": morris_levels}
    return [space.at([])], {"kind": "replications"}


def sweep(
    scenario: str | Path | Scenario,
    params: Sequence[str] = (),
    *,
    grid: int | None = None,
    lhs: int | None = None,
    morris: int | None = None,
    reps: int = 1,
    series: Sequence[str] = (),
    seed: int | None = None,
    scale: float | None = None,
    workers: int | None = None,
    cluster: str | None = None,
    local_cluster: bool = False,
    executor: Executor | None = None,
    out: str | Path = "reports",
    progress: ProgressFactory = no_progress,
) -> Sweep:
    """Validate, plan and run a sweep (see ``twin sweep --help``); returns the finished :class:`Sweep`."""
    from twin import scenario as sc

    s = scenario if isinstance(scenario, Scenario) else sc.load(scenario)
    base = s.with_overrides(seed=seed, scale=scale)
    space = param_space(base, params)
    points, design = design_points(space, seed=base.seed, grid=grid, lhs=lhs, morris=morris)
    plan = Plan(base, tuple(points), reps, space, tuple(series), design)
    if executor is not None:
        return run_plan(plan, out=out, executor=executor, progress=progress)
    with make_executor(workers, cluster=cluster, local_cluster=local_cluster) as ex:
        return run_plan(plan, out=out, executor=ex, progress=progress)


def replicate(scenario: str | Path | Scenario, reps: int, **kwargs: Any) -> Sweep:
    """``reps`` replications of a scenario (all options, common random numbers): a sweep of one point."""
    return sweep(scenario, (), reps=reps, **kwargs)


__all__ = [
    "DaskExecutor",
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "Param",
    "ParamSpace",
    "Plan",
    "Point",
    "ReplicationContext",
    "Sweep",
    "Task",
    "TaskResult",
    "bands",
    "design_points",
    "design_rng",
    "headline_table",
    "make_executor",
    "make_task",
    "morris_design",
    "morris_indices",
    "open_sweep",
    "paired",
    "param_space",
    "parse_param",
    "replicate",
    "run_plan",
    "run_task",
    "sweep",
    "with_params",
]
