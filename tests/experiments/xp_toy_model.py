"""A town-hall counter for experiment tests: applications arrive, clerks clear them, a backlog forms.

A tiny, cheap and deterministic stand-in model (registered as kind ``xp_toy`` by the tests, never
by the twin itself) so the experiment runner is tested without depending on any real scenario kind.
``sleep_s`` makes each replication take a known time (for interruption and parallelism tests);
``die_in_replication`` kills the worker process (for crash tests).
"""

from __future__ import annotations

import os
import time
from typing import Literal

import numpy as np

from twin.config import PositiveFloat, StrictModel, interval
from twin.metrics import Metrics
from twin.report import Assumption, Paragraph, Section
from twin.runs import ModelResult, RunContext

DAYS = 30


class Counter(StrictModel):
    staff: interval(1, 100, integer=True) = 4
    minutes_per_form: PositiveFloat = 3.0


class Params(StrictModel):
    rate: interval(0, 10) = 2.0
    counter: Counter = Counter()
    mode: Literal["mail", "online"] = "mail"
    sleep_s: interval(0, 5) = 0.0
    die_in_replication: interval(-1, None, integer=True) = -1  # the worker process exits (a crash)


def run(ctx: RunContext) -> ModelResult:
    if getattr(ctx, "replication", 0) == ctx.options[0].params.die_in_replication:  # type: ignore[attr-defined]
        os._exit(3)
    m = Metrics()
    heads = {}
    days = np.arange("2020-05-01", "2020-05-31", dtype="datetime64[D]")
    for opt in ctx.options:
        p: Params = opt.params  # type: ignore[assignment]
        rng = ctx.rng("arrivals")  # same stream for every option: common random numbers
        arrivals = rng.poisson(p.rate * 3000 * ctx.scale, DAYS).astype(float)
        arrivals[:5] *= 2  # the forms all land in the first week
        if p.mode == "online":
            arrivals *= 1.1
        capacity = p.counter.staff * 8 * 60 / p.counter.minutes_per_form / 10
        backlog = np.zeros(DAYS)
        b = 0.0
        for d in range(DAYS):
            b = max(0.0, b + arrivals[d] - capacity)
            backlog[d] = b
        cleared = np.flatnonzero(backlog[10:] == 0)
        m.add_series("backlog", days, backlog, option=opt.name)
        m.add_series("arrivals", days, arrivals, option=opt.name, channel=p.mode)
        heads[opt.name] = {
            "arrivals": float(arrivals.sum()),
            "peak_backlog": float(backlog.max()),
            "days_to_clear": float(cleared[0] + 10) if len(cleared) else float("nan"),
        }
    if ctx.options[0].params.sleep_s:  # type: ignore[attr-defined]
        time.sleep(ctx.options[0].params.sleep_s)  # type: ignore[attr-defined]
    return ModelResult(
        m,
        {"scale": ctx.scale, "options": heads, "note": "text is not a headline number"},
        [Section("Counter", [Paragraph("a toy")])],
        sources=["a toy source"],
        assumptions=[Assumption("rate", str(ctx.options[0].params.rate), None)],  # type: ignore[attr-defined]
    )
