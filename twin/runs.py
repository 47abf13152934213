"""Runs: a scenario, a seed and a scale go in; a run folder comes out.

``reports/<scenario>/<run-id>/`` holds ``manifest.json`` (inputs, versions, git commit, wall time,
peak memory), ``metrics.parquet`` (tidy rows), ``summary.json`` (headline numbers),
``figures/*.png`` and a self-contained ``index.html``. The run id is a hash of the validated
scenario (seed and scale included) and the package version, so the same inputs name the same
folder and give the same metrics bytes. A run is written into a hidden temporary folder and moved
into place only when complete: an interrupted or failed run leaves nothing half-written. A
partitioned run (the payout's agent tier) also keeps its finished partitions in
``.partitions-<run id>/`` beside the run folder until it completes, so rerunning an interrupted run
computes only the partitions that were missing and writes the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import twin
from twin.errors import InputError
from twin.metrics import Metrics, read_parquet, with_scope, write_parquet
from twin.report import Assumption, Figure, Section
from twin.scenario import Option, Scenario

#: dependencies whose versions go into every manifest
KEY_DEPENDENCIES = (
    "numpy", "scipy", "pandas", "pyarrow", "simpy", "mesa", "networkx", "pydantic",
    "matplotlib", "cryptography",
)  # fmt: skip

ProgressFactory = Callable[[str, float | None], contextlib.AbstractContextManager[Callable[[float], None]]]


@contextlib.contextmanager
def no_progress(description: str, total: float | None) -> Iterator[Callable[[float], None]]:
    """The progress hook for runs without a terminal (notebooks, workers): does nothing."""
    yield lambda advance=1: None


_no_progress = no_progress  # older name


def stream_key(name: str) -> int:
    """A stable 32-bit number for a component name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


@dataclass
class RunContext:
    """What a model gets: the validated scenario, its options, random streams and a progress hook."""

    scenario: Scenario
    progress: ProgressFactory = no_progress
    #: the one replication this context runs (twin.experiments hands out one per task); None for a
    #: plain run, which runs the scenario's replications itself and uses replication 0's streams by default
    replication: int | None = None
    #: where a partitioned model keeps its finished partitions (``twin run``: ``.partitions-<run id>/``
    #: beside the run folder), so a rerun of an interrupted run computes only the missing ones
    partition_cache: Path | None = None

    @property
    def seed(self) -> int:
        return self.scenario.seed

    @property
    def scale(self) -> float:
        return self.scenario.scale

    @property
    def options(self) -> tuple[Option, ...]:
        return self.scenario.options

    def seed_sequence(self, component: str, replication: int | None = None) -> np.random.SeedSequence:
        """The seed sequence of one component in one replication.

        Streams are named, not drawn in order, so adding a component never shifts another's numbers;
        options of one replication share streams (common random numbers).
        """
        r = replication if replication is not None else (self.replication or 0)
        return np.random.SeedSequence(self.seed, spawn_key=(stream_key(component), r))

    def rng(self, component: str, replication: int | None = None) -> np.random.Generator:
        return np.random.default_rng(self.seed_sequence(component, replication))


@dataclass
class ModelResult:
    """What a model returns: tidy metrics, headline numbers and the report's sections."""

    metrics: Metrics
    summary: dict[str, Any]
    sections: list[Section]
    sources: list[str] = field(default_factory=list)
    assumptions: list[Assumption] = field(default_factory=list)


