"""``python -m real_backends.rig``: run the failover drill and write its report folder.

Without ``--standby`` the primary *app server* is SIGKILLed (both share one store). With
``--standby`` the *database* is: a PostgreSQL primary and its streaming-replication hot standby are
started in a temporary folder (synchronous commit, or asynchronous with ``--async``), the primary's
postmaster is SIGKILLed mid-run and the standby promoted.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from real_backends.rig import RigConfig, run_failover, run_standby_failover, write_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m real_backends.rig", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--households", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=500, help="applications per request (1-500)")
    p.add_argument("--kill-at", type=float, default=0.5, help="fraction of the application requests before the kill")
    p.add_argument("--store", default=None, help="an empty store (default: a new SQLite file in a temp folder)")
    p.add_argument("--standby", action="store_true",
                   help="kill the PostgreSQL primary and promote its streaming standby (started by the rig)")
    p.add_argument("--async", dest="asynchronous", action="store_true",
                   help="with --standby: asynchronous commit (default: synchronous_standby_names names the standby)")
    p.add_argument("--out", type=Path, default=Path("reports/failover_rig"))
    a = p.parse_args(argv)
    if a.asynchronous and not a.standby:
        p.error("--async: only with --standby")
    if a.standby and a.store:
        p.error("--store: not with --standby, which starts its own PostgreSQL primary and standby")
    try:
        config = RigConfig(households=a.households, seed=a.seed, batch=a.batch, kill_at=a.kill_at, standby=a.standby,
                           synchronous=not a.asynchronous)  # fmt: skip
    except ValueError as e:
        p.error(str(e))
    with tempfile.TemporaryDirectory(prefix="twin-rig-") as tmp:
        if a.standby:
            result = run_standby_failover(config, Path(tmp) / "logs")
        else:
            store = a.store or f"sqlite:///{Path(tmp) / 'payout.db'}"
            result = run_failover(config, store, Path(tmp) / "logs")
    folder = write_report(result, a.out)
    fo = "n/a" if result.failover_seconds is None else f"{result.failover_seconds:.3f} s"
    line = (f"exactly once: {result.exactly_once}; failover {fo}; {len(result.failures)} failed requests; "
            f"acknowledged {result.acknowledged:,}, lost {len(result.lost)}, paid twice {result.duplicated}")
    print(f"{line}; report: {folder / 'index.html'}")
    if not a.asynchronous:
        return 0 if result.exactly_once else 1
    # asynchronous commit may lose acknowledged applications (reported above); nothing may be paid twice
    return 0 if result.duplicated == 0 and result.transfers_per_household_max <= 1 and result.invariants_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
