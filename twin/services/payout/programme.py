"""A payout programme's terms and its entitlement roll: who is owed how much, fixed on the reference date.

The 2020 special cash payment (特別定額給付金) gave 100,000 yen to every person registered in the
resident registry on 27 April 2020 (基準日), paid to the head of their household (世帯主) as one
payment per household. :class:`Programme` holds such terms (amount, reference date, channels,
application period, push opt-out window, whether online applications are matched against the
register at intake); :class:`EntitlementRoll` freezes the register on the reference date into
arrays: head, size and amount per household, with member lists for checking application forms.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from twin.services.payout.records import Channel
from twin.services.registry import ResidentRegistry, Snapshot


class ProgrammeError(ValueError):
    """Programme terms that cannot work, naming the field, the value and what is allowed."""


@dataclass(frozen=True)
class Programme:
    """The terms of one payout programme."""

    name: str = "special_fixed_benefit_2020"
    reference_date: dt.date = dt.date(2020, 4, 27)
    amount_per_resident: int = 100_000
    channels: frozenset[Channel] = frozenset({Channel.MAIL, Channel.ONLINE})
    opens: dt.date = dt.date(2020, 5, 1)
    closes: dt.date = dt.date(2020, 9, 30)
    opt_out_days: int = 14
    match_at_intake: bool = False  # check head, members and holder against the register on submission

    def __post_init__(self) -> None:
        if not isinstance(self.amount_per_resident, int) or isinstance(self.amount_per_resident, bool):
            raise ProgrammeError(f"amount_per_resident: {self.amount_per_resident!r} must be a whole number of yen")
        if self.amount_per_resident <= 0:
            raise ProgrammeError(f"amount_per_resident: {self.amount_per_resident} must be > 0 yen")
        if self.closes < self.opens:
            raise ProgrammeError(f"closes: {self.closes} is before opens: {self.opens}")
        if not 0 <= self.opt_out_days <= 365:
            raise ProgrammeError(f"opt_out_days: {self.opt_out_days} is not in [0, 365]")
        bad = [c for c in self.channels if not isinstance(c, Channel)]
        if bad or not self.channels:
            allowed = ", ".join(c.value for c in Channel)
            raise ProgrammeError(f"channels: {sorted(map(str, bad)) or 'none'} given; use one or more of {allowed}")
        object.__setattr__(self, "channels", frozenset(self.channels))

    def accepts(self, channel: Channel, on: dt.date) -> bool:
        return channel in self.channels and self.opens <= on <= self.closes


@dataclass(frozen=True)
class EntitlementRoll:
    """Per household id (the register's ids): head (-1 if not entitled), size and amount on the reference date."""

    reference_date: dt.date
    head: np.ndarray
    size: np.ndarray
    amount: np.ndarray
    reading: Callable[[int], str | None] = field(repr=False)
    snapshot: Snapshot | None = field(default=None, repr=False)
    _lists: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_registry(cls, registry: ResidentRegistry, programme: Programme) -> EntitlementRoll:
        """Everyone registered on the reference date, grouped by household, paid to its head."""
        snap = registry.snapshot(programme.reference_date)
        size = snap.household_sizes().astype(np.int64)
        head = np.where(size > 0, snap.head, -1).astype(np.int64)
        return cls(programme.reference_date, head, size, size * programme.amount_per_resident, registry.reading, snap)

    def __post_init__(self) -> None:
        self._lists["head"] = self.head.tolist()
        self._lists["amount"] = self.amount.tolist()

    def __len__(self) -> int:
        return len(self.head)

    @property
    def households(self) -> int:
        """Number of entitled households."""
        return int(np.count_nonzero(self.head >= 0))

    @property
    def total(self) -> int:
        return int(self.amount.sum())

    def entitled(self, household: int) -> bool:
        return 0 <= household < len(self.head) and self._lists["head"][household] >= 0

    def head_of(self, household: int) -> int:
        return self._lists["head"][household]

    def amount_of(self, household: int) -> int:
        return self._lists["amount"][household]

    def head_reading(self, household: int) -> str | None:
        return self.reading(self.head_of(household))

    def members(self, household: int) -> tuple[int, ...]:
        """Residents of the household on the reference date, ascending."""
        if self.snapshot is None:
            raise ProgrammeError("this roll was built without a register snapshot: members are unknown")
        if "order" not in self._lists:
            hh = np.where(self.snapshot.registered, self.snapshot.household, len(self.head))
            order = np.argsort(hh, kind="stable")
            starts = np.concatenate([[0], np.cumsum(np.bincount(hh, minlength=len(self.head) + 1))])
            # Python lists: a slice of a list is cheaper than a numpy slice turned into a list, per household
            self._lists["order"], self._lists["starts"] = order.tolist(), starts.tolist()
        s = self._lists["starts"]
        return tuple(self._lists["order"][s[household] : s[household + 1]])

    def digest(self) -> str:
        """Identifies the roll's contents, so a ledger reopened on a store can refuse a different roll."""
        h = hashlib.sha256(self.reference_date.isoformat().encode())
        h.update(np.ascontiguousarray(self.head, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.amount, dtype=np.int64).tobytes())
        return h.hexdigest()
