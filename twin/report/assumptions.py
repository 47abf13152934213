"""Which numbers a result rests on, and which of them a public source backs.

The working group asked every report to say which parameters are assumed rather than sourced.
A model keeps a ``SOURCED`` mapping from dotted parameter paths (``verification.error_rate_online``)
to the source of their default; :func:`assumptions` lists every parameter of the baseline with its
value and source (or none), then what each option changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from twin.report import Assumption


def flatten(model: BaseModel, prefix: str = "") -> list[tuple[str, Any]]:
    """Leaf parameters as (dotted path, value); mappings of blocks are followed by key."""
    out: list[tuple[str, Any]] = []
    for name in type(model).model_fields:
        v = getattr(model, name)
        key = f"{prefix}{name}"
        if isinstance(v, BaseModel):
            out.extend(flatten(v, key + "."))
        elif isinstance(v, dict) and v and all(isinstance(x, BaseModel) for x in v.values()):
            for k, x in v.items():
                out.extend(flatten(x, f"{key}.{k}."))
        else:
            out.append((key, v))
    return out


def describe(v: Any, limit: int = 160) -> str:
    """A parameter value in a few readable words (dates ISO, floats to 4 digits)."""
    if isinstance(v, dict):
        text = "; ".join(f"{k}: {describe(x)}" for k, x in v.items())
    elif isinstance(v, list):
        text = ", ".join(describe(x) for x in v)
    elif isinstance(v, tuple):
        text = " ".join(describe(x) for x in v)
    elif isinstance(v, BaseModel):
        text = ", ".join(f"{k}={describe(x)}" for k, x in v.model_dump().items())
    elif isinstance(v, float):
        text = f"{v:.4g}"
    elif isinstance(v, dt.date):
        text = v.isoformat()
    else:
        text = str(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def source_of(key: str, sourced: Mapping[str, str]) -> str | None:
    """The source of a parameter, or of the block it belongs to."""
    return next((s for k, s in sourced.items() if key == k or key.startswith(k + ".")), None)


def assumptions(
    params: BaseModel, sourced: Mapping[str, str], options: Sequence[tuple[str, BaseModel]] = ()
) -> list[Assumption]:
    """Every parameter of the baseline, sourced or assumed, then what each option changes.

    An option's value is a design being tried, not a record of the past: it is listed as assumed,
    with the baseline value it replaces. The source of that baseline value stays on the baseline's
    row; citing it for the option would present a counterfactual as sourced.
    """
    base = dict(flatten(params))
    out = [Assumption(k, describe(v), source_of(k, sourced)) for k, v in base.items()]
    for name, p in options:
        for k, v in flatten(p):
            if base.get(k) != v:
                was = f" (instead of {describe(base[k], 60)})" if k in base else ""
                out.append(Assumption(f"[{name}] {k}", describe(v) + was, None))
    return out
