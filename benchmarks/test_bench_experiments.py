"""Benchmarks of the experiment runner: a 200-replication sweep of the payout scenario at 1:100.

Two figures matter to whoever plans a national sweep:

- speed-up on 2 local worker processes against 1 (target: at least 1.8x on a 2-core machine);
- the runner's overhead per replication (pool start-up, shipping tasks, writing and merging Parquet,
  bands) as a share of the replication's own time measured inside the worker (target: at most 5 %).

``replication_cpu_s_in_worker`` against ``replication_s_in_worker`` shows whether the workers had the
cores to themselves: on a machine shared with other jobs the wall time inside a worker grows while
its CPU time does not, and no runner can then show the speed-up.

``TWIN_BENCH_REPS`` changes the number of replications (default 200, the figure the project quotes;
each payout replication at 1:100 takes several seconds, so the default run takes a while).
``TWIN_BENCH_SCENARIO`` / ``TWIN_BENCH_SCALE`` point it at another scenario, e.g. the nation at
1:1000 while the payout model cannot run. Run with ``make bench`` or
``.venv/bin/pytest benchmarks/test_bench_experiments.py --benchmark-only -p no:randomly -s``.

Measured on the build machine (2 cores, shared with other engineers' jobs, load average 5-7),
``TWIN_BENCH_REPS=24``, payout at 1:100: one replication costs 4.5 CPU s. 1 worker: 174.6 s wall,
7.1 s per replication inside the worker, overhead 2.0 %. 2 workers: 155.7 s wall, 12.5 s inside each
worker for the same 4.3 CPU s (each worker had about a third of a core), overhead 3.7 %, speed-up
1.12x; 1 and 2 workers gave identical results. With 16 replications and a core free for the
single worker: 4.53 s per replication inside the worker for 4.57 CPU s, overhead 2.7 % (mostly the
pool's start-up, which 200 replications spread ~12x thinner). The 1.8x target was not observable
on the shared machine; rerun on idle cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twin import experiments as xp

REPS = int(os.environ.get("TWIN_BENCH_REPS", "200"))
SCENARIO = os.environ.get("TWIN_BENCH_SCENARIO", "scenarios/payout_2020.yaml")
SCALE = float(os.environ.get("TWIN_BENCH_SCALE", "0.01"))

#: the default sweep runs for tens of minutes: longer than the test suite's 600 s timeout allows
pytestmark = pytest.mark.timeout(4 * 3600)

_walls: dict[int, float] = {}
_results: dict[int, bytes] = {}


def _sweep(workers: int, out: Path) -> xp.Sweep:
    return xp.sweep(SCENARIO, (), reps=REPS, scale=SCALE, workers=workers, out=out)


@pytest.mark.parametrize("workers", [1, 2])
def test_bench_replications_on_local_workers(benchmark, tmp_path: Path, workers: int) -> None:  # noqa: ANN001
    result: dict[str, xp.Sweep] = {}

    def run() -> None:
        result["sweep"] = _sweep(workers, tmp_path / f"w{workers}")

    benchmark.pedantic(run, rounds=1, iterations=1)
    sw = result["sweep"]
    assert sw.computed == REPS
    _walls[workers] = sw.wall_s
    _results[workers] = (sw.path / "results.parquet").read_bytes()
    per_rep = sw.compute_s / sw.computed
    info = {
        "scenario": SCENARIO,
        "scale": SCALE,
        "replications": REPS,
        "workers": workers,
        "wall_s": round(sw.wall_s, 2),
        "replication_s_in_worker": round(per_rep, 3),
        "replication_cpu_s_in_worker": round(sw.cpu_s / sw.computed, 3),
        "wall_s_per_replication": round(sw.wall_s / REPS, 3),
        "overhead_share": round(sw.overhead, 4),
    }
    if 1 in _walls and 2 in _walls:
        info["speedup_2_vs_1"] = round(_walls[1] / _walls[2], 3)
        assert _results[1] == _results[2], "1 and 2 workers gave different results"
    benchmark.extra_info.update(info)
    print(f"\n{info}")
    assert sw.overhead <= 0.05, f"runner overhead {sw.overhead:.1%} of the replication's own time (target <= 5 %)"
    if "speedup_2_vs_1" in info:
        assert info["speedup_2_vs_1"] >= 1.8, f"2 workers are only {info['speedup_2_vs_1']}x faster than 1"
