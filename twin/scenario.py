"""Scenario files: one YAML file names the question (``kind``), the nation, the calendar and the seed.

A scenario file is what a planner edits and what a run is named after::

    name: payout_2020
    kind: payout            # chooses the model in twin.models
    seed: 20200427
    population: {scale: 0.01}
    calendar: {start: 2020-04-20, end: 2020-08-31}
    params: {...}           # the kind's own parameters, documented by `twin schema`
    options:                # named variants compared side by side in one run
      - {name: baseline_2020}
      - {name: same_day, params: {...overrides...}}

Loading validates everything before anything runs; every problem is reported as
``FILE: field.path: value what-is-allowed`` (see :mod:`twin.errors`).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, model_validator

from twin.config import Date, PositiveInt, Slug, StrictModel, interval
from twin.errors import InputError, describe_value
from twin.models import KINDS, model_module

MIN_SCALE = 1e-5
"""The smallest population.scale: below it whole prefectures and household sizes go unsampled."""


class PopulationConfig(StrictModel):
    """The synthetic nation: which statistics it is built from and at what scale."""

    scale: interval(0, 1, lo_open=True, description="share of households sampled; 1 = 1:1; at least 1e-05") = 0.01
    statistics: str = Field(
        "20200401",
        description="MIC card-issuance snapshot (YYYYMMDD) whose population tables seed the nation",
    )
    card_date: Date | None = Field(None, description="date of the card-holding state; default: the snapshot's date")

    @model_validator(mode="after")
    def _known_snapshot(self) -> PopulationConfig:
        from twin.population.statistics import available_snapshots

        if self.scale < MIN_SCALE:
            raise _FieldError("scale", self.scale, f"is below {MIN_SCALE:g} (1:{round(1 / MIN_SCALE):,}, about 570 "
                              "households): too few households sampled to stand for the nation")  # fmt: skip

        snaps = available_snapshots()
        if self.statistics not in snaps:
            raise _FieldError("statistics", self.statistics, f"is not a bundled snapshot ({snaps[0]} .. {snaps[-1]})")
        return self


CALENDAR_YEARS = (2007, 2099)
"""Years whose public holidays twin.sim.holidays knows (its FIRST_YEAR, LAST_YEAR; a test keeps them equal)."""


class CalendarConfig(StrictModel):
    """Simulated period; weekends and Japanese public holidays are closed days for offices."""

    start: Date = dt.date(2020, 4, 1)
    end: Date = dt.date(2020, 12, 31)
    closed_days: list[Date] = Field(default_factory=list, description="extra closed days (e.g. 2020-12-29)")

    @model_validator(mode="after")
    def _ordered(self) -> CalendarConfig:
        first, last = dt.date(CALENDAR_YEARS[0], 1, 1), dt.date(CALENDAR_YEARS[1], 12, 31)
        named = [("start", self.start), ("end", self.end)] + [(f"closed_days[{i}]", d)
                                                              for i, d in enumerate(self.closed_days)]
        for name, day in named:
            if not first <= day <= last:
                raise _FieldError(name, day.isoformat(), f"is outside the years whose public holidays the "
                                  f"calendar knows ({first.isoformat()} .. {last.isoformat()})")  # fmt: skip
        if self.end <= self.start:
            raise _FieldError("end", self.end.isoformat(), f"is not after calendar.start {self.start.isoformat()}")
        return self


class OptionSpec(StrictModel):
    """A named variant: overrides of the kind's params, merged over the scenario's own params."""

    name: Slug
    title: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class _FieldError(ValueError):
    """A validator's complaint about one sub-field (so the message names the exact field)."""

    def __init__(self, field_name: str, value: Any, message: str):
        super().__init__(message)
        self.field_name = field_name
        self.value = value
        self.message = message


