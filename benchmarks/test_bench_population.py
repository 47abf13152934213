"""Building the synthetic nation: 1:100 and 1:1 wall time, and the peak memory of a 1:1 build.

Run with ``make bench`` (or ``.venv/bin/pytest benchmarks/test_bench_population.py --benchmark-only``).
Targets on 2 cores: 1:100 <= 1 s, 1:1 (about 126 million residents) <= 30 s and peak RSS <= 4 GB.
The per-snapshot calibration (parsing the CSV files, raking, alias tables) is cached per process
and is warmed up before timing; the cold cost is measured separately.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from twin.population import build_nation
from twin.population.households import household_model
from twin.population.statistics import load_snapshot


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    build_nation(0.001, np.random.default_rng(0))


def test_build_1_to_100(benchmark):
    nation = benchmark(lambda: build_nation(0.01, np.random.default_rng(1)))
    benchmark.extra_info["residents"] = len(nation)
    benchmark.extra_info["households"] = len(nation.households)


def test_calibration_cold(benchmark):
    """Parsing one release and fitting the household model from scratch (what the cache saves)."""

    def cold() -> None:
        load_snapshot.cache_clear()
        household_model.cache_clear()
        household_model("20200401")

    benchmark.pedantic(cold, rounds=3, iterations=1)


def test_build_1_to_1(benchmark):
    nation = benchmark.pedantic(lambda: build_nation(1.0, np.random.default_rng(1)), rounds=1, iterations=1)
    benchmark.extra_info["residents"] = len(nation)
    benchmark.extra_info["households"] = len(nation.households)
    del nation


_PEAK = textwrap.dedent(
    """
    import json, resource, time
    import numpy as np
    from twin.population import build_nation
    t0, c0 = time.perf_counter(), time.process_time()
    n = build_nation(1.0, np.random.default_rng(1))
    print(json.dumps({"residents": len(n), "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
    """
)


def test_peak_memory_1_to_1(benchmark):
    """A 1:1 build in a fresh process; its peak resident set size (ru_maxrss) goes into extra_info."""
    out = {}

    def run() -> None:
        proc = subprocess.run([sys.executable, "-c", _PEAK], capture_output=True, text=True, check=True, timeout=600)
        out.update(json.loads(proc.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(out)
    print(f"\n1:1 build in a fresh process: {out}")
    assert out["residents"] > 120_000_000
