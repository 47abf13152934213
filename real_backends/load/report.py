"""What a load run measured, what the queueing model predicted for it, and the run folder.

After the run, every request is one sample (intended time, latency, status, server time). The
measured side is latency quantiles (p50/p90/p95/p99/max), throughput and errors, for the whole run
and per window of time. The predicted side takes the same arrivals and the server's mean service
time measured during the run (its ``Server-Timing``) and asks the M/M/c queue of the twin
(:mod:`twin.sim.erlang`, the failover model's exact response-time tail) with ``c`` = server worker
processes what the response times should be. Measured includes what the model leaves out (HTTP
parsing, the client, the card's APDUs), so the difference is itself a finding.

The folder ``reports/load/<id>/`` holds ``manifest.json``, ``metrics.parquet`` (tidy rows),
``summary.json`` and a self-contained ``index.html`` built from :mod:`twin.report` blocks; it is
written in a hidden folder and moved into place only when complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import brentq

from real_backends.load.arrivals import RatePlan
from real_backends.load.driver import Samples
from twin.metrics import Metrics, write_parquet
from twin.models.failover.engine import response_tail
from twin.report import Figure, Paragraph, Section, Table

QUANTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}


def latency_stats(latency_s: np.ndarray) -> dict[str, float]:
    """p50/p90/p95/p99/max in milliseconds (NaN when there are no samples)."""
    ms = np.asarray(latency_s, dtype=float) * 1000
    ms = ms[np.isfinite(ms)]
    if ms.size == 0:
        return {**{k: math.nan for k in QUANTILES}, "max": math.nan}
    out = {k: float(np.percentile(ms, q)) for k, q in QUANTILES.items()}
    out["max"] = float(ms.max())
    return out


def response_quantile(q: float, lam: float, mu: float, c: int) -> float:
    """The q-quantile (s) of M/M/c response time; inf when the queue is unstable (lam >= c mu)."""
    if lam <= 0:
        return -math.log(1 - q) / mu
    if lam >= c * mu:
        return math.inf
    hi = -math.log(1 - q) / mu
    while response_tail(hi, lam, mu, c) > 1 - q:
        hi *= 2
    return float(brentq(lambda t: response_tail(t, lam, mu, c) - (1 - q), 0.0, hi, xtol=1e-9))


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    sent: int
    completed_ok: int
    errors: int
    offered_rps: float
    stats: dict[str, float]


def windows(samples: Samples, duration: float, width: float) -> list[Window]:
    edges = np.arange(0.0, duration + width / 2, width)
    if edges[-1] < duration:
        edges = np.append(edges, duration)
    out = []
    which = np.clip(np.searchsorted(edges, samples.intended, side="right") - 1, 0, len(edges) - 2)
    for w in range(len(edges) - 1):
        mine = which == w
        ok = mine & samples.ok
        span = edges[w + 1] - edges[w]
        errors = int((mine & ~samples.ok).sum())
        out.append(Window(float(edges[w]), float(edges[w + 1]), int(mine.sum()), int(ok.sum()), errors,
                          float(mine.sum() / span), latency_stats(samples.latency[ok])))
    return out


def predicted(samples: Samples, duration: float, workers: int) -> dict[str, float]:
    """M/M/c with the run's mean arrival rate and mean measured service time, ``c = workers``."""
    service_ms = samples.server_ms[samples.ok & np.isfinite(samples.server_ms)]
    if service_ms.size == 0:
        return {"service_ms": math.nan, "utilisation": math.nan, **{k: math.nan for k in QUANTILES}}
    s = float(service_ms.mean()) / 1000
    lam = len(samples.intended) / duration
    mu = 1 / s
    out = {"service_ms": s * 1000, "utilisation": lam * s / workers}
    for k, q in QUANTILES.items():
        out[k] = response_quantile(q / 100, lam, mu, workers) * 1000
    return out


def summary(samples: Samples, plan: RatePlan, workers: int) -> dict[str, Any]:
    ok = samples.ok
    finished = samples.intended + np.where(np.isfinite(samples.latency), samples.latency, 0)
    span = max(float(np.nanmax(finished)) if len(finished) else plan.duration, plan.duration)
    return {
        "requests": int(len(samples.intended)),
        "ok": int(ok.sum()),
        "errors": int((~ok).sum()),
        "error_statuses": {str(k): int(v) for k, v in zip(*np.unique(samples.status[~ok], return_counts=True),
                                                            strict=True)},
        "offered_rps": len(samples.intended) / plan.duration,
        "throughput_rps": float(ok.sum()) / span,
        "latency_ms": latency_stats(samples.latency[ok]),
        "server_ms": latency_stats(samples.server_ms[ok] / 1000),
        "predicted_ms": predicted(samples, plan.duration, workers),
        "workers": workers,
        "concurrency": samples.concurrency,
    }


