"""Running an experiment: every (point, replication) of a plan, streamed to disk, resumable.

Like a payout office that files each finished application in its own folder the moment it is
done, the runner writes each task's rows to ``tasks/<input-hash>.parquet`` as soon as a worker
returns it (written to a temporary name and renamed, so a crash never leaves half a file). Memory
stays bounded by the executor's window. A rerun of the same plan finds the finished files and
hands out only the missing tasks, so an interrupted sweep resumes where it stopped. At the end the
files are merged in (point, replication) order, one Parquet row group per point, so the merged
``results.parquet`` is the same bytes whether the work ran on one process, two, or a Dask cluster,
in one go or in three interrupted attempts.

A sweep folder ``<out>/<scenario>/sweep-<id>/`` holds ``manifest.json``, ``points.parquet`` (the
design: one row per point with the swept values), ``results.parquet`` (tidy: point, replication,
option, origin, metric, labels, time, value), ``bands.parquet`` (10/50/90 % over replications),
``provenance.json`` (the model's data sources and assumptions) and the ``tasks/`` cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import twin
from twin.errors import InputError
from twin.experiments.executors import Executor, LocalExecutor
from twin.experiments.space import ParamSpace, Point, with_params
from twin.experiments.task import Task, TaskResult, make_task, run_task
from twin.metrics import write_parquet
from twin.runs import ProgressFactory, git_commit, no_progress, to_json, versions
from twin.scenario import Scenario

RESULT_SCHEMA = pa.schema(
    [
        ("point", pa.int32()),
        ("replication", pa.int32()),
        ("option", pa.string()),
        ("origin", pa.string()),
        ("metric", pa.string()),
        ("labels", pa.string()),
        ("time", pa.timestamp("s")),
        ("value", pa.float64()),
    ]
)
TASK_SCHEMA = pa.schema([f for f in RESULT_SCHEMA if f.name not in ("point", "replication")])
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}


@dataclass(frozen=True)
class Plan:
    """What to run: a validated scenario (seed and scale applied), the points of a design, replications."""

    scenario: Scenario
    points: tuple[Point, ...]
    replications: int = 1
    space: ParamSpace = ParamSpace(())
    series: tuple[str, ...] = ()
    design: dict[str, Any] = field(default_factory=lambda: {"kind": "replications"})

    def __post_init__(self) -> None:
        if self.replications < 1:
            raise InputError(f"--reps: {self.replications} is not a number of replications (at least 1)")
        if not self.points:
            raise InputError("the design has no points")

    def describe(self) -> dict[str, Any]:
        """The plan's inputs as JSON (hashed into the sweep id, written to the manifest)."""
        s = self.scenario
        return {
            "scenario": {
                "name": s.name,
                "kind": s.kind,
                "title": s.title,
                "file": _path(s),
                "file_sha256": hashlib.sha256(s.source).hexdigest(),
                "validated_sha256": s.digest(),
            },
            "seed": s.seed,
            "scale": s.scale,
            "options": [o.name for o in s.options],
            "params": [p.spec() for p in self.space.params],
            "design": self.design,
            "points": len(self.points),
            "replications": self.replications,
            "series": list(self.series),
            "version": twin.__version__,
        }

    def sweep_id(self) -> str:
        text = json.dumps([self.describe(), [sorted(p.items()) for p in self.points]], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def tasks(self) -> list[tuple[int, Task]]:
        """(point index, task) for every point and replication, in merge order."""
        out = []
        for i, values in enumerate(self.points):
            first = make_task(with_params(self.scenario, values), 0, series=self.series)
            for r in range(self.replications):  # replications share the point's scenario text
                out.append((i, dataclasses.replace(first, replication=r)))
        return out


def _path(s: Scenario) -> str | None:
    return str(s.path) if s.path else None


@dataclass
class Sweep:
    """A sweep folder; the counters say what this call computed and what it found finished."""

    path: Path
    computed: int = 0
    cached: int = 0
    wall_s: float = 0.0
    compute_s: float = 0.0
    cpu_s: float = 0.0
    workers: int = 1

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / "manifest.json").read_text())

    @property
    def points(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "points.parquet")

    @property
    def results(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "results.parquet")

    @property
    def bands(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "bands.parquet")

    @property
    def provenance(self) -> dict[str, Any]:
        return json.loads((self.path / "provenance.json").read_text())

    def headline(self) -> pd.DataFrame:
        """Headline numbers, one row per (point, option, metric) with 10/50/90 % over replications."""
        b = self.bands
        return b[b["origin"] == "summary"].drop(columns=["origin", "labels", "time"]).reset_index(drop=True)

    @property
    def overhead(self) -> float:
        """Runner overhead per replication as a share of the replication's own time (this call)."""
        if not self.computed or self.compute_s <= 0:
            return float("nan")
        return (self.wall_s * self.workers - self.compute_s) / self.compute_s

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}, computed={self.computed}, cached={self.cached})"