class ScenarioBase(StrictModel):
    name: Slug
    title: str | None = None
    description: str | None = None
    kind: str
    seed: interval(0, None, integer=True, description="root of all random streams") = 0
    replications: PositiveInt = 1
    population: PopulationConfig = PopulationConfig()
    calendar: CalendarConfig = CalendarConfig()
    options: list[OptionSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_options(self) -> ScenarioBase:
        seen: set[str] = set()
        for i, opt in enumerate(self.options):
            if opt.name in seen:
                raise _FieldError(f"options[{i}].name", opt.name, "is used by an earlier option; names must be unique")
            seen.add(opt.name)
        return self


_SCENARIO_MODELS: dict[str, type[ScenarioBase]] = {}


def scenario_model(kind: str) -> type[ScenarioBase]:
    """The pydantic model of a scenario file of this kind (its ``params`` are the kind's Params)."""
    if kind not in _SCENARIO_MODELS:
        mod = model_module(kind)
        _SCENARIO_MODELS[kind] = create_model(  # type: ignore[call-overload]
            f"{kind.title().replace('_', '')}Scenario",
            __base__=ScenarioBase,
            __doc__=mod.__doc__,
            kind=(Literal[kind], ...),  # type: ignore[valid-type]
            params=(mod.Params, mod.Params()),
        )
    return _SCENARIO_MODELS[kind]


def json_schema() -> dict[str, Any]:
    """JSON Schema of scenario files, one branch per kind (``twin schema`` prints it)."""
    import functools
    import operator
    from typing import Annotated

    from pydantic import TypeAdapter

    models = functools.reduce(operator.or_, (scenario_model(k) for k in KINDS))
    union = Annotated[models, Field(discriminator="kind")] if len(KINDS) > 1 else models
    schema = TypeAdapter(union).json_schema()
    schema["title"] = "Myna Twin scenario"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


# --------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True)
class Option:
    """One resolved variant of a scenario: its name and its complete, validated params."""

    name: str
    title: str
    params: BaseModel


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, ready to run."""

    path: Path | None
    source: bytes
    spec: ScenarioBase
    options: tuple[Option, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def scale(self) -> float:
        return self.spec.population.scale

    @property
    def title(self) -> str:
        return self.spec.title or self.spec.name

    def digest(self) -> str:
        """Hash of the validated scenario (after overrides): names the run with the package version."""
        canon = json.dumps(self.spec.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canon.encode()).hexdigest()

    def with_overrides(
        self, *, seed: int | None = None, scale: float | None = None, replications: int | None = None
    ) -> Scenario:
        """The same scenario with the command line's --seed/--scale/--replications, validated like the file."""
        if seed is None and scale is None and replications is None:
            return self
        data = self.spec.model_dump(mode="python")
        label = []
        if replications is not None:
            data["replications"] = replications
            label.append("--replications")
        if seed is not None:
            data["seed"] = seed
            label.append("--seed")
        if scale is not None:
            data["population"] = dict(data["population"], scale=scale)
            label.append("--scale")
        return validate(data, self.path, self.source, origin=" and ".join(label))


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (the second would silently win)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {seen[key].line + 1})", mark
            )
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _BadDate(yaml.constructor.ConstructorError):
    """A date-shaped YAML value that is no day of the calendar."""


