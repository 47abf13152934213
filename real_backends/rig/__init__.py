"""The failover rig: two payout servers behind a health-checking router, the primary killed mid-run.

``python -m real_backends.rig --households 100000`` stages a drill on a fresh SQLite file (or
``--store postgresql://...`` on an empty database) and writes its report to
``reports/failover_rig/<run-id>/index.html``; :func:`run_failover` and :func:`write_report` do the
same from Python. ``--standby [--async]`` (:func:`run_standby_failover`) kills the PostgreSQL
primary instead and promotes its streaming-replication standby.
"""

from real_backends.rig.failover import (
    FailedRequest,
    RigConfig,
    RigError,
    RigResult,
    run_failover,
    run_standby_failover,
)
from real_backends.rig.report import write_report

__all__ = ["FailedRequest", "RigConfig", "RigError", "RigResult", "run_failover", "run_standby_failover",
           "write_report"]
