"""Small failover topologies for tests: one or two services, no noise unless asked for."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from twin.models.failover.demand import hourly_demand
from twin.models.failover.engine import ServiceYear, simulate_year
from twin.models.failover.params import Params
from twin.runs import stream_key

START = dt.date(2025, 1, 6)  # a Monday


def quiet_service(**over: Any) -> dict[str, Any]:
    """A service that fails only as told: no releases, no load unless it carries a profile."""
    svc: dict[str, Any] = {
        "deployment": "single",
        "sites": ["east"],
        "failure": {"mtbf_hours": 1e12, "mttr_hours": 1.0},
        "release": {"defect_escape_rate": 0.0},
        "replication": {"mode": "sync"},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(svc.get(k), dict):
            svc[k] = {**svc[k], **v}
        else:
            svc[k] = v
    return svc


def params(services: dict[str, dict[str, Any]], **extra: Any) -> Params:
    """Params with only these services (defaults removed), immortal sites and no maintenance."""
    from twin.models.failover.params import DEFAULT_SERVICES

    data: dict[str, Any] = {
        "services": {**dict.fromkeys(DEFAULT_SERVICES), **services},
        "sites": {"east": {"mtbf_hours": 1e12}, "west": {"mtbf_hours": 1e12}},
        "links": {},
        "maintenance": {"enabled": False},
    }
    data.update(extra)
    return Params.model_validate(data)


def rng_for(seed: int):  # noqa: ANN201
    return lambda name: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream_key(name),)))


def year(p: Params, n_days: int = 7, seed: int = 1, start: dt.date = START) -> dict[str, ServiceYear]:
    return simulate_year(p, start, n_days, hourly_demand(p.demand, start, n_days), rng_for(seed), keep_hourly=True)
