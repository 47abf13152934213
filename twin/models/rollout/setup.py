"""Getting a rollout run ready: the observed releases, the cells, fitted values from a calibration.

A forecast starts from a calibrated past: ``params.calibrated_from`` names the JSON file that
``twin calibrate`` wrote (``{"fitted": {"hazard.base_per_year": 0.031, ...}}``); its values are
set over the scenario's params before any option runs, and validated like the file itself.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from twin.errors import InputError, describe_value
from twin.models.rollout.hazard import Cells, build_cells
from twin.models.rollout.observed import Observed, load_observed
from twin.models.rollout.params import Params

REPO = Path(__file__).resolve().parents[3]


def resolve(path: str) -> Path:
    """A path as written in a scenario: relative to the working directory, else to the repository."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return REPO / p if (REPO / p).exists() else p


def observed_for(params: Params, start: dt.date, end: dt.date, *, strict: bool = True) -> Observed:
    """The observed releases; ``strict=False`` reads only the release folders dated inside [start, end].

    ``calibration.last_release`` holds later releases out (backtests): they are not read at all."""
    last = params.calibration.last_release
    if last is not None:
        if last < start:
            raise InputError(f"params.calibration.last_release: {last} is before calendar.start {start}")
        end = min(end, last)
        strict = False
    return load_observed(resolve(params.calibration.observed), start, end, only_inside=not strict)


def mortality_for(params: Params) -> np.ndarray | None:
    """Holders' deaths per person-year by age band and sex (observed.mortality_by_band), from the population
    tables of every release the scenario may see: all bundled ones up to ``calibration.last_release``
    whatever the simulated period (a backtest's fit sees no later table). None with ``holder_deaths: false``."""
    from twin.models.rollout.observed import mortality_by_band

    if not params.holder_deaths:
        return None
    last = params.calibration.last_release or dt.date(2099, 12, 31)
    return mortality_by_band(load_observed(resolve(params.calibration.observed), dt.date(2007, 1, 1), last,
                                           only_inside=True))  # fmt: skip


def cells_for(obs: Observed, release: str) -> Cells:
    """Cells with the population of one observed release (YYYYMMDD) and the nearest age table."""
    names = [d.strftime("%Y%m%d") for d in obs.dates]
    if release not in names:
        raise InputError(
            f"population.statistics: {release!r} is not an observed release in the simulated period "
            f"(allowed: {names[0]} .. {names[-1]})"
        )
    i = names.index(release)
    with_ages = [j for j in range(len(names)) if obs.band_population[j].sum() > 0]
    if not with_ages:
        raise InputError(
            f"calendar: no observed release between {obs.dates[0]} and {obs.dates[-1]} has an age table "
            "(demographics.csv); extend the calendar to include one (e.g. 2017-05-15)"
        )
    j = min(with_ages, key=lambda k: abs(k - i))
    return build_cells(obs.muni_population[i], obs.muni_type, obs.band_population[j], obs.prefecture)


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts; the path must already exist (a typo must not add a key)."""
    parts = path.split(".")
    node: Any = data
    for k, part in enumerate(parts):
        if isinstance(node, list):  # a list of named blocks (mailouts): address one by its name
            named = {x.get("name"): x for x in node if isinstance(x, dict)}
            if part not in named:
                raise InputError(f"{path}: {'.'.join(parts[:k])} has no entry named {part!r} "
                                 f"(allowed: {', '.join(map(str, named))})")  # fmt: skip
            if k == len(parts) - 1:
                raise InputError(f"{path}: names a whole block, not a parameter")
            node = named[part]
            continue
        if not isinstance(node, dict) or part not in node:
            done = ".".join(parts[:k]) or "params"
            allowed = ", ".join(sorted(node)) if isinstance(node, dict) else "none (not a block)"
            raise InputError(f"{path}: {done} has no parameter {part!r} (allowed: {allowed})")
        if k == len(parts) - 1:
            node[part] = value
        else:
            node = node[part]


def get_path(params: Params, path: str) -> Any:
    node: Any = params.model_dump(mode="python")
    for part in path.split("."):
        if isinstance(node, list):
            node = {x.get("name"): x for x in node if isinstance(x, dict)}
        if not isinstance(node, dict) or part not in node:
            raise InputError(f"calibration.fit: {path}: is not a parameter path (e.g. hazard.base_per_year)")
        node = node[part]
    return node


def with_values(params: Params, values: dict[str, float], where: str = "calibration") -> Params:
    """``params`` with some values replaced by path, validated (bounds included)."""
    data = params.model_dump(mode="python")
    for path, v in values.items():
        set_path(data, path, v)
    try:
        return Params.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise InputError(f"{where}: {loc}: {describe_value(first.get('input'))} {first['msg']}") from None


def read_fitted(path: str, *, need_converged: bool = True) -> dict[str, Any]:
    """Fitted values (numbers, and lists for raked effects) from a ``twin calibrate`` fitted file.

    A file whose fit did not converge is refused unless ``need_converged`` is false."""
    p = resolve(path)
    if not p.exists():
        raise InputError(f"params.calibrated_from: {path}: no such file (run `twin calibrate --promote` to write it)")
    if not p.is_file():
        raise InputError(f"params.calibrated_from: {path}: is not a file (a JSON file written by `twin calibrate`)")
    try:
        data = json.loads(p.read_text())
        fitted = dict(data["fitted"])
        fitted.update(data.get("raked") or {})
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise InputError(
            f"params.calibrated_from: {path}: is not a fitted-values file (a JSON object with 'fitted')"
        ) from None

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if not all(number(v) or (isinstance(v, list) and all(number(x) for x in v)) for v in fitted.values()):
        raise InputError(f"params.calibrated_from: {path}: 'fitted' must map parameter paths to numbers")
    if need_converged and not data.get("converged", False):
        raise InputError(
            f"params.calibrated_from: {path}: converged: {data.get('converged')!r}; the fit did not converge "
            "(set params.allow_unconverged: true to run from it anyway, flagged)"
        )
    return {str(k): (float(v) if number(v) else [float(x) for x in v]) for k, v in fitted.items()}


def calibrated(base: Params, option: Params, option_name: str) -> Params:
    """An option's params with the fitted values of ``base.calibrated_from`` set; an option may not
    override a fitted parameter (the fitted value would silently win)."""
    if base.calibrated_from is None:
        return option
    fitted = read_fitted(base.calibrated_from, need_converged=not base.allow_unconverged)
    for path in fitted:
        if get_path(option, path) != get_path(base, path):
            raise InputError(
                f"options[{option_name}].params: {path}: is fitted in {base.calibrated_from}; "
                "an option cannot override it"
            )
    staff = sorted(p for p in fitted if p.startswith("handover.staff_response."))
    if staff and not option.handover.staff_response.enabled:
        raise InputError(
            f"options[{option_name}].params: handover.staff_response.enabled: false, but {base.calibrated_from} "
            f"fits {staff[0]} (a fit made with the staff response on); set handover.staff_response.enabled: true"
        )
    return with_values(option, fitted, where=f"params.calibrated_from: {base.calibrated_from}")
