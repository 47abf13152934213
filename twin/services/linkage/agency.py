"""One body's side of the linkage: its internal address numbers and its intermediate server with copies.

Inside a town hall, each business system (tax, welfare, child allowance) knows residents by My
Number. The integrated-address system (団体内統合宛名システム) gives each person one internal address
number (統合宛名番号) for the whole body, and the intermediate server (中間サーバー) is what faces the
network: it knows the person only by address number and by the body's agency code (機関別符号), and
holds copies (副本) of the data the body may be asked for, registered from the business systems in
batches. An answer comes from the copy, not from the live business system, so it is only as fresh
as the last refresh: every copy carries the date its data refers to (``as_of``, e.g. the fiscal year
of an income assessment) and when it was refreshed.

When the refreshes happen is the caller's: the models call :meth:`Agency.refresh` at the times they
draw. A body may instead follow a refresh schedule (``schedule``, e.g. :func:`nightly_refresh`: the
nightly registration at 02:00 JST, assumed): a change its business system records with a time
(``record(..., at=...)``) waits for the first scheduled refresh after it, which
:meth:`Agency.refresh_due` runs, as at its own time, once a query or a later change comes after it; a
night with nothing recorded since the last refresh registers nothing, and the copies keep their time.

The My Number stays in :meth:`Agency.enrol` and the address book (``linkage.addr.<body>``): the
intermediate server's tables hold address numbers and codes only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from twin.services.linkage.codes import AgencyCode, CodeError, CodeIssuer, ResidentCodes
from twin.services.store import Store

JST: Final = dt.timezone(dt.timedelta(hours=9))
#: ASSUMED: the intermediate servers register the business systems' changes as copies (副本登録) in a nightly batch
#: from 02:00 JST, the start of the failover model's nightly window (``daily_stop``, 02:00-03:00); not a published
#: schedule
NIGHTLY_REFRESH: Final = dt.time(2, 0)
PENDING: Final = "linkage.pending"  # body -> when its business system first recorded a change since the last refresh


def nightly_refresh(after: dt.datetime) -> dt.datetime:
    """The first nightly refresh (02:00 JST) after ``after``: the schedule of a body that registers its business
    system's changes every night (a change recorded at 02:00 or later waits for the next night)."""
    local = after.astimezone(JST)
    night = dt.datetime.combine(local.date(), NIGHTLY_REFRESH, JST)
    return night if night > local else night + dt.timedelta(days=1)


class EnrolmentError(ValueError):
    """A person the body cannot enrol (no resident-register code for the number given)."""


@dataclass(frozen=True, slots=True)
class Copy:
    """副本: one data item of one person as the intermediate server holds it."""

    value: object
    as_of: dt.date  # the date the data refers to (e.g. start of the fiscal year of an assessment)
    refreshed_at: dt.datetime  # when the business system registered it on the intermediate server