def run_plan(
    plan: Plan,
    *,
    out: str | Path = "reports",
    executor: Executor | None = None,
    progress: ProgressFactory = no_progress,
) -> Sweep:
    """Run every missing task of ``plan`` and (re)write the sweep folder; returns the :class:`Sweep`."""
    folder = Path(out) / plan.scenario.name / f"sweep-{plan.sweep_id()}"
    tasks_dir = folder / "tasks"
    try:
        tasks_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--out {out}: cannot create the sweep folder: {e.strerror}") from None
    for stale in [*tasks_dir.glob(".*.tmp"), *folder.glob(".results.*.tmp")]:  # left by an interrupted attempt
        stale.unlink(missing_ok=True)
    started = time.time()
    t0 = time.perf_counter()
    indexed = plan.tasks()
    unique = list({t.key: t for _, t in indexed}.values())  # equal points share their files
    todo = [t for t in unique if not (tasks_dir / f"{t.key}.parquet").exists()]
    sweep = Sweep(folder, cached=len(unique) - len(todo))
    own = executor is None
    ex: Executor = executor if executor is not None else LocalExecutor()
    sweep.workers = ex.workers
    try:
        with progress(f"{plan.scenario.name}: {len(unique)} runs on {ex.description}", len(unique)) as advance:
            advance(sweep.cached)
            if todo:
                for res in ex.imap_unordered(run_task, todo):
                    write_task(tasks_dir, res)
                    sweep.computed += 1
                    sweep.compute_s += res.seconds
                    sweep.cpu_s += res.cpu_seconds
                    advance(1)
    finally:
        if own:
            ex.close()
    merged = merge(plan, folder, indexed)
    wanted = {f"{t.key}.parquet" for t in unique}
    for f in tasks_dir.glob("*.parquet"):  # computed by older code or for another plan: never read again
        if f.name not in wanted:
            f.unlink(missing_ok=True)
    sweep.wall_s = time.perf_counter() - t0
    write_manifest(plan, folder, indexed, sweep, ex.description, started, merged)
    os.replace(merged, folder / "results.parquet")  # last: results.parquet marks a finished sweep
    return sweep


def write_task(tasks_dir: Path, res: TaskResult) -> None:
    """One task's rows, atomically: a temporary file renamed into place."""
    table = pa.Table.from_pandas(res.rows, schema=TASK_SCHEMA, preserve_index=False)
    meta = {
        b"seconds": repr(res.seconds).encode(),
        b"cpu_seconds": repr(res.cpu_seconds).encode(),
        b"sources": json.dumps(res.sources, ensure_ascii=False).encode(),
        b"assumptions": json.dumps(res.assumptions, ensure_ascii=False).encode(),
    }
    table = table.replace_schema_metadata(meta)
    tmp = tasks_dir / f".{res.key}.{os.getpid()}.tmp"
    pq.write_table(table, tmp, **PARQUET_OPTIONS)
    os.replace(tmp, tasks_dir / f"{res.key}.parquet")


def read_task(path: Path) -> tuple[pa.Table, dict[bytes, bytes]]:
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    return table.replace_schema_metadata(None).cast(TASK_SCHEMA), meta


