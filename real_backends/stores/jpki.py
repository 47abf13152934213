"""The CA's ledger of issued certificates (発行・失効情報) on any services store: SQLite, PostgreSQL or memory.

The JPKI centre's ledger must outlive the process that signs: a revocation written at 09:00 must
still be on the CRL published at 09:05 by another server. :class:`RecordsJpkiStore` implements
:class:`twin.services.jpki.store.JpkiStore` on top of :class:`twin.services.store.Store`, so the
durable stores in this package hold it with their transactions: one record per serial
(``jpki.certs``), an index of revoked serials per authority (``jpki.revoked.<ca>``, in revocation
order), one per person (``jpki.person:<ref>``), and the serial and CRL-number counters
(``jpki.counters``). Every method is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from twin.services.jpki.errors import SerialReusedError
from twin.services.jpki.profile import CaKind
from twin.services.jpki.store import IssuedCertificate, RevocationReason, revoked_record
from twin.services.store import Store

CERTS, COUNTERS = "jpki.certs", "jpki.counters"


def _revoked_table(ca: CaKind) -> str:
    return f"jpki.revoked.{ca.value}"


def _person_table(person_ref: str) -> str:
    return f"jpki.person:{person_ref}"


class RecordsJpkiStore:
    """:class:`~twin.services.jpki.store.JpkiStore` on a services store; serials from 0x1000 upwards."""

    FIRST_SERIAL = 0x1000

    def __init__(self, store: Store) -> None:
        self.store = store

    def __len__(self) -> int:
        return self.store.count(CERTS)

    def next_serial(self) -> int:
        serial = self.store.get(COUNTERS, "serial") or self.FIRST_SERIAL
        while self.store.get(CERTS, serial) is not None:  # type: ignore[arg-type]
            serial += 1  # type: ignore[operator]
        return serial  # type: ignore[return-value]

    def add(self, record: IssuedCertificate) -> None:
        with self.store.transaction() as tx:
            existing = tx.get(CERTS, record.serial)
            if existing is not None:
                raise SerialReusedError(
                    f"serial {record.serial:#x} is already used by a {existing.ca.value} certificate"  # type: ignore[attr-defined]
                )
            tx.insert(CERTS, record.serial, record)
            if record.serial >= (tx.get(COUNTERS, "serial") or self.FIRST_SERIAL):  # type: ignore[operator]
                tx.put(COUNTERS, "serial", record.serial + 1)
            if record.person_ref is not None:
                tx.put(_person_table(record.person_ref), record.serial, record.serial)
            if record.revoked_at is not None:
                self._index_revoked(tx, record)

    def _index_revoked(self, tx: object, record: IssuedCertificate) -> None:
        seq = (tx.get(COUNTERS, f"revoked.{record.ca.value}") or 0)  # type: ignore[attr-defined]
        tx.put(_revoked_table(record.ca), seq, record.serial)  # type: ignore[attr-defined]
        tx.put(COUNTERS, f"revoked.{record.ca.value}", seq + 1)  # type: ignore[attr-defined]

    def get(self, serial: int) -> IssuedCertificate | None:
        return self.store.get(CERTS, int(serial))  # type: ignore[return-value]

    def mark_revoked(self, serial: int, at: datetime, reason: RevocationReason) -> IssuedCertificate:
        with self.store.transaction() as tx:
            updated = revoked_record(tx.get(CERTS, int(serial)), serial, at, reason)  # type: ignore[arg-type]
            tx.put(CERTS, serial, updated)
            self._index_revoked(tx, updated)
            return updated

    def revoked(self, ca: CaKind) -> Iterable[IssuedCertificate]:
        return [self.store.get(CERTS, s) for _, s in self.store.scan(_revoked_table(ca))]  # type: ignore[misc]

    def of_person(self, person_ref: str) -> list[IssuedCertificate]:
        return [self.store.get(CERTS, s) for _, s in self.store.scan(_person_table(person_ref))]  # type: ignore[misc]

    def next_crl_number(self, ca: CaKind) -> int:
        with self.store.transaction() as tx:
            n = (tx.get(COUNTERS, f"crl.{ca.value}") or 0) + 1  # type: ignore[operator]
            tx.put(COUNTERS, f"crl.{ca.value}", n)
            return n