class Agency:
    """A body's address book (団体内統合宛名) and intermediate server (中間サーバー), state in ``store``."""

    def __init__(
        self,
        body: str,
        store: Store,
        issuer: CodeIssuer,
        resident_codes: ResidentCodes,
        schedule: Callable[[dt.datetime], dt.datetime] | None = None,
    ) -> None:
        """``schedule``: when a change recorded at a time reaches the copies (the first refresh after it, e.g.
        :func:`nightly_refresh`); None: only when the caller calls :meth:`refresh`."""
        self.body = body
        self.schedule = schedule
        self._store = store
        self._issuer = issuer
        self._resident_codes = resident_codes
        self._addr = f"linkage.addr.{body}"  # my_number -> address number (the body's own system)
        self._codes = f"linkage.code.{body}"  # address number -> agency code (intermediate server)
        self._by_code = f"linkage.bycode.{body}"  # agency code -> address number (intermediate server)
        self._business = f"linkage.business.{body}"  # (address number, item) -> (value, as_of)
        self._copies = f"linkage.copy.{body}"  # (address number, item) -> Copy (intermediate server)
        self._changed = f"linkage.changed.{body}"  # (address number, item) recorded with a time, not yet registered

    # -- inside the body (My Number allowed) -----------------------------------------------------

    def enrol(self, my_number: str) -> int:
        """The person's address number, assigned (and the agency code obtained) on first sight."""
        known = self._store.get(self._addr, my_number)
        if known is not None:
            return known  # type: ignore[return-value]
        rrc = self._resident_codes.code_of(my_number)
        if rrc is None:
            raise EnrolmentError(f"{self.body}: no resident-register code for this person (My Number not found)")
        code = self._issuer.issue(self.body, rrc)
        with self._store.transaction() as tx:
            address = self._store.count(self._addr) + 1
            tx.insert(self._addr, my_number, address)
            tx.put(self._codes, address, code.hex)
            tx.put(self._by_code, code.hex, address)
        return address

    def code_for(self, my_number: str) -> AgencyCode:
        """The agency code this body uses when it asks about the person (enrols them if needed)."""
        return AgencyCode(self._store.get(self._codes, self.enrol(my_number)))  # type: ignore[arg-type]

    def record(self, my_number: str, item: str, value: object, as_of: dt.date, at: dt.datetime | None = None) -> None:
        """The business system records (or corrects) a data item; the copy changes only on refresh.

        ``at``: when it was recorded. On a body with a schedule the refresh due by then is run first (it registered
        what was there before), and the change waits for the first scheduled refresh after ``at``
        (:meth:`refresh_due`); the same record again is no change."""
        if at is not None:
            self.refresh_due(at)
        address = self.enrol(my_number)
        with self._store.transaction() as tx:
            key, record = (address, str(item)), (value, as_of)
            if at is not None and tx.get(self._business, key) == record:
                return  # the same record again (a retry) changes nothing and waits for no refresh
            tx.put(self._business, key, record)
            if at is not None:
                tx.put(self._changed, key, at)
                since: dt.datetime | None = tx.get(PENDING, self.body)  # type: ignore[assignment]
                if since is None or at < since:
                    tx.put(PENDING, self.body, at)

    def publish(self, my_number: str, item: str, value: object, as_of: dt.date, at: dt.datetime) -> None:
        """Record and register the copy at once: a register whose copy follows every change (the account register)."""
        address = self.enrol(my_number)
        with self._store.transaction() as tx:
            tx.put(self._business, (address, str(item)), (value, as_of))
            tx.put(self._copies, (address, str(item)), Copy(value, as_of, at))

    def withdraw(self, my_number: str, item: str) -> None:
        """The item no longer exists for the person: neither record nor copy."""
        address = self.enrol(my_number)
        with self._store.transaction() as tx:
            tx.delete(self._business, (address, str(item)))
            tx.delete(self._copies, (address, str(item)))

    def refresh(self, at: dt.datetime) -> int:
        """Register every business record as the intermediate server's copy (副本登録); returns how many."""
        rows = list(self._store.scan(self._business))
        changed = [key for key, _ in self._store.scan(self._changed)]
        with self._store.transaction() as tx:
            for key, (value, as_of) in rows:  # type: ignore[misc]
                tx.put(self._copies, key, Copy(value, as_of, at))
            for key in changed:
                tx.delete(self._changed, key)
            tx.delete(PENDING, self.body)  # every change recorded so far is registered
        return len(rows)

    def register_changes(self, at: dt.datetime) -> int:
        """Register only the records changed (with a time) since the last registration, as at ``at`` (差分登録: the
        scheduled refresh's work is the night's changes, not the whole table); returns how many."""
        changed = [key for key, _ in self._store.scan(self._changed)]
        with self._store.transaction() as tx:
            for key in changed:
                record = tx.get(self._business, key)
                if record is not None:
                    value, as_of = record  # type: ignore[misc]
                    tx.put(self._copies, key, Copy(value, as_of, at))
                tx.delete(self._changed, key)
            tx.delete(PENDING, self.body)
        return len(changed)

    def pending_since(self) -> dt.datetime | None:
        """When the business system first recorded a change (with a time) that no refresh has registered yet."""
        return self._store.get(PENDING, self.body)  # type: ignore[return-value]

    def refresh_due(self, at: dt.datetime) -> dt.datetime | None:
        """On a schedule: the refresh that was due by ``at`` (the first scheduled one after the earliest change not
        yet registered), run as at its own time: it registers the changes recorded since (:meth:`register_changes`), so
        their copies carry that time and an answer the copy's age; returns
        that time, or None when none was due (no schedule, nothing pending, or not yet). Running it twice (two
        workers of one store) registers the same copies at the same time."""
        if self.schedule is None:
            return None
        since = self.pending_since()
        if since is None:
            return None
        when = self.schedule(since)
        if when > at:
            return None
        self.register_changes(when)
        return when

    # -- the intermediate server (codes and address numbers only) --------------------------------

    def address_of(self, code: AgencyCode) -> int | None:
        return self._store.get(self._by_code, code.hex)  # type: ignore[return-value]

    def copy(self, code: AgencyCode, item: str) -> Copy | None:
        """The copy the intermediate server would provide for ``code`` (None: no such person or item)."""
        address = self._store.get(self._by_code, code.hex)
        if address is None:
            return None
        return self._store.get(self._copies, (address, item))  # type: ignore[return-value]

    def check_code(self, code: AgencyCode) -> None:
        """Raises :class:`CodeError` unless the issuer gave ``code`` to this body."""
        self._issuer.resident_code(self.body, code)

    def enrolled(self) -> int:
        return self._store.count(self._addr)


__all__ = ["JST", "NIGHTLY_REFRESH", "Agency", "Copy", "CodeError", "EnrolmentError", "nightly_refresh"]
