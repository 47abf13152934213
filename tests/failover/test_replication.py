"""Replication and the real services through failover: what a takeover loses, and that nothing else breaks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.models.failover.demand import hourly_demand
from twin.models.failover.engine import simulate_year
from twin.models.failover.invariants import check_option
from twin.models.failover.params import Params
from twin.models.failover.replication import Clock, LogShipper, ReplicatedStore
from twin.services.store import MemoryStore


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 100), max_size=40), st.floats(0, 100), st.floats(0, 10),
       st.sampled_from(["sync", "async", "backup"]))  # fmt: skip
def test_a_takeover_loses_exactly_the_commits_the_mode_had_not_shipped(
    times: list[float], at: float, lag: float, mode: str
) -> None:
    clock, applied = Clock(), []
    log = LogShipper(mode, clock, applied.append, lag_hours=lag, backup_hours=6.0)
    committed = sorted(t for t in times if t <= at)
    for i, t in enumerate(committed):
        clock.now = t
        log.ship(t)
        log.commit(i)
    lost = log.take_over(at).lost
    horizon = {"sync": at, "async": at - lag, "backup": (at // 6.0) * 6.0}[mode]
    assert [c for _, c in lost] == [i for i, t in enumerate(committed) if t > horizon]
    assert applied + [c for _, c in lost] == list(range(len(committed)))
    if mode == "sync":
        assert lost == []


def test_replicated_store_ships_whole_transactions_and_fails_over_to_the_copy() -> None:
    clock = Clock(1.0)
    rs = ReplicatedStore(MemoryStore(), "async", clock, lag_hours=0.5)
    with rs.transaction() as tx:
        tx.put("t", 1, "a")
        tx.insert("t", 2, "b")
    clock.now = 2.0
    with rs.transaction() as tx:
        tx.delete("t", 1)
    rs.shipper.ship(2.0)  # only the first transaction is old enough
    assert dict(rs.standby.scan("t")) == {1: "a", 2: "b"}
    taken = rs.fail_over(2.1)
    assert len(taken.lost) == 1
    assert dict(rs.scan("t")) == {1: "a", 2: "b"}  # the delete never reached the new active store
    with pytest.raises(Exception, match="already exists"), rs.transaction() as tx:
        tx.insert("t", 2, "c")
    rs.resync()
    assert dict(rs.standby.scan("t")) == dict(rs.scan("t"))


def _agent(services: dict, **agent: object) -> dict:
    p = Params.model_validate({"services": services, "agent": {"enabled": True, "days": 10, **agent}})
    start = dt.date(2025, 2, 3)
    y = simulate_year(p, start, 10, hourly_demand(p.demand, start, 10), lambda n: np.random.default_rng(5))
    return check_option(p, start, 10, y, np.random.default_rng(11)).summary()


def both(mode: str, lag_seconds: float = 5.0) -> dict:
    rep = {"replication": {"mode": mode, "lag_seconds": lag_seconds}}
    return {"payout": rep, "jpki_ca": rep}


def test_synchronous_replication_keeps_every_promise_through_a_failover() -> None:
    s = _agent(both("sync"))
    assert s["payout_failovers"] == 1 and s["jpki_failovers"] == 1
    assert s["applications_acknowledged"] > 50 and s["transfers_by_bank"] > 30 and s["revocations_acknowledged"] > 5
    assert s["violations"] == 0, s["violation_examples"]
    assert s["applications_lost"] == s["households_paid_twice"] == s["revoked_reported_good"] == 0


def test_asynchronous_replication_loses_data_and_the_report_counts_it() -> None:
    s = _agent(both("async", lag_seconds=72 * 3600))  # a standby three days behind: Friday's batch is gone
    assert s["payout_commits_lost"] > 0 and s["applications_lost"] > 0
    assert s["households_paid_twice"] > 0  # the lost batch is made again and the bank pays again
    assert s["revocations_lost"] > 0 and s["revoked_reported_good"] > 0
    assert s["violations"] == 0, s["violation_examples"]


def test_a_standby_that_keeps_stale_presigned_answers_is_caught() -> None:
    # the ledger is replicated synchronously, but replaying a revocation leaves the standby's cache alone
    s = _agent(both("sync"), standby_cache_invalidation=False)
    assert s["revocations_lost"] == 0
    assert s["violations"] > 0
    assert "reported good" in s["violation_examples"][0]
