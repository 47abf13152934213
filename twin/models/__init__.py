"""One module per scenario kind: each wires population, services and the SimPy runtime together for
one question of the working group.

A model module defines ``Params`` (a :class:`twin.config.StrictModel`, the ``params:`` block of its
scenario files, with documented defaults), a docstring that explains the question it answers, and
``run(ctx: twin.runs.RunContext) -> twin.runs.ModelResult``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: scenario kind -> module implementing it
KINDS: dict[str, str] = {
    "nation": "twin.models.nation",
    "payout": "twin.models.payout",
    "rollout": "twin.models.rollout",
    "failover": "twin.models.failover",
    "capacity": "twin.models.capacity",
    "renewal": "twin.models.renewal",
    "push_benefit": "twin.models.push_benefit",
}


def model_module(kind: str) -> ModuleType:
    return importlib.import_module(KINDS[kind])
