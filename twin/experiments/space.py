"""The parameter space of a sweep: which knobs of a scenario are turned, over what range, and where.

A planner asks "what if the town halls had twice the verification staff?" by naming a parameter
with its dotted path in the scenario's ``params`` (``verification.staff_minutes_per_1000_households``)
and a range (``120:480``). Every name is checked against the scenario kind's Params model before
anything runs, and both ends of the range are validated like a scenario file would be, so a typo
or an impossible value is one clear error, not a crash an hour into the sweep. A design then
picks the points: a full grid, a Latin hypercube (scipy.stats.qmc) or Morris trajectories
(:mod:`twin.experiments.sensitivity`).

A swept value overrides the parameter in every option of the scenario (also in options that set it
themselves): the sweep explores that parameter, the options keep everything else.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, TypeAdapter, ValidationError

from twin.errors import InputError, describe_value
from twin.scenario import Scenario, validate

#: a point of a sweep: dotted param name -> value
Point = dict[str, float]


@dataclass(frozen=True)
class Param:
    """One swept parameter: its dotted path in ``params`` and the closed range [lo, hi]."""

    name: str
    lo: float
    hi: float
    integer: bool = False

    @property
    def fixed(self) -> bool:
        return self.lo == self.hi

    def value(self, unit: float) -> float:
        """The value at a position in [0, 1] of the range (integers rounded half to even)."""
        v = self.lo + unit * (self.hi - self.lo)
        return float(round(v)) if self.integer else float(v)

    def spec(self) -> str:
        return f"{self.name}={self.lo:g}" if self.fixed else f"{self.name}={self.lo:g}:{self.hi:g}"


@dataclass(frozen=True)
class ParamSpace:
    """The swept parameters of a scenario, in the order given on the command line."""

    params: tuple[Param, ...]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def varied(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.fixed)

    def at(self, units: Sequence[float]) -> Point:
        """The point at unit-cube coordinates of the varied params (fixed params at their value)."""
        units = list(units)
        if len(units) != len(self.varied):
            raise ValueError(f"{len(units)} coordinates given for {len(self.varied)} varied params")
        it = iter(units)
        return {p.name: (p.lo if p.fixed else p.value(next(it))) for p in self.params}

    def grid(self, n: int) -> list[Point]:
        """A full factorial grid: ``n`` evenly spaced levels per varied param (ends included)."""
        if n < 1:
            raise InputError(f"--grid: {n} is not a number of levels (at least 1)")
        levels = [0.5] if n == 1 else list(np.linspace(0.0, 1.0, n))
        k = len(self.varied)
        if k == 0:
            return [self.at([])]
        mesh = np.array(np.meshgrid(*([levels] * k), indexing="ij")).reshape(k, -1).T
        return _unique([self.at(row) for row in mesh])

    def lhs(self, n: int, rng: np.random.Generator) -> list[Point]:
        """``n`` points of a Latin hypercube (each param's range cut in ``n`` strata, each used once)."""
        from scipy.stats import qmc

        if n < 1:
            raise InputError(f"--lhs: {n} is not a number of points (at least 1)")
        k = len(self.varied)
        if k == 0:
            return [self.at([])]
        sample = qmc.LatinHypercube(d=k, rng=rng).random(n)
        return [self.at(row) for row in sample]


def _unique(points: list[Point]) -> list[Point]:
    """Integer params can round two grid levels to one value; keep the first of equal points."""
    seen: set[tuple[tuple[str, float], ...]] = set()
    out = []
    for p in points:
        key = tuple(sorted(p.items()))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


# --------------------------------------------------------------------------------------------
# Parsing and validation


def parse_param(text: str) -> tuple[str, float, float]:
    """``NAME=LO:HI`` (a range) or ``NAME=VALUE`` (held fixed) -> (name, lo, hi)."""
    name, eq, rng = text.partition("=")
    name = name.strip()
    if not eq or not name:
        raise InputError(f"--param {text!r}: expected NAME=LO:HI (e.g. verification.minutes_mail=2:4) or NAME=VALUE")
    lo_s, colon, hi_s = rng.partition(":")
    if not colon:
        hi_s = lo_s
    try:
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise InputError(f"--param {text!r}: {rng!r} is not LO:HI with two numbers (e.g. 2:4.5)") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"--param {text!r}: the range must be finite numbers")
    if lo > hi:
        raise InputError(f"--param {text!r}: LO {lo:g} is greater than HI {hi:g}")
    return name, lo, hi


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X (a swept value is never null)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return args[0] if len(args) == 1 else annotation
    return annotation


