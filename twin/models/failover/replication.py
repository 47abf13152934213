"""Log shipping between two data centres: what the standby knows when it has to take over.

Every committed change at the primary site is written to a log and shipped to the standby, which
replays it. Synchronously, the primary answers "done" only after the standby has it: a takeover
loses nothing. Asynchronously, the standby runs ``lag`` behind: whatever was committed in the
last ``lag`` before the primary died is gone, although the client was told "done". With nightly
backups the standby has only what the last backup held. :class:`LogShipper` is that log, with the
exact list of what a takeover lost; :class:`ReplicatedStore` puts it under any service that keeps
its state in a :class:`twin.services.store.Store` (the payout ledger), and
:class:`ReplicatedJpkiStore` under the JPKI ledger (:class:`twin.services.jpki.JpkiStore`).
Time is the simulation's, in hours, read from a :class:`Clock` the simulation advances.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twin.services.store import Key, MemoryStore, insert_each


@dataclass
class Clock:
    """Simulation time in hours; the simulation sets ``now`` before each operation."""

    now: float = 0.0


@dataclass
class Takeover:
    """What one failover cost: the commits the standby never received (time, change)."""

    at: float
    lost: list[tuple[float, Any]] = field(default_factory=list)


class LogShipper:
    """The replication log from the active site to the standby, in one of three modes.

    ``apply(change)`` replays one change at the standby. ``sync``: applied at commit;
    ``async``: applied once ``lag_hours`` old; ``backup``: applied at the next multiple of
    ``backup_hours`` (the nightly copy).
    """

    MODES = ("sync", "async", "backup")

    def __init__(
        self,
        mode: str,
        clock: Clock,
        apply: Callable[[Any], None],
        *,
        lag_hours: float = 0.0,
        backup_hours: float = 24.0,
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"replication mode: {mode!r} is not one of {', '.join(self.MODES)}")
        if lag_hours < 0 or backup_hours <= 0:
            raise ValueError(f"lag_hours = {lag_hours}, backup_hours = {backup_hours}: lag must be >= 0, backups > 0")
        self.mode, self.clock, self.apply = mode, clock, apply
        self.lag_hours, self.backup_hours = lag_hours, backup_hours
        self.pending: deque[tuple[float, Any]] = deque()
        self.shipped = 0
        self.takeovers: list[Takeover] = []
        self.connected = True

    def commit(self, change: Any) -> None:
        """A change committed at the active site at ``clock.now``."""
        if not self.connected:  # no standby yet (rebuilding): nothing to ship to
            return
        if self.mode == "sync":
            self.apply(change)
            self.shipped += 1
        else:
            self.pending.append((self.clock.now, change))

    def _horizon(self, now: float) -> float:
        if self.mode == "async":
            return now - self.lag_hours
        if self.mode == "backup":
            return (now // self.backup_hours) * self.backup_hours
        return now

    def ship(self, now: float | None = None) -> int:
        """Replay at the standby every change old enough to have arrived by ``now``."""
        now = self.clock.now if now is None else now
        limit = self._horizon(now)
        n = 0
        while self.pending and self.pending[0][0] <= limit:
            self.apply(self.pending.popleft()[1])
            n += 1
        self.shipped += n
        return n

    def take_over(self, now: float) -> Takeover:
        """The active site is lost at ``now``: ship what arrived, drop the rest, and say what was lost."""
        self.ship(now)
        t = Takeover(now, list(self.pending))
        self.pending.clear()
        self.takeovers.append(t)
        self.connected = False
        return t

    @property
    def lost(self) -> int:
        return sum(len(t.lost) for t in self.takeovers)


# --------------------------------------------------------------------------------------------
# the services' generic store (payout ledger, registry, accounts)


class _ShippedTransaction:
    """A transaction on the active store that, once committed, puts its writes on the log."""

    def __init__(self, owner: ReplicatedStore) -> None:
        self._owner = owner
        self._inner = owner.active.transaction()
        self._ops: list[tuple[str, str, Key, object]] = []

    def get(self, table: str, key: Key) -> object | None:
        return self._inner.get(table, key)

    def put(self, table: str, key: Key, value: object) -> None:
        self._inner.put(table, key, value)
        self._ops.append(("put", table, key, value))

    def insert(self, table: str, key: Key, value: object) -> None:
        self._inner.insert(table, key, value)
        self._ops.append(("put", table, key, value))

    def insert_many(self, table: str, items: Iterable[tuple[Key, object]]) -> int:
        return insert_each(self, table, items)

    def delete(self, table: str, key: Key) -> None:
        self._inner.delete(table, key)
        self._ops.append(("delete", table, key, None))

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]:
        return self._inner.scan(table, limit)

    def commit(self) -> None:
        self._inner.commit()
        if self._ops:
            self._owner.shipper.commit(tuple(self._ops))

    def rollback(self) -> None:
        self._inner.rollback()
        self._ops = []

    def __enter__(self) -> _ShippedTransaction:
        return self

    def __exit__(self, et: object, ev: object, tb: object) -> None:
        if et is None and not getattr(self._inner, "_done", False):
            self.commit()
        elif not getattr(self._inner, "_done", False):
            self.rollback()


class ReplicatedStore:
    """A :class:`twin.services.store.Store` at the active site whose commits are shipped to a standby copy."""

    def __init__(self, active: MemoryStore, mode: str, clock: Clock, *, lag_hours: float = 0.0,
                 backup_hours: float = 24.0) -> None:  # fmt: skip
        self.active = active
        self.standby: MemoryStore | None = copy.deepcopy(active)
        self.clock = clock
        self._settings = (mode, lag_hours, backup_hours)
        self.shipper = LogShipper(mode, clock, self._apply, lag_hours=lag_hours, backup_hours=backup_hours)

    def _apply(self, ops: tuple[tuple[str, str, Key, object], ...]) -> None:
        assert self.standby is not None
        with self.standby.transaction() as tx:
            for op, table, key, value in ops:
                if op == "put":
                    tx.put(table, key, value)
                else:
                    tx.delete(table, key)

    def transaction(self) -> _ShippedTransaction:
        return _ShippedTransaction(self)

    def get(self, table: str, key: Key) -> object | None:
        return self.active.get(table, key)

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]:
        return self.active.scan(table, limit)

    def count(self, table: str) -> int:
        return self.active.count(table)

    def fail_over(self, now: float) -> Takeover:
        """The standby becomes the active store; the old active site's unshipped commits are lost."""
        t = self.shipper.take_over(now)
        assert self.standby is not None
        self.active, self.standby = self.standby, None
        return t

    def resync(self) -> None:
        """The failed site is back: it becomes the standby as a fresh copy of the active store."""
        self.standby = copy.deepcopy(self.active)
        old = self.shipper
        mode, lag, backup = self._settings
        self.shipper = LogShipper(mode, self.clock, self._apply, lag_hours=lag, backup_hours=backup)
        self.shipper.takeovers = old.takeovers