def _fmt(v: float) -> str:
    return "∞ (saturated)" if math.isinf(v) else ("-" if math.isnan(v) else f"{v:.2f}")


def sections(target: str, plan: RatePlan, samples: Samples, workers: int, width: float) -> list[Section]:
    s = summary(samples, plan, workers)
    lat, pred = s["latency_ms"], s["predicted_ms"]
    headline = Table("Whole run", ["requests", "ok", "errors", "offered/s", "throughput/s", *QUANTILES, "max ms"],
                     [[s["requests"], s["ok"], s["errors"], f"{s['offered_rps']:.1f}", f"{s['throughput_rps']:.1f}",
                       *(_fmt(lat[k]) for k in QUANTILES), _fmt(lat["max"])]],
                     note="Latency in ms from each request's intended send time (no coordinated omission).")
    compare = Table(
        "Predicted (M/M/c) vs measured latency, ms",
        ["quantile", "predicted", "measured", "measured - predicted"],
        [[k, _fmt(pred[k]), _fmt(lat[k]), _fmt(lat[k] - pred[k])] for k in QUANTILES],
        note=f"c = {workers} worker processes, mean service {_fmt(pred['service_ms'])} ms measured by the server, "
             f"utilisation {_fmt(pred['utilisation'])}. The model sees only the application's time; the rest is "
             "HTTP, the event loops and the client.",
    )
    rows = [[f"{w.start:.0f}-{w.end:.0f}", w.sent, w.completed_ok, w.errors, f"{w.offered_rps:.1f}",
             *(_fmt(w.stats[k]) for k in QUANTILES), _fmt(w.stats["max"])]
            for w in windows(samples, plan.duration, width)]
    over_time = Table("Over time", ["seconds", "sent", "ok", "errors", "offered/s", *QUANTILES, "max ms"], rows)
    intro = Paragraph(f"Target {target}: {plan.description}, {s['requests']:,} requests over {plan.duration:g} s, "
                      f"at most {samples.concurrency} in flight, against {workers} server worker(s).")
    return [Section("Load", [intro, headline, compare]), Section("Over time", [over_time, _figure(samples, plan)])]


def _figure(samples: Samples, plan: RatePlan) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    ok = samples.ok
    ax.plot(samples.intended[ok], samples.latency[ok] * 1000, ".", ms=2, alpha=0.4, label="ok")
    if (~ok).any():
        ax.plot(samples.intended[~ok], np.nan_to_num(samples.latency[~ok]) * 1000, "x", ms=3, label="error")
    ax.set_xlabel("intended send time (s)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    return Figure("latency", fig, "Latency of every request against its intended send time")


def metrics(samples: Samples, plan: RatePlan, width: float, started: dt.datetime) -> Metrics:
    m = Metrics()
    ws = windows(samples, plan.duration, width)
    times = [started.replace(tzinfo=None) + dt.timedelta(seconds=w.start) for w in ws]
    m.add_series("sent", times, [w.sent for w in ws])
    m.add_series("ok", times, [w.completed_ok for w in ws])
    m.add_series("errors", times, [w.errors for w in ws])
    for k in (*QUANTILES, "max"):
        m.add_series("latency_ms", times, [w.stats[k] for w in ws], quantile=k)
    return m


def write_run(root: Path, target: str, plan: RatePlan, samples: Samples, *, workers: int, inputs: dict[str, Any],
              width: float = 1.0) -> Path:
    """Write ``root/load/<id>/`` and return it (``<id>``: hash of the inputs, then the UTC start)."""
    from twin.report.html import figure_png, render

    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:10]
    folder = Path(root) / "load" / f"{target}-{digest}-{started:%Y%m%dT%H%M%SZ}"
    tmp = folder.parent / f".{folder.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "figures").mkdir(parents=True)
    secs = sections(target, plan, samples, workers, width)
    pngs = {}
    for sec in secs:
        for b in sec.blocks:
            if isinstance(b, Figure):
                pngs[b.name] = figure_png(b.figure)
                (tmp / "figures" / f"{b.name}.png").write_bytes(pngs[b.name])
    result = summary(samples, plan, workers)
    (tmp / "summary.json").write_text(json.dumps(strict(result), indent=2, sort_keys=True, allow_nan=False))
    (tmp / "manifest.json").write_text(json.dumps({"inputs": inputs, "started": started.isoformat()}, indent=2,
                                                  sort_keys=True, default=str))
    write_parquet(metrics(samples, plan, width, started).frame(), str(tmp / "metrics.parquet"))
    page = render(title=f"Load test: {target}", subtitle=plan.description,
                  meta={"started": started.isoformat(), "workers": str(workers)}, scale=1.0,
                  sections=secs, figures_png=pngs)
    (tmp / "index.html").write_text(page, encoding="utf-8")
    tmp.rename(folder)
    return folder


def strict(value: Any) -> Any:
    """``value`` with NaN and infinities as null (strict JSON), numpy numbers as Python ones."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value