def resolve_field(params_model: type[BaseModel], name: str) -> Any:
    """The annotated type of the param at dotted path ``name`` (raises InputError naming the bad part)."""
    current: Any = params_model
    done: list[str] = []
    for part in name.split("."):
        where = ".".join(done) or "params"
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                allowed = ", ".join(current.model_fields)
                raise InputError(f"--param {name}: {part!r} is not a parameter of {where} (allowed: {allowed})")
            current = typing.Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        elif typing.get_origin(current) is dict:
            key_t, value_t = typing.get_args(current)
            keys = typing.get_args(key_t) if typing.get_origin(key_t) is typing.Literal else None
            if keys is not None and part not in keys:
                raise InputError(f"--param {name}: {part!r} is not a key of {where} (allowed: {', '.join(keys)})")
            current = value_t
        else:
            raise InputError(f"--param {name}: {where} is a single value; it has no parameter {part!r}")
        done.append(part)
    return current


def _base_type(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return _unwrap(annotation)


def param_space(scenario: Scenario, specs: Sequence[str]) -> ParamSpace:
    """Parse and validate ``--param`` specs against the scenario's Params model and its validators."""
    params_model = type(scenario.options[0].params)
    out: list[Param] = []
    for text in specs:
        name, lo, hi = parse_param(text)
        if name in (p.name for p in out):
            raise InputError(f"--param {name}: given twice")
        annotation = resolve_field(params_model, name)
        base = _base_type(annotation)
        if isinstance(base, type) and issubclass(base, BaseModel) or typing.get_origin(base) in (dict, list, tuple):
            raise InputError(f"--param {name}: is a block of parameters, not a number; name one of its fields")
        if base not in (int, float):
            what = getattr(base, "__name__", str(base))
            if typing.get_origin(base) is typing.Literal:
                what = "one of " + ", ".join(describe_value(a) for a in typing.get_args(base))
            raise InputError(
                f"--param {name}: is {what}, not a number; only numeric parameters can be swept "
                "(compare other values as scenario options)"
            )
        integer = base is int
        if integer and (lo != int(lo) or hi != int(hi)):
            raise InputError(f"--param {text}: {name} is an integer parameter; give whole numbers")
        adapter = TypeAdapter(annotation)
        for end in (lo, hi):
            v = int(end) if integer else end
            try:
                adapter.validate_python(v)
            except ValidationError as e:
                msg = e.errors()[0]["msg"].removeprefix("Value error, ")
                raise InputError(f"--param {text}: {describe_value(v)} {msg}") from None
        out.append(Param(name, lo, hi, integer))
    space = ParamSpace(tuple(out))
    # The ends must also pass the model's cross-field checks (e.g. reference_date <= programme_start).
    for corner in ({p.name: p.lo for p in out}, {p.name: p.hi for p in out}):
        if corner:
            with_params(scenario, corner)
    return space


def set_path(data: dict[str, Any], name: str, value: Any) -> None:
    parts = name.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _has_path(data: Mapping[str, Any], name: str) -> bool:
    node: Any = data
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def with_params(scenario: Scenario, values: Mapping[str, float]) -> Scenario:
    """The scenario with params overridden at dotted paths, in the base params and every option."""
    if not values:
        return scenario
    data = scenario.spec.model_dump(mode="python")
    params_model = type(scenario.options[0].params)
    for name, value in values.items():
        base = _base_type(resolve_field(params_model, name))
        v: Any = int(round(value)) if base is int else float(value)
        set_path(data["params"], name, v)
        for opt in data.get("options") or []:
            if _has_path(opt.get("params") or {}, name):
                set_path(opt["params"], name, v)
    shown = ", ".join(f"{k}={v:g}" for k, v in values.items())
    try:
        return validate(data, scenario.path, scenario.source, origin="--param")
    except InputError as e:
        raise InputError(f"--param {shown}: the scenario is not valid with these values:\n{e}") from None