@dataclass
class Run:
    """A finished run folder. ``run.metrics`` is the tidy DataFrame; ``run.plot()`` shows the figures."""

    path: Path

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / "manifest.json").read_text())

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.path / "summary.json").read_text())

    @property
    def metrics(self) -> pd.DataFrame:
        return read_parquet(str(self.path / "metrics.parquet"))

    @property
    def report(self) -> Path:
        return self.path / "index.html"

    @property
    def figures(self) -> list[Path]:
        return sorted((self.path / "figures").glob("*.png"))

    def plot(self) -> None:
        """Show the run's figures (inline in a notebook)."""
        try:
            from IPython.display import Image, display
        except ImportError:  # plain Python: open the report instead
            print(self.report)
            return
        for f in self.figures:
            display(Image(filename=str(f)))

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def git_commit(where: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def versions() -> dict[str, str]:
    v = {"python": platform.python_version(), "myna-twin": twin.__version__}
    for dep in KEY_DEPENDENCIES:
        try:
            v[dep] = metadata.version(dep)
        except metadata.PackageNotFoundError:
            v[dep] = "not installed"
    return v


def run_id(scenario: Scenario) -> str:
    return hashlib.sha256(f"{scenario.digest()}|{twin.__version__}".encode()).hexdigest()[:12]


def peak_rss_bytes() -> int:
    """This process's peak resident memory. On Linux the kernel's high-water mark of the process's own
    memory (``VmHWM``): ``ru_maxrss`` is not, since a process started by fork and exec (a spawned worker)
    inherits its parent's maximum, so every worker would report at least the main process's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> bool:
    """Start a new high-water mark at the current resident memory (Linux ``clear_refs`` 5), so that
    :func:`peak_rss_bytes` measures from here; False where the system cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def execute(
    scenario: Scenario,
    out: str | Path = "reports",
    progress: ProgressFactory = no_progress,
) -> Run:
    """Run a validated scenario and write its run folder; returns the finished :class:`Run`."""
    import matplotlib

    from twin.models import model_module
    from twin.report.html import figure_png, render, scale_text

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    rid = run_id(scenario)
    final = out / scenario.name / rid
    # Folders this run creates are removed again if it fails: a failed run leaves nothing behind.
    created = [d for d in (out, final.parent) if not d.exists()]
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--out {out}: cannot create the run folder: {e.strerror}") from None
    tmp = final.parent / f".tmp-{rid}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    remove_stale_temporaries(final.parent)
    started = time.time()
    t0 = time.perf_counter()
    try:
        _terminate_raises()
        module = model_module(scenario.kind)
        ctx = RunContext(scenario, progress, partition_cache=partition_cache(final))
        result: ModelResult = module.run(ctx)
        (tmp / "figures").mkdir(parents=True)
        df = with_scope(result.metrics.frame())
        write_parquet(df, str(tmp / "metrics.parquet"))
        (tmp / "summary.json").write_text(to_json(result.summary))
        pngs: dict[str, bytes] = {}
        for section in result.sections:
            for b in section.blocks:
                if isinstance(b, Figure):
                    pngs[b.name] = figure_png(b.figure)
                    (tmp / "figures" / f"{b.name}.png").write_bytes(pngs[b.name])
                    plt.close(b.figure)
        commit = git_commit(Path(twin.__file__).resolve().parent.parent)
        wall = time.perf_counter() - t0
        manifest = {
            "run_id": rid,
            "scenario": {
                "name": scenario.name,
                "kind": scenario.kind,
                "file": str(scenario.path) if scenario.path else None,
                "file_sha256": hashlib.sha256(scenario.source).hexdigest(),
                "validated_sha256": scenario.digest(),
                "validated": scenario.spec.model_dump(mode="json"),
            },
            "seed": scenario.seed,
            "scale": scenario.scale,
            "scale_text": scale_text(scenario.scale),
            "options": [o.name for o in scenario.options],
            "versions": versions(),
            "git_commit": commit,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "wall_time_s": round(wall, 3),
            "peak_rss_bytes": peak_rss_bytes(),
            "metrics_rows": len(df),
            "metrics_sha256": hashlib.sha256((tmp / "metrics.parquet").read_bytes()).hexdigest(),
        }
        (tmp / "manifest.json").write_text(to_json(manifest))
        page = render(
            title=scenario.title,
            subtitle=scenario.spec.description or "",
            meta={
                "scenario": f"{scenario.name} ({scenario.kind})",
                "run": rid,
                "seed": str(scenario.seed),
                "options": ", ".join(o.name for o in scenario.options),
                "version": twin.__version__,
                "commit": (commit or "unknown")[:12],
            },
            scale=scenario.scale,
            sections=result.sections,
            figures_png=pngs,
            sources=result.sources,
            assumptions=result.assumptions,
        )
        (tmp / "index.html").write_text(page, encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        shutil.rmtree(partition_cache(final), ignore_errors=True)  # complete: nothing left to resume
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        for d in reversed(created):
            with contextlib.suppress(OSError):  # only if still empty: never another run's output
                d.rmdir()
        if isinstance(e, Terminated):  # cleaned up: now let SIGTERM do what it would have done
            _terminate_restored()
            os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        _terminate_restored()
    return Run(final)


def partition_cache(final: Path) -> Path:
    """The finished partitions of the run that will be ``final`` (named by its run id: the same
    scenario, seed, scale and version find them again). Kept when the run fails or is interrupted,
    removed when it completes; a run with no partitions never creates it."""
    return final.parent / f".partitions-{final.name}"


class Terminated(SystemExit):
    """SIGTERM arrived during a run: unwinds like Ctrl-C so the temporary folder is removed."""


_previous_sigterm: list[Any] = []


def _terminate_raises() -> None:
    """While a run writes (main thread only), SIGTERM raises :class:`Terminated` instead of ending the
    process on the spot, which would leave the ``.tmp-<run>-<pid>/`` folder behind; once the folder
    is removed the signal is raised again under the previous handler (the process ends as before)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(128 + signum)

    _previous_sigterm.append(signal.signal(signal.SIGTERM, handler))


def _terminate_restored() -> None:
    if _previous_sigterm:
        signal.signal(signal.SIGTERM, _previous_sigterm.pop())


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove ``.tmp-<run>-<pid>`` folders whose process is gone (SIGKILL or power loss cannot be
    caught); those of live processes, possibly other runs in progress, are kept."""
    removed = []
    for tmp in folder.glob(".tmp-*-*"):
        pid_text = tmp.name.rsplit("-", 1)[1]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # alive (or another user's): not ours to remove
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
    return removed


def to_json(obj: Any) -> str:
    """Stable JSON for run files: sorted keys, numpy numbers as plain numbers, dates as ISO.

    Strict JSON: a number that is not finite (an undefined median, say) is written as ``null``,
    never as the ``NaN``/``Infinity`` that JSON parsers other than Python's refuse.
    """
    return json.dumps(_finite(obj), indent=2, sort_keys=True, ensure_ascii=False, default=_json_default,
                      allow_nan=False) + "\n"  # fmt: skip


def _finite(obj: Any) -> Any:
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    return obj


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


_json = to_json  # older name