def merge(plan: Plan, folder: Path, indexed: list[tuple[int, Task]]) -> Path:
    """Merge the task files in (point, replication) order into results, bands, points and provenance.

    One point at a time: memory holds one point's replications, never the whole sweep. Returns the
    merged results under a temporary name; the caller moves it into place when all else is written.
    """
    from twin.experiments.analysis import bands

    tasks_dir = folder / "tasks"
    tmp = folder / f".results.{os.getpid()}.tmp"
    by_point: dict[int, list[Task]] = {}
    for i, t in indexed:
        by_point.setdefault(i, []).append(t)
    provenance: dict[str, Any] = {"sources": [], "assumptions": []}
    point_bands = []
    with pq.ParquetWriter(tmp, RESULT_SCHEMA, **PARQUET_OPTIONS) as writer:
        for i in sorted(by_point):
            parts = []
            for t in by_point[i]:
                table, meta = read_task(tasks_dir / f"{t.key}.parquet")
                if i == 0 and t.replication == 0:
                    provenance = {
                        "sources": json.loads(meta.get(b"sources", b"[]")),
                        "assumptions": json.loads(meta.get(b"assumptions", b"[]")),
                    }
                n = table.num_rows
                table = table.add_column(0, "replication", pa.array([t.replication] * n, pa.int32()))
                table = table.add_column(0, "point", pa.array([i] * n, pa.int32()))
                parts.append(table)
            merged = pa.concat_tables(parts).cast(RESULT_SCHEMA)
            writer.write_table(merged)
            point_bands.append(bands(merged.to_pandas()))
    write_parquet(pd.concat(point_bands, ignore_index=True), str(folder / "bands.parquet"))
    points = pd.DataFrame({"point": range(len(plan.points))}).astype("int32")
    names = plan.space.names or list(dict.fromkeys(k for pt in plan.points for k in pt))
    for name in names:
        points[name] = [pt.get(name, float("nan")) for pt in plan.points]
    write_parquet(points, str(folder / "points.parquet"))
    (folder / "provenance.json").write_text(to_json(provenance))
    return tmp


def task_seconds(folder: Path, indexed: list[tuple[int, Task]], field: bytes = b"seconds") -> list[float]:
    """Each task's own time (``seconds``: wall inside the worker; ``cpu_seconds``) from its file."""
    out = []
    for _, t in indexed:
        meta = pq.read_schema(folder / "tasks" / f"{t.key}.parquet").metadata or {}
        out.append(float(meta.get(field, b"nan")))
    return out


def write_manifest(
    plan: Plan,
    folder: Path,
    indexed: list[tuple[int, Task]],
    sweep: Sweep,
    executor: str,
    started: float,
    results: Path,
) -> None:
    secs = task_seconds(folder, indexed)
    cpu = task_seconds(folder, indexed, b"cpu_seconds")
    manifest = {
        "experiment": "sweep",
        "sweep_id": folder.name.removeprefix("sweep-"),
        **plan.describe(),
        "tasks": len(indexed),
        "code_fingerprint": indexed[0][1].code,
        "computed_this_call": sweep.computed,
        "cached_this_call": sweep.cached,
        "executor": executor,
        "workers": sweep.workers,
        "replication_seconds_total": round(sum(secs), 3),
        "replication_seconds_mean": round(sum(secs) / max(len(secs), 1), 4),
        "replication_cpu_seconds_total": round(sum(cpu), 3),
        "versions": versions(),
        "git_commit": git_commit(Path(twin.__file__).resolve().parent.parent),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_time_s": round(sweep.wall_s, 3),
        "results_sha256": hashlib.sha256(results.read_bytes()).hexdigest(),
    }
    (folder / "manifest.json").write_text(to_json(manifest))


def open_sweep(path: str | Path) -> Sweep:
    """An existing sweep folder."""
    p = Path(path)
    if not (p / "manifest.json").exists() or not (p / "results.parquet").exists():
        raise InputError(f"{p}: not a sweep folder (no manifest.json and results.parquet)")
    return Sweep(p)
