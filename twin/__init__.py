"""Myna Twin: a digital twin of Japan's My Number system.

The first three lines a notebook needs::

    import twin
    run = twin.run("scenarios/nation.yaml", scale=0.01)
    run.plot()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from twin.runs import Run
    from twin.scenario import Scenario


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file (raises twin.errors.InputError with every problem)."""
    from twin import scenario

    return scenario.load(path)


def run(
    path: str | Path,
    *,
    seed: int | None = None,
    scale: float | None = None,
    replications: int | None = None,
    out: str | Path = "reports",
) -> Run:
    """Run a scenario file and return the finished run folder (``seed``, ``scale`` and
    ``replications`` override the file's values)."""
    from twin import runs, scenario

    sc = scenario.load(path).with_overrides(seed=seed, scale=scale, replications=replications)
    return runs.execute(sc, out=out)


def open_run(path: str | Path) -> Run:
    """An existing run folder (reports/<scenario>/<run-id>)."""
    from twin.runs import Run

    p = Path(path)
    if not (p / "manifest.json").exists():
        from twin.errors import InputError

        raise InputError(f"{p}: not a run folder (no manifest.json)")
    return Run(p)


__all__ = ["__version__", "load", "open_run", "run"]
