"""Gathering finished work for comparison: run folders and sweep folders read as one kind of thing.

A working group compares the 2020 design with a faster one, a run from last week with a sweep from
today. Each folder becomes a :class:`Source`: a label, its manifest, its headline numbers and its
series in the sweep's tidy shape (a run folder is a sweep of one point and one replication), and
the data sources and assumptions it rests on. :func:`comparison` puts every source's headline bands
side by side.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from twin.errors import InputError
from twin.experiments.analysis import bands
from twin.experiments.task import SERIES, SUMMARY, flatten_summary


@dataclass
class Source:
    """One run or sweep folder, read for comparison."""

    path: Path
    kind: str  # "run" | "sweep"
    label: str
    manifest: dict[str, Any]
    results: pd.DataFrame  # point, replication, option, origin, metric, labels, time, value
    points: pd.DataFrame  # point, <swept params...>
    sources: list[str] = field(default_factory=list)
    assumptions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scale(self) -> float:
        return float(self.manifest.get("scale", 1.0))

    def point_label(self, point: int) -> str:
        row = self.points[self.points["point"] == point]
        params = [c for c in self.points.columns if c != "point"]
        if row.empty or not params:
            return self.label
        values = ", ".join(f"{c.split('.')[-1]}={row.iloc[0][c]:.4g}" for c in params)
        return f"{self.label} [{values}]"


def load_source(path: str | Path, series: Sequence[str] = ()) -> Source:
    """A run folder (manifest.json, summary.json, metrics.parquet) or a sweep folder."""
    p = Path(path)
    if not p.is_dir():
        raise InputError(f"{p}: no such folder (give run folders reports/<scenario>/<run-id> or sweep folders)")
    if not (p / "manifest.json").exists():
        raise InputError(f"{p}: not a run or sweep folder (no manifest.json)")
    manifest = json.loads((p / "manifest.json").read_text())
    if manifest.get("experiment") == "sweep":
        if not (p / "results.parquet").exists():
            raise InputError(f"{p}: the sweep has not finished (no results.parquet); rerun `twin sweep` to resume it")
        prov = json.loads((p / "provenance.json").read_text()) if (p / "provenance.json").exists() else {}
        return Source(
            path=p,
            kind="sweep",
            label=f"{manifest['scenario']['name']}/sweep-{manifest['sweep_id'][:8]}",
            manifest=manifest,
            results=pd.read_parquet(p / "results.parquet"),
            points=pd.read_parquet(p / "points.parquet"),
            sources=list(prov.get("sources", [])),
            assumptions=list(prov.get("assumptions", [])),
        )
    if not (p / "summary.json").exists():
        raise InputError(f"{p}: not a run folder (no summary.json)")
    summary = json.loads((p / "summary.json").read_text())
    options = list(manifest.get("options", []))
    heads = flatten_summary(summary, options)
    rows = pd.DataFrame(
        {
            "option": [h[0] for h in heads],
            "origin": SUMMARY,
            "metric": [h[1] for h in heads],
            "labels": "",
            "time": pd.Series([pd.NaT] * len(heads), dtype="datetime64[s]"),
            "value": [h[2] for h in heads],
        }
    )
    parts = [rows]
    if series and (p / "metrics.parquet").exists():
        m = pd.read_parquet(p / "metrics.parquet")
        m = m if "*" in series else m[m["metric"].isin(series)]
        parts.append(m.assign(origin=SERIES)[list(rows.columns)])
    results = pd.concat(parts, ignore_index=True)
    results.insert(0, "replication", 0)
    results.insert(0, "point", 0)
    sc = manifest.get("scenario", {})
    return Source(
        path=p,
        kind="run",
        label=f"{sc.get('name', p.parent.name)}/{str(manifest.get('run_id', p.name))[:8]}",
        manifest=manifest,
        results=results,
        points=pd.DataFrame({"point": [0]}),
        sources=[],
        assumptions=run_assumptions(manifest),
    )


def run_assumptions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """A run folder's params (from its manifest), with the model's sources where it declares them."""
    sc = manifest.get("scenario", {})
    params = (sc.get("validated") or {}).get("params") or {}
    sourced: dict[str, str] = {}
    try:
        from twin.models import model_module

        mod = model_module(sc.get("kind", ""))
        sourced = getattr(mod, "SOURCED", None) or getattr(getattr(mod, "params", None), "SOURCED", None) or {}
    except (KeyError, ImportError):
        pass
    out = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict) and node:
            for k in node:
                walk(node[k], [*path, str(k)])
        else:
            name = ".".join(path)
            out.append({"name": name, "value": json.dumps(node, ensure_ascii=False), "source": sourced.get(name)})

    walk(params, [])
    return out


def load_sources(paths: Sequence[str | Path], series: Sequence[str] = ()) -> list[Source]:
    if not paths:
        raise InputError("give at least one run or sweep folder")
    out = [load_source(p, series) for p in paths]
    labels = [s.label for s in out]
    for s in out:  # the same label twice (two runs of one scenario): add the folder name
        if labels.count(s.label) > 1:
            s.label = f"{s.label} ({s.path})"
    return out


def comparison(sources: Sequence[Source]) -> pd.DataFrame:
    """Headline bands of every source, point and option: a long table (one row per metric and column).

    ``column`` names what is compared: ``<source label>[ <point values>] · <option>``.
    """
    frames = []
    for s in sources:
        heads = s.results[s.results["origin"] == SUMMARY]
        if (heads["option"] != "").any():  # per-option numbers exist: the rest (scale, seed) is context
            heads = heads[heads["option"] != ""]
        b = bands(heads, ["point", "option", "metric"])
        b.insert(0, "source", s.label)
        b["column"] = [
            f"{s.point_label(int(pt))} · {opt}" if opt else s.point_label(int(pt))
            for pt, opt in zip(b["point"], b["option"], strict=True)
        ]
        frames.append(b)
    return pd.concat(frames, ignore_index=True)
