"""The unit of work of every experiment: run scenario S with overrides P, seed s, replication r.

Like one shift of one counter clerk, a task is small, self-contained and can be handed to any
worker: a local process, a Dask worker on this machine or on another. It carries the validated
scenario with every override applied (seed, scale, swept values) as JSON -- not a file path, so a
remote worker needs no shared disk -- the replication number and which metric series to keep. :func:`run_task` is a
top-level function (picklable) that rebuilds the scenario, runs the model with the replication's
random streams and returns a small tidy frame: the headline numbers of the model's summary plus the
selected metric series, and the time the replication itself took inside the worker.

Replication ``r`` of every option and of every point draws from the same named streams
(``SeedSequence(seed, spawn_key=(component, r))``): common random numbers, so differences between
options or points are the options' doing, not the dice's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import twin
from twin.runs import ModelResult, RunContext
from twin.scenario import Scenario

#: columns of a task's rows (the merged results add ``point`` and ``replication`` in front)
ROW_COLUMNS = ["option", "origin", "metric", "labels", "time", "value"]
#: ``origin`` of headline numbers (from the model's summary) and of series (from its metrics)
SUMMARY, SERIES = "summary", "metrics"


#: a RunContext for one replication (its streams are that replication's); kept as a name for callers
ReplicationContext = RunContext


@dataclass(frozen=True)
class Task:
    """Run scenario S (with its param overrides, seed and scale applied) as replication r; keep ``series``."""

    #: the validated scenario after every override, as JSON (a remote worker needs no shared disk)
    spec_json: str
    path: str | None
    kind: str
    kind_module: str
    replication: int
    series: tuple[str, ...] = ()
    #: fingerprint of the code that computes the task (:func:`code_fingerprint`)
    code: str = ""

    @property
    def key(self) -> str:
        """The input hash: same scenario, overrides, replication, series and code -> same key."""
        text = json.dumps([self.spec_json, self.replication, list(self.series), self.kind_module, self.code])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class TaskResult:
    """What comes back from a worker: the task's key, its tidy rows and the replication's own time."""

    key: str
    rows: pd.DataFrame
    seconds: float
    #: CPU seconds of the replication (far below ``seconds`` when other work shares the cores)
    cpu_seconds: float = float("nan")
    sources: list[str] = field(default_factory=list)
    assumptions: list[dict[str, Any]] = field(default_factory=list)


def make_task(scenario: Scenario, replication: int, *, series: tuple[str, ...] = ()) -> Task:
    """A task for a validated scenario (swept values, seed and scale already applied)."""
    from twin.models import KINDS

    spec = json.dumps(scenario.spec.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return Task(
        spec_json=spec,
        path=str(scenario.path) if scenario.path else None,
        kind=scenario.kind,
        kind_module=KINDS[scenario.kind],
        replication=replication,
        series=tuple(series),
        code=code_fingerprint(KINDS[scenario.kind]),
    )


@lru_cache(maxsize=8)
def code_fingerprint(kind_module: str) -> str:
    """Hash of the twin's source files and the kind's module, with the package version.

    Part of every task key, so cached results never outlive the code that computed them: a rerun
    after a code change recomputes, a rerun of unchanged code (resuming) reuses what is finished.
    Other kinds' model modules (``twin/models/<other>``) are left out: they never run in this task.
    """
    import importlib.util

    h = hashlib.sha256(twin.__version__.encode())
    root = Path(twin.__file__).resolve().parent
    models = root / "models"
    own = kind_module.removeprefix("twin.models.").split(".")[0] if kind_module.startswith("twin.models.") else None

    def relevant(f: Path) -> bool:
        if not f.is_relative_to(models) or f.parent == models and f.name == "__init__.py":
            return True
        first = f.relative_to(models).parts[0]
        return first.removesuffix(".py") == own

    files = sorted(f for f in root.rglob("*.py") if relevant(f))
    spec = importlib.util.find_spec(kind_module)
    if spec is not None and spec.origin and not Path(spec.origin).resolve().is_relative_to(root):
        files.append(Path(spec.origin).resolve())
    for f in files:
        h.update(str(f.relative_to(root) if f.is_relative_to(root) else f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=64)
def resolve(spec_json: str, path: str | None) -> Scenario:
    """The validated scenario of a task (cached per process: replications of a point share it)."""
    from twin.scenario import validate

    return validate(json.loads(spec_json), Path(path) if path else None, spec_json.encode())


def _ensure_kind(kind: str, module: str) -> None:
    """A worker in another process learns test-only or plug-in kinds from the task itself."""
    from twin.models import KINDS

    if kind not in KINDS:
        KINDS[kind] = module


def run_task(task: Task) -> TaskResult:
    """Run one replication (top-level and picklable: this is what executors ship to workers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from twin.models import model_module
    from twin.report import Figure

    _ensure_kind(task.kind, task.kind_module)
    t0, c0 = time.perf_counter(), time.process_time()
    scenario = resolve(task.spec_json, task.path)
    ctx = ReplicationContext(scenario, replication=task.replication)
    result: ModelResult = model_module(scenario.kind).run(ctx)
    for section in result.sections:
        for block in section.blocks:
            if isinstance(block, Figure):
                plt.close(block.figure)
    rows = tidy_rows(result, [o.name for o in scenario.options], task.series)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return TaskResult(
        key=task.key,
        rows=rows,
        seconds=seconds,
        cpu_seconds=cpu,
        sources=list(result.sources),
        assumptions=[{"name": a.name, "value": a.value, "source": a.source} for a in result.assumptions],
    )


def flatten_summary(summary: Mapping[str, Any], options: list[str]) -> list[tuple[str, str, float]]:
    """Numeric leaves of a summary as (option, metric, value).

    Keys are joined with dots; a key that names an option (``options.same_day.days_to_90pct`` or
    ``same_day.days_to_90pct``) becomes the option column. Options come in the scenario's order, other
    keys sorted (a stable order for stable bytes). Text and lists are not headline numbers.
    """
    out: list[tuple[str, str, float]] = []

    def walk(node: Any, path: list[str], option: str) -> None:
        if isinstance(node, Mapping):  # options in the scenario's order, other keys sorted
            for k in sorted(node, key=lambda k: (0, options.index(k), "") if k in options else (1, 0, str(k))):
                k_s = str(k)
                if not option and k_s in options and (not path or path == ["options"]):
                    walk(node[k], [], k_s)
                else:
                    walk(node[k], [*path, k_s], option)
        elif isinstance(node, bool):
            out.append((option, ".".join(path), float(node)))
        elif isinstance(node, int | float | np.integer | np.floating):
            out.append((option, ".".join(path), float(node)))

    walk(summary, [], "")
    return out


def tidy_rows(result: ModelResult, options: list[str], series: tuple[str, ...]) -> pd.DataFrame:
    """Headline numbers and the selected series in one frame with columns :data:`ROW_COLUMNS`."""
    heads = flatten_summary(result.summary, options)
    parts = [
        pd.DataFrame(
            {
                "option": [h[0] for h in heads],
                "origin": SUMMARY,
                "metric": [h[1] for h in heads],
                "labels": "",
                "time": pd.Series([pd.NaT] * len(heads), dtype="datetime64[s]"),
                "value": np.array([h[2] for h in heads], dtype="float64"),
            }
        )
    ]
    if series:
        df = result.metrics.frame()
        keep = df if "*" in series else df[df["metric"].isin(series)]
        keep = keep.assign(origin=SERIES)
        parts.append(keep[ROW_COLUMNS].astype({"time": "datetime64[s]", "value": "float64"}))
    rows = pd.concat(parts, ignore_index=True)
    for c in ("option", "origin", "metric", "labels"):
        rows[c] = rows[c].astype(object)
    return rows.reset_index(drop=True)
