"""``python -m real_backends.rig``: run the failover drill and write its report folder."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from real_backends.rig import RigConfig, run_failover, write_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m real_backends.rig", description=__doc__)
    p.add_argument("--households", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kill-at", type=float, default=0.5, help="fraction of the application requests before the kill")
    p.add_argument("--store", default=None, help="an empty store (default: a new SQLite file in a temp folder)")
    p.add_argument("--out", type=Path, default=Path("reports/failover_rig"))
    a = p.parse_args(argv)
    config = RigConfig(households=a.households, seed=a.seed, kill_at=a.kill_at)
    with tempfile.TemporaryDirectory(prefix="twin-rig-") as tmp:
        store = a.store or f"sqlite:///{Path(tmp) / 'payout.db'}"
        result = run_failover(config, store, Path(tmp) / "logs")
    folder = write_report(result, a.out)
    fo = "n/a" if result.failover_seconds is None else f"{result.failover_seconds:.3f} s"
    print(f"exactly once: {result.exactly_once}; failover {fo}; {len(result.failures)} failed requests; "
          f"report: {folder / 'index.html'}")  # fmt: skip
    return 0 if result.exactly_once else 1


if __name__ == "__main__":
    raise SystemExit(main())