def _construct_timestamp(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    """A YAML date; an impossible one (2020-02-30) is a marked error, not a traceback."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as e:
        raise _BadDate(
            None, None, f"{node.value} is not a calendar date ({e})", node.start_mark
        ) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _display(path: Path | None) -> str:
    if path is None:
        return "<scenario>"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_yaml(text: bytes, where: str) -> Any:
    try:
        return yaml.load(text.decode("utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (safe loader)
    except UnicodeDecodeError as e:
        raise InputError(f"{where}: byte {e.start}: the file is not UTF-8 text") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        pos = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        kind = "" if isinstance(e, _BadDate) else "YAML syntax error: "
        raise InputError(f"{where}: {pos}{kind}{problem}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{where}: YAML syntax error: {e}") from None


MAX_SCENARIO_BYTES = 2**20
"""The largest scenario file read (the bundled ones are under 4 KiB)."""


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises :class:`InputError` naming every problem."""
    p = Path(path)
    where = _display(p)
    if not p.exists():
        raise InputError(f"{where}: no such scenario file (see `twin list` for the bundled ones)")
    if p.is_dir():
        raise InputError(f"{where}: is a directory, not a scenario file")
    if not p.is_file():  # /dev/zero, a FIFO, a socket: reading could never end
        raise InputError(f"{where}: is not a regular file; a scenario is a YAML file")
    with p.open("rb") as f:
        source = f.read(MAX_SCENARIO_BYTES + 1)  # bounded, even if the file grows while read
    if len(source) > MAX_SCENARIO_BYTES:
        raise InputError(f"{where}: is larger than {MAX_SCENARIO_BYTES // 2**20} MiB; a scenario file is a few KiB")
    data = parse_yaml(source, where)
    return validate(data, p, source)


def loads(text: str, path: str | Path | None = None) -> Scenario:
    """Validate a scenario given as YAML text (notebooks, tests)."""
    p = Path(path) if path else None
    source = text.encode()
    return validate(parse_yaml(source, _display(p)), p, source)


def validate(data: Any, path: Path | None = None, source: bytes = b"", origin: str = "") -> Scenario:
    """Validate scenario data (a mapping as read from YAML); ``path`` and ``origin`` name it in errors."""
    where = _display(path)
    if data is None:
        raise InputError(f"{where}: the file is empty; a scenario needs at least `name` and `kind`")
    if not isinstance(data, dict):
        raise InputError(f"{where}: the top level is {describe_value(data)}, not a mapping of scenario fields")
    kind = data.get("kind")
    if kind is None:
        raise InputError(f"{where}: kind: is required (allowed: {', '.join(KINDS)})")
    if not isinstance(kind, str) or kind not in KINDS:
        raise InputError(f"{where}: kind: {describe_value(kind)} is not a scenario kind (allowed: {', '.join(KINDS)})")
    model = scenario_model(kind)
    try:
        spec = model.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation_error(e, where, model, origin)) from None
    if spec.replications > 1 and not getattr(model_module(kind), "REPLICATES", False):
        # the model runs replication 0 only: more would be recorded in the manifest but never run
        head = f"{origin}: replications" if origin and "--replications" in origin else f"{where}: replications"
        raise InputError(
            f"{head}: {spec.replications} is not allowed for kind {kind}, whose run is one replication; use "
            f"`twin sweep SCENARIO --reps {spec.replications}` for independent replications (10/50/90 % bands)"
        )
    # Each option's params are the scenario's params with the option's overrides merged in.
    base_params = spec.params.model_dump(mode="python")  # type: ignore[attr-defined]
    params_model = type(spec.params)  # type: ignore[attr-defined]
    options: list[Option] = []
    specs = spec.options or [OptionSpec(name="base", title=spec.title or spec.name)]
    problems: list[str] = []
    for i, opt in enumerate(specs):
        merged = deep_merge(base_params, opt.params)
        try:
            params = params_model.model_validate(merged)
        except ValidationError as e:
            problems.append(format_validation_error(e, where, params_model, prefix=f"options[{i}].params"))
            continue
        options.append(Option(opt.name, opt.title or opt.name.replace("_", " "), params))
    if problems:
        raise InputError("\n".join(problems))
    return Scenario(path, source, spec, tuple(options))


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --------------------------------------------------------------------------------------------
# Error messages


def _loc_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Field names of the block at ``loc`` (for 'unknown key' messages)."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        f = current.model_fields.get(part)
        if f is None:
            return None
        current = f.annotation
        # unwrap Optional[...] / list[...] / Annotated
        for _ in range(4):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if isinstance(current, type) and issubclass(current, BaseModel):
                break
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if models:
                current = models[0]
            elif args:
                current = args[0]
            else:
                break
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a text string",
    "date": "a date (YYYY-MM-DD)",
    "dict": "a mapping",
    "list": "a list",
    "model": "a mapping",
}


def format_validation_error(
    err: ValidationError,
    where: str,
    model: type[BaseModel],
    origin: str = "",
    prefix: str = "",
) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        etype = e["type"]
        value = e.get("input")
        msg = e["msg"]
        ctx = e.get("ctx") or {}
        err_obj = ctx.get("error")
        if isinstance(err_obj, _FieldError):
            loc = loc + tuple(err_obj.field_name.replace("]", "").replace("[", ".").split("."))
            loc = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in loc)
            value, msg, etype = err_obj.value, err_obj.message, "field_error"
        path = _loc_text(loc)
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        if etype == "missing":
            text = "is required"
        elif etype == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            text = "is not a known key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
            value = None
        elif etype == "literal_error":
            text = f"is not one of: {ctx.get('expected', '')}"
        elif etype in ("value_error", "assertion_error"):
            text = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        elif etype == "field_error":
            text = msg
        else:
            base = etype.split("_")[0]
            if etype == "int_from_float":
                text = "is not an integer"
            elif etype in ("model_type", "model_attributes_type", "dict_type"):
                text = "is not a mapping of fields"
            elif etype.endswith(("_type", "_parsing")) and base in _TYPE_WORDS:
                text = f"is not {_TYPE_WORDS[base]}"
            else:
                text = msg[0].lower() + msg[1:] if msg else etype
        shown = "" if value is None or etype in ("missing", "extra_forbidden") else describe_value(value) + " "
        head = f"{where}: {path}: " if path else f"{where}: "
        if origin and path in ("seed", "population.scale", "replications"):
            head = f"{origin}: {path}: "
        lines.append(f"{head}{shown}{text}")
    return "\n".join(dict.fromkeys(lines))


_validate = validate  # older name
