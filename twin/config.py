"""Building blocks of scenario files: strict models and bounded numbers with plain-language errors.

Every scenario block is a :class:`StrictModel`: unknown keys are errors (a typo must never be
silently ignored). Bounded numbers use :func:`interval`, whose error reads like the documentation:
``1.4 is not in (0, 1]``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


class StrictModel(BaseModel):
    """A scenario block: unknown keys are rejected; every field has a documented default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _interval_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    lo_s = "-inf" if lo is None else f"{lo:,g}"
    hi_s = "inf" if hi is None else f"{hi:,g}"
    return f"{left}{lo_s}, {hi_s}{right}"


def interval(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
    description: str | None = None,
) -> Any:
    """A number type bounded to an interval, e.g. ``interval(0, 1, lo_open=True)`` for (0, 1]."""
    text = _interval_text(lo, hi, lo_open, hi_open)

    def check(v: float) -> float:
        if (
            (lo is not None and (v < lo or (lo_open and v == lo)))
            or (hi is not None and (v > hi or (hi_open and v == hi)))
            or not math.isfinite(v)  # NaN, and inf: an open "inf" end is a bound, never a value
        ):
            raise ValueError(f"is not in {text}")
        return v

    def not_a_bool(v: Any) -> Any:
        if isinstance(v, bool):  # YAML's true/false would otherwise pass as 1/0
            raise ValueError(f"is not {'an integer' if integer else 'a number'}")
        return v

    schema: dict[str, Any] = {}
    if lo is not None:
        schema["exclusiveMinimum" if lo_open else "minimum"] = lo
    if hi is not None:
        schema["exclusiveMaximum" if hi_open else "maximum"] = hi
    base = int if integer else float
    return Annotated[
        base,
        Field(description=description, json_schema_extra=schema or None),
        BeforeValidator(not_a_bool),
        AfterValidator(check),
    ]


Fraction = interval(0, 1)
"""A share in [0, 1]."""

PositiveFloat = interval(0, None, lo_open=True)
NonNegativeFloat = interval(0, None)
PositiveInt = interval(1, None, integer=True)
NonNegativeInt = interval(0, None, integer=True)


def _check_slug(v: str) -> str:
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]{0,63}", v):
        raise ValueError("is not a name of lower-case letters, digits, '_' or '-' (at most 64)")
    return v


Slug = Annotated[str, AfterValidator(_check_slug)]


def parse_date(v: Any) -> dt.date:
    """Dates in scenario files are ISO (2020-04-27); YAML already turns those into dates."""
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            pass
    raise ValueError("is not a date (YYYY-MM-DD)")


def date_field(description: str | None = None) -> Any:
    from pydantic import BeforeValidator

    return Annotated[
        dt.date,
        BeforeValidator(parse_date),
        Field(description=description),
    ]


Date = date_field()


def date_from(first: dt.date, what: str) -> Any:
    """A date on or after ``first``; an earlier one is refused as "must be on or after {what}, {first}"."""

    def check(v: dt.date) -> dt.date:
        if v < first:
            raise ValueError(f"must be on or after {what}, {first}")
        return v

    return Annotated[dt.date, BeforeValidator(parse_date), AfterValidator(check)]


def tracked_json_path(v: str | None, example: str) -> str | None:
    """A scenario may only name a ``.json`` file inside the working tree for ``twin calibrate --promote``
    to write: a relative path without ``..``. ``example`` is shown in the message."""
    if v is None:
        return v
    from pathlib import PurePath

    parts = PurePath(v).parts
    if PurePath(v).is_absolute() or v.startswith("~") or ".." in parts or not parts:
        raise ValueError(f"is not allowed; use a relative path without '..' (e.g. {example})")
    if not v.endswith(".json"):
        raise ValueError("is not a .json file name")
    return v
