"""The ledger's books and the checks that they balance (TigerBeetle-style invariants, run every simulated hour).

A payout office closes each day by checking that what went out equals what was owed to the
households marked paid, that every transfer in flight is accounted for, and that no household
appears twice in any list. The ledger keeps running totals in the same transactions as the records
they summarise, so :func:`check` compares them with table sizes in O(1); ``full=True`` re-adds
every record from scratch and compares again. The table names here are the store layout of the
ledger (one SQL table each, primary key = the record key).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from twin.services.payout.programme import EntitlementRoll
from twin.services.payout.records import HouseholdFile, Status, Totals
from twin.services.store import Store, Transaction

META, KEYS, APPS, PENDING = "payout.meta", "payout.keys", "payout.apps", "payout.pending"
FILES, QUEUE, NOTIFIED, BATCHES = "payout.files", "payout.queue", "payout.notified", "payout.batches"
IN_FLIGHT, PAYMENTS, SETTLED = "payout.in_flight", "payout.payments", "payout.settled"
COUNTERS, TOTALS = "payout.counters", "payout.totals"


class InvariantViolation(Exception):
    """The ledger's books do not add up; the message says which sum, and by how much."""


def count(tx: Transaction, name: str, n: int = 1) -> None:
    """Add ``n`` to the counter ``name`` (decisions by kind and reason) inside ``tx``."""
    if n:
        tx.put(COUNTERS, name, (tx.get(COUNTERS, name) or 0) + n)  # type: ignore[operator]


_UNSEEN = object()


class Prefetched:
    """A transaction whose first reads of the records a batch will touch come from one bulk read.

    ``prefetch(tables)`` asks the transaction for ``{table: keys}`` at once when it can
    (``get_many``: the SQL stores, one query per 500 keys); otherwise (the memory store, whose reads
    cost nothing) it does nothing. A record written in the batch is read from the transaction again.
    """

    __slots__ = ("_tx", "_seen")

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._seen: dict[str, dict[object, object]] = {}

    def prefetch(self, table: str, keys: Iterable[object]) -> None:
        get_many = getattr(self._tx, "get_many", None)
        if get_many is None:
            return
        keys = [k for k in dict.fromkeys(keys) if k not in self._seen.get(table, ())]
        found = get_many(table, keys)
        self._seen.setdefault(table, {}).update({k: found.get(k) for k in keys})

    def get(self, table: str, key: object) -> object | None:
        seen = self._seen.get(table)
        if seen is not None:
            v = seen.get(key, _UNSEEN)
            if v is not _UNSEEN:
                return v
        return self._tx.get(table, key)

    def _forget(self, table: str, key: object) -> None:
        seen = self._seen.get(table)
        if seen is not None:
            seen.pop(key, None)

    def put(self, table: str, key: object, value: object) -> None:
        seen = self._seen.get(table)  # _forget, inlined: a batch writes about twelve records a household
        if seen is not None:
            seen.pop(key, None)
        self._tx.put(table, key, value)

    def insert(self, table: str, key: object, value: object) -> None:
        seen = self._seen.get(table)
        if seen is not None and key in seen and seen[key] is None:  # known absent: no read needed
            del seen[key]
            self._tx.put(table, key, value)
            return
        self._forget(table, key)
        self._tx.insert(table, key, value)

    def delete(self, table: str, key: object) -> None:
        seen = self._seen.get(table)
        if seen is not None:
            seen.pop(key, None)
        self._tx.delete(table, key)

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[object, object]]:
        return self._tx.scan(table, limit)


def flush(tx: Transaction, tally: dict[str, int]) -> None:
    """Add a batch's counted decisions (``{name: n}``) to the counters inside ``tx``, in name order."""
    for name in sorted(tally):
        count(tx, name, tally[name])


def same(what: str, got: int, expected: int) -> None:
    if got != expected:
        raise InvariantViolation(f"{what}: {got:,} != {expected:,} (off by {got - expected:+,})")


def check(store: Store, roll: EntitlementRoll, full: bool = False) -> None:
    """Raise :class:`InvariantViolation` if money is not conserved or a household could be paid twice."""
    t: Totals = store.get(TOTALS, "t")  # type: ignore[assignment]
    same("disbursed = in flight + paid + bank-rejected", t.disbursed_amount,
         t.in_flight_amount + t.paid_amount + t.bank_rejected_amount)  # fmt: skip
    same("paid amount = entitlement of paid households", t.paid_amount, t.paid_entitlement)
    same("paid households = payment records", t.paid, store.count(PAYMENTS))
    same("transfers in flight = in-flight records", t.in_flight, store.count(IN_FLIGHT))
    same("queued households = queue records", t.queued, store.count(QUEUE))
    if min(t) < 0:
        raise InvariantViolation(f"a running total is negative: {t}")
    if t.paid_amount > roll.total or t.paid > roll.households:
        raise InvariantViolation(f"paid {t.paid_amount:,} yen to {t.paid} households; the roll holds {roll.total:,}")
    if full:
        audit(store, roll, t)


def audit(store: Store, roll: EntitlementRoll, t: Totals) -> None:
    """Recompute every total from the records (O(records)); raise on the first disagreement."""
    files: dict[int, HouseholdFile] = dict(store.scan(FILES))  # type: ignore[arg-type]

    def status(h: int) -> Status:
        f = files.get(h)
        return Status.ENTITLED if f is None else f.status

    paid = 0
    for h, (_, amount, _) in store.scan(PAYMENTS):  # type: ignore[misc]
        if amount != roll.amount_of(h):
            raise InvariantViolation(f"household {h}: paid {amount:,} yen, entitled to {roll.amount_of(h):,}")
        if status(h) is not Status.PAID or store.get(IN_FLIGHT, h) is not None:
            raise InvariantViolation(
                f"household {h}: paid, but its file says {status(h).value} or it is still in flight"
            )
        paid += amount
    same("sum of payment records", paid, t.paid_amount)
    flight = 0
    for h, batch in store.scan(IN_FLIGHT):
        f = files.get(h)  # type: ignore[call-overload]
        if f is None or f.status is not Status.IN_BATCH or f.batch != batch:
            raise InvariantViolation(f"household {h}: in flight in batch {batch} but its file says {f}")
        flight += roll.amount_of(h)  # type: ignore[arg-type]
    same("sum of transfers in flight", flight, t.in_flight_amount)
    queued = [h for _, h in store.scan(QUEUE)]
    if len(set(queued)) != len(queued) or any(status(h) is not Status.VERIFIED for h in queued):  # type: ignore[arg-type]
        raise InvariantViolation("the payment queue holds a household twice or one that is not verified")
    same("sum of queued entitlements", sum(roll.amount_of(h) for h in queued), t.queued_amount)  # type: ignore[arg-type]
    same("sum of batch totals", sum(b.total for _, b in store.scan(BATCHES)), t.disbursed_amount)  # type: ignore[attr-defined]
    counts: dict[Status, int] = {}
    for f in files.values():
        counts[f.status] = counts.get(f.status, 0) + 1
    same("files marked paid", counts.get(Status.PAID, 0), t.paid)
    same("files in a batch", counts.get(Status.IN_BATCH, 0), t.in_flight)
    same("files verified", counts.get(Status.VERIFIED, 0), t.queued)
    same("files notified = open push notices", counts.get(Status.NOTIFIED, 0), store.count(NOTIFIED))
    same("files applied = applications waiting", counts.get(Status.APPLIED, 0), store.count(PENDING))