# --------------------------------------------------------------------------------------------
# the JPKI ledger


class LoggedJpkiStore:
    """A JPKI ledger (:class:`twin.services.jpki.MemoryStore`) whose writes go to a log as well."""

    def __init__(self, inner: Any, sink: Callable[[tuple], None]) -> None:
        self.inner, self.sink = inner, sink

    def next_serial(self) -> int:
        return self.inner.next_serial()

    def add(self, record: Any) -> None:
        self.inner.add(record)
        self.sink(("add", record))

    def get(self, serial: int) -> Any:
        return self.inner.get(serial)

    def mark_revoked(self, serial: int, at: datetime, reason: Any) -> Any:
        out = self.inner.mark_revoked(serial, at, reason)
        self.sink(("mark_revoked", serial, at, reason))
        return out

    def revoked(self, ca: Any) -> Iterable[Any]:
        return self.inner.revoked(ca)

    def of_person(self, person_ref: str) -> list[Any]:
        return self.inner.of_person(person_ref)

    def next_crl_number(self, ca: Any) -> int:
        n = self.inner.next_crl_number(ca)
        self.sink(("next_crl_number", ca))
        return n


def apply_jpki_change(store: Any, change: tuple, on_revoked: Callable[[int], None] | None = None) -> None:
    """Replay one logged JPKI change at a standby ledger (and drop the standby's cached answers)."""
    kind = change[0]
    if kind == "add":
        store.add(change[1])
    elif kind == "mark_revoked":
        store.mark_revoked(change[1], change[2], change[3])
        if on_revoked is not None:
            on_revoked(change[1])
    elif kind == "next_crl_number":
        store.next_crl_number(change[1])
    else:
        raise ValueError(f"unknown JPKI change {kind!r}")
