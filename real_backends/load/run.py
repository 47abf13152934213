"""One load test from start to finish: plan the arrivals, (start the server,) drive, write the run folder.

``twin load portal --profile scenarios/failover_architectures.yaml --duration 48`` replays that
scenario's Monday of Myna Portal log-ins (1 hour = 2 s) against a portal server it starts on a
loopback port with the emulated cards of a small deployment, and writes ``reports/load/<id>/``.
``--rate`` or ``--ramp`` replace the demand curve; ``--url`` drives a server already running (it
must serve the same deployment spec: same ``--holders`` and seed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from real_backends.load import arrivals as arr
from real_backends.load.deployment import Deployment, DeploymentSpec
from real_backends.load.driver import TARGETS, Samples, drive, make_target
from real_backends.load.report import write_run
from real_backends.load.server import serve

SERVICE_OF = {
    "ocsp": "ocsp", "ocsp-get": "ocsp", "ocsp-live": "ocsp", "portal": "portal",
    "eligibility-card": "eligibility", "eligibility-insurance": "eligibility",
}  # fmt: skip


@dataclass(frozen=True)
class LoadResult:
    folder: Path
    samples: Samples
    summary: dict[str, Any]


def plan_for(target: str, profile: str | Path, *, rate: float | None, ramp: str | None, duration: float,
             scale: float) -> tuple[arr.RatePlan, int]:
    """The rate plan and the seed: ``--rate``/``--ramp`` if given, else the scenario's demand curve."""
    from twin import scenario as sc
    from twin.models.failover.params import Demand

    if target not in TARGETS:
        raise ValueError(f"TARGET: {target!r} is not allowed; use one of {', '.join(TARGETS)}")
    if rate is not None and ramp is not None:
        raise ValueError("--rate and --ramp: give one or the other, not both")
    scenario = sc.load(profile)
    if rate is not None:
        return arr.constant(rate, duration), scenario.seed
    if ramp is not None:
        return arr.ramp(*arr.parse_ramp(ramp), duration), scenario.seed
    params = getattr(scenario.spec, "params", None)
    demand = getattr(params, "demand", None)
    demand = demand if isinstance(demand, Demand) else Demand()
    return arr.demand_day(demand, scenario.spec.calendar.start, target, duration, scale), scenario.seed


@contextlib.contextmanager
def _server(url: str | None, target: str, spec: DeploymentSpec, workers: int) -> Iterator[str]:
    if url is not None:
        yield url.rstrip("/")
        return
    with serve(SERVICE_OF[target], spec, workers=workers) as started:
        yield started


def run_load(
    target: str,
    profile: str | Path,
    *,
    rate: float | None = None,
    ramp: str | None = None,
    duration: float = 30.0,
    scale: float = 1.0,
    url: str | None = None,
    workers: int = 2,
    holders: int = 64,
    concurrency: int = 64,
    out: str | Path = "reports",
) -> LoadResult:
    """Run one load test and write its folder (see the module docstring)."""
    plan, seed = plan_for(target, profile, rate=rate, ramp=ramp, duration=duration, scale=scale)
    rng = np.random.default_rng([seed, 4242])
    times = arr.arrival_times(plan, rng)
    if times.size == 0:
        raise ValueError(f"the plan ({plan.description}) makes no requests; raise --rate, --scale or --duration")
    spec = DeploymentSpec(holders=holders)
    deployment = Deployment.build(spec)
    send = make_target(target, deployment, rng)
    with _server(url, target, spec, workers) as base:
        samples = asyncio.run(drive(base, send, times, concurrency=concurrency))
    inputs = {"target": target, "profile": str(profile), "plan": plan.description, "rate": rate, "ramp": ramp,
              "duration": duration, "scale": scale, "workers": workers, "holders": holders,
              "concurrency": concurrency, "seed": seed, "external_url": url is not None}
    width = max(1.0, plan.duration / 48)
    folder = write_run(Path(out), target, plan, samples, workers=workers, inputs=inputs, width=width)
    import json

    return LoadResult(folder, samples, json.loads((folder / "summary.json").read_text()))
