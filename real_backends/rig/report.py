"""The failover rig's report: how long the payout office was unreachable, and which requests failed.

After a drill the operations lead asks three questions: did every household get paid exactly
once, how long did the switch to the standby take, and what did clients see meanwhile.
:func:`write_report` answers them in a run folder like the model runs' (``manifest.json``,
``summary.json``, ``metrics.parquet`` with one tidy row per request attempt, ``failures.csv``,
``lost.csv`` (acknowledged applications the store no longer holds), ``figures/latency.png`` and
a self-contained ``index.html`` rendered by :mod:`twin.report.html`).
The folder is named by a hash of the rig's configuration and written to a hidden temporary
folder first, then moved into place whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd

from real_backends.rig.failover import RigResult
from twin.report import Figure, Paragraph, Section, Table
from twin.report.html import figure_png, render


def summary(result: RigResult) -> dict:
    """Headline numbers (JSON-ready)."""
    return {
        "households": result.config.households, "entitled": result.entitled, "paid": result.paid,
        "payments_in_store": result.payments_in_store, "exactly_once": result.exactly_once,
        "max_transfers_per_household": result.transfers_per_household_max, "unpaid": len(result.unpaid),
        "invariants_ok": result.invariants_ok, "store": result.store,
        "killed_at_s": round(result.killed_at, 4),
        "detected_after_s": None if result.detected_at is None else round(result.detected_at - result.killed_at, 4),
        "failover_s": None if result.failover_seconds is None else round(result.failover_seconds, 4),
        "failed_requests": len(result.failures), "requests": result.requests, "duration_s": round(result.duration, 3),
        "served": result.served, "phases_s": {k: round(v, 3) for k, v in result.phases.items()},
        "acknowledged": result.acknowledged, "lost": len(result.lost), "duplicated": result.duplicated,
        "killed": "postgresql primary" if result.database is not None else "app server primary",
        "database": None if result.database is None else _database_summary(result),
    }  # fmt: skip


def _database_summary(result: RigResult) -> dict:
    d = result.database or {}
    promoted = d.get("promoted_at")
    return {"commit": "synchronous" if d.get("synchronous") else "asynchronous",
            "promoted_after_s": None if promoted is None else round(promoted - result.killed_at, 4),
            "replication_before_kill": d.get("replication_before_kill", {})}  # fmt: skip


def run_id(result: RigResult) -> str:
    cfg = json.dumps({**dataclasses.asdict(result.config), "store": result.store}, sort_keys=True)
    return hashlib.sha256(cfg.encode()).hexdigest()[:12]


def _latency_figure(result: RigResult):  # noqa: ANN202 - a matplotlib Figure
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    ok = [(s, d) for s, d, _, st in result.timeline if 0 < st < 300]
    bad = [(s, d) for s, d, _, st in result.timeline if not 0 < st < 300]
    if ok:
        ax.scatter(*zip(*ok, strict=True), s=4, label="answered", color="#2b6cb0")
    if bad:
        ax.scatter(*zip(*bad, strict=True), s=14, marker="x", label="failed (retried)", color="#c53030")
    what = "PostgreSQL primary" if result.database is not None else "primary"
    ax.axvline(result.killed_at, color="black", linestyle="--", label=f"{what} killed (SIGKILL)")
    promoted = (result.database or {}).get("promoted_at")
    if promoted is not None:
        ax.axvline(promoted, color="#2f855a", linestyle=":", label="standby promoted")
    ax.set_xlabel("seconds since the run started")
    ax.set_ylabel("request time (s)")
    ax.set_yscale("log")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def write_report(result: RigResult, out: Path) -> Path:
    """Write the run folder ``out/<run-id>/`` (replacing an earlier one) and return its path."""
    out.mkdir(parents=True, exist_ok=True)
    folder = out / run_id(result)
    tmp = out / f".{folder.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "figures").mkdir(parents=True)
    s = summary(result)
    (tmp / "summary.json").write_text(json.dumps(s, indent=2, sort_keys=True))
    manifest = {"kind": "failover_rig", "config": dataclasses.asdict(result.config), "store": result.store}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    failures = pd.DataFrame([dataclasses.asdict(f) for f in result.failures],
                            columns=["at", "ended", "phase", "path", "attempt", "error"])  # fmt: skip
    failures.to_csv(tmp / "failures.csv", index=False)
    pd.DataFrame({"household": sorted(result.lost)}).to_csv(tmp / "lost.csv", index=False)
    metrics = pd.DataFrame(result.timeline, columns=["start_s", "seconds", "phase", "status"])
    metrics.to_parquet(tmp / "metrics.parquet", index=False)
    fig = _latency_figure(result)
    png = figure_png(fig)
    (tmp / "figures" / "latency.png").write_bytes(png)
    verdict = ("Every entitled household was paid exactly once" if result.exactly_once
               else "FAILED: the books do not show every household paid exactly once")  # fmt: skip
    fo = "not measured" if result.failover_seconds is None else f"{result.failover_seconds:.3f} s"
    db = _database_summary(result) if result.database is not None else None
    killed = "PostgreSQL primary (postmaster)" if db else "primary app server"
    fo_label = ("failover time (kill to first successful write on the promoted standby)" if db
                else "failover time (kill to first answer from the standby)")  # fmt: skip
    db_rows = [] if db is None else [
        ["commit", db["commit"]],
        ["standby promoted after", "never" if db["promoted_after_s"] is None else f"{db['promoted_after_s']:.3f} s"],
        ["acknowledged applications", f"{result.acknowledged:,}"],
        ["acknowledged applications lost", f"{len(result.lost):,}"],
    ]  # fmt: skip
    headline = Table("Headline", ["measure", "value"], [
        ["households entitled", f"{result.entitled:,}"], ["households paid (API totals)", f"{result.paid:,}"],
        ["payments in the store", f"{result.payments_in_store:,}"],
        ["most transfers to one household", str(result.transfers_per_household_max)],
        ["households paid twice (in two transfer batches)", f"{result.duplicated:,}"],
        ["full invariant check", "passed" if result.invariants_ok else "FAILED"],
        [f"{killed} killed at", f"{result.killed_at:.3f} s"],
        ["failover manager detected it after" if db else "router detected it after",
         "never" if result.detected_at is None else f"{result.detected_at - result.killed_at:.3f} s"],
        *db_rows,
        [fo_label, fo],
        ["failed requests (all retried)", f"{len(result.failures):,} of {result.requests:,}"],
        ["run time", f"{result.duration:.1f} s"],
    ])  # fmt: skip
    fails = Table("Requests that failed", ["sent at (s)", "failed at (s)", "phase", "path", "attempt", "error"],
                  [[f"{f.at:.3f}", f"{f.ended:.3f}", f.phase, f.path, f.attempt, f.error]
                   for f in result.failures[:200]],
                  note=None if len(result.failures) <= 200 else f"first 200 of {len(result.failures)}; "
                  "all in failures.csv")  # fmt: skip
    events = Table("Router events", ["at (s)", "backend", "state", "why"],
                   [[f"{t:.3f}", b, "up" if up else "down", why] for t, b, up, why in result.events])  # fmt: skip
    if db is None:
        story = (f"{verdict}: {result.paid:,} of {result.entitled:,} households. The primary server was killed with "
                 f"SIGKILL {result.killed_at:.2f} s into the run; the standby answered {fo} later. Clients retried "
                 "every failed request with the same idempotency key.")  # fmt: skip
    else:
        story = (f"{verdict}: {result.paid:,} of {result.entitled:,} households. The PostgreSQL primary's postmaster "
                 f"was killed with SIGKILL {result.killed_at:.2f} s into the run ({db['commit']} commit to a "
                 f"streaming hot standby); the standby was promoted and the first write on it succeeded {fo} after "
                 f"the kill. Of {result.acknowledged:,} acknowledged applications {len(result.lost):,} were lost; "
                 f"{result.duplicated:,} households were in two transfer batches. Clients retried every failed "
                 "request with the same idempotency key.")  # fmt: skip
    sections = [
        Section("Outcome", [Paragraph(story), headline]),
        Section("What clients saw", [Figure("latency", fig, "Time per request attempt; crosses failed and were "
                                            "retried."), fails]),  # fmt: skip
        Section("Router", [events, Table("Requests served", ["backend", "requests"],
                                         [[k, v] for k, v in result.served.items()])]),
    ]
    meta = {"store": result.store, "households": f"{result.config.households:,}",
            "batch": str(result.config.batch), "health check": f"{result.config.health_interval} s"}  # fmt: skip
    subtitle = ("PostgreSQL primary killed mid-run; streaming standby promoted" if db
                else "Primary killed mid-run; standby behind the router")  # fmt: skip
    if db:
        meta["commit"] = db["commit"]
    html = render(title="Failover drill: payout API", subtitle=subtitle,
                  meta=meta, scale=1.0, sections=sections, figures_png={"latency": png})  # fmt: skip
    (tmp / "index.html").write_text(html)
    import matplotlib.pyplot as plt

    plt.close(fig)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder
