"""The paperwork of a payout: applications, decisions, household files, transfers and batches.

A town hall processing 特別定額給付金 (the 2020 special cash payment) keeps a file per household:
where it stands (entitled, notified, applied, returned for correction, verified, in a transfer
batch, paid, bounced by the bank), which application is current, and which account the money goes
to. Each incoming application gets a decision with a reason code that can be counted. All records
here are immutable values, so the store can hold them and a SQL table can map them column by column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import numbers
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from twin.services.accounts import BankAccount


class Channel(StrEnum):
    """How an application arrives: a mailed paper form, online through Myna Portal, or push (no application)."""

    MAIL = "mail"  # 郵送申請
    ONLINE = "online"  # オンライン申請 (マイナポータル, signed with the card's signature certificate)
    PUSH = "push"  # プッシュ型: notice, opt-out window, payment to the registered account


class Status(StrEnum):
    """Where a household's file stands."""

    ENTITLED = "entitled"  # on the roll, nothing received yet
    NOTIFIED = "notified"  # push notice sent; opt-out window open
    OPTED_OUT = "opted_out"  # declined the push payment (may still apply)
    APPLIED = "applied"  # application waiting for municipal verification
    RETURNED = "returned"  # application returned for correction (rework)
    VERIFIED = "verified"  # checked; waiting for the next transfer batch
    IN_BATCH = "in_batch"  # transfer sent to the bank, confirmation pending
    PAID = "paid"  # the bank confirmed the transfer
    BANK_REJECTED = "bank_rejected"  # the bank bounced the transfer (closed account...): needs a new account


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RETURNED = "returned"
    VERIFIED = "verified"
    OPTED_OUT = "opted_out"


class Reason(StrEnum):
    """Why something was rejected or returned: one code per distinct problem, counted by the ledger."""

    BAD_KEY = "bad_key"  # idempotency key missing or not a string
    KEY_REUSED = "key_reused"  # the same idempotency key came with a different payload
    CHANNEL_CLOSED = "channel_closed"  # channel not offered, or outside the application period
    UNKNOWN_HOUSEHOLD = "unknown_household"  # not on the entitlement roll
    SIGNATURE_INVALID = "signature_invalid"  # online application without a valid signature
    BAD_ACCOUNT = "bad_account"  # malformed account (detail: the account rejection code)
    NO_ACCOUNT = "no_account"  # no account given and none registered
    DUPLICATE = "duplicate"  # the household already has an application or push payment in progress
    ALREADY_PAID = "already_paid"  # the household has been paid
    NOT_HEAD = "not_head"  # the applicant is not the household head on the reference date
    MEMBER_MISMATCH = "member_mismatch"  # the members listed differ from the register
    HOLDER_MISMATCH = "holder_mismatch"  # the account holder is not the head (by name reading)
    UNKNOWN_APPLICATION = "unknown_application"
    NOT_NOTIFIED = "not_notified"  # opt-out for a household that has no push notice open
    OPT_OUT_CLOSED = "opt_out_closed"  # opt-out after the window closed


@dataclass(frozen=True, slots=True)
class OnlineSignature:
    """What Myna Portal attaches to an online application: the holder's signature certificate
    (署名用電子証明書, DER) and the card's RSA signature (PKCS#1 v1.5, SHA-256) over
    :meth:`Application.signed_bytes`. Checked by :class:`twin.services.payout.signatures.SignatureCheck`."""

    certificate: bytes = field(repr=False)
    value: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"OnlineSignature(certificate={len(self.certificate)} bytes, value={len(self.value)} bytes)"


@dataclass(frozen=True, slots=True)
class Application:
    """What an applicant submits. ``account`` None means "pay to my registered 公金受取口座".

    ``members`` lists the household members the form names (None: not checked); ``signature`` is the
    card's signature of an online application; ``signature_verified`` is what a JPKI check outside the
    ledger said (trusted only when the ledger has no ``verify_signature`` of its own).
    """

    household: int
    applicant: int
    channel: Channel
    account: BankAccount | None = None
    members: tuple[int, ...] | None = None
    signature_verified: bool = False
    signature: OnlineSignature | None = None

    def __post_init__(self) -> None:
        # numpy integers (as a model passes them) become plain ints: stable keys, reprs and digests
        for name in ("household", "applicant"):
            v = getattr(self, name)
            if type(v) is not int and isinstance(v, numbers.Integral) and not isinstance(v, bool):
                object.__setattr__(self, name, int(v))
        m = self.members
        if m is not None and not (type(m) is tuple and all(type(x) is int for x in m)):  # the common case: as is
            if all(isinstance(x, numbers.Integral) for x in m):
                object.__setattr__(self, "members", tuple(int(x) for x in m))

    def fingerprint(self) -> str:
        """A digest of the payload (deterministic across processes, unlike hash())."""
        acc = self.account
        parts = (
            "application", int(self.household), int(self.applicant), str(self.channel),
            None if acc is None else (acc.bank_code, acc.branch_code, str(acc.account_type), acc.number, acc.holder),
            None if self.members is None else tuple(map(int, self.members)), bool(self.signature_verified),
        )  # fmt: skip
        if self.signature is not None:  # unsigned payloads keep the fingerprints they always had
            parts = (*parts, hashlib.sha256(self.signature.certificate + self.signature.value).hexdigest())
        return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()

    def signed_bytes(self) -> bytes:
        """What the applicant signs: the form's content (household, applicant, account, members), in a
        fixed text form; neither the signature nor any verdict about it."""
        acc = self.account
        parts = (
            "special_cash_payment/application/v1", int(self.household), int(self.applicant), str(self.channel),
            None if acc is None else (acc.bank_code, acc.branch_code, str(acc.account_type), acc.number, acc.holder),
            None if self.members is None else tuple(int(m) for m in self.members),
        )  # fmt: skip
        return repr(parts).encode()


class Decision(NamedTuple):
    """The answer to a submission, verification or opt-out. ``detail`` refines the reason (e.g. account field)."""

    outcome: Outcome
    household: int
    reason: Reason | None = None
    message: str = ""
    application: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is not Outcome.REJECTED


def reject(household: int, reason: Reason, message: str, detail: str = "") -> Decision:
    return Decision(Outcome.REJECTED, household, reason, message, None, detail)


def label(d: Decision) -> str:
    """The counter name of a decision, e.g. ``rejected:duplicate``."""
    return d.outcome.value if d.reason is None else f"{d.outcome.value}:{d.reason.value}"


_KEEP = object()  # a field not named in a _replace call


def quick_replace(cls: type) -> type:
    """Give a named tuple a generated ``_replace``: the same result and errors as the standard one,
    without the call to ``_make``, the ``map`` over ``dict.pop`` and the check of what is left.

    The ledger rebuilds a household file, an application record or the running totals with one or
    two fields changed about seven times a household; the standard ``_replace`` (three Python calls
    and a map) was about a tenth of a memory-store batch. Only generated names enter the source."""
    names = cls._fields  # type: ignore[attr-defined]
    args = ", ".join(f"{n}=_K" for n in names)
    values = ", ".join(f"x{i} if {n} is _K else {n}" for i, n in enumerate(names))
    unpack = ", ".join(f"x{i}" for i in range(len(names)))
    src = (
        f"def _replace(self, /, *, {args}, **_rest):\n"
        f"    if _rest:\n"
        f"        raise ValueError(f'Got unexpected field names: {{list(_rest)!r}}')\n"
        f"    {unpack}, = self\n"
        f"    return _new(type(self), ({values},))\n"
    )
    ns: dict[str, object] = {"_K": _KEEP, "_new": tuple.__new__}
    exec(compile(src, f"<{cls.__name__}._replace>", "exec"), ns)  # noqa: S102
    replace = ns["_replace"]
    replace.__doc__ = f"A new {cls.__name__} with the named fields replaced."  # type: ignore[attr-defined]
    cls._replace = replace  # type: ignore[attr-defined]
    return cls


@quick_replace
class HouseholdFile(NamedTuple):
    """A household's current state (absent from the store: ENTITLED, untouched)."""

    status: Status
    application: int = -1
    account: BankAccount | None = None
    batch: int = -1
    deadline: dt.date | None = None  # end of the push opt-out window
    reworks: int = 0


@quick_replace
class ApplicationRecord(NamedTuple):
    id: int
    key: str
    household: int
    payload: Application
    submitted_on: dt.date
    status: Outcome  # ACCEPTED (waiting), VERIFIED, RETURNED, REJECTED
    account: BankAccount | None  # the checked account the money would go to
    prior: Status  # the household's status before this application (restored if it is rejected)
    reason: Reason | None = None
    decided_on: dt.date | None = None


class Transfer(NamedTuple):
    household: int
    amount: int
    account: BankAccount


@dataclass(frozen=True)
class Batch:
    """One bank-transfer batch (振込データ) sent on a business day."""

    id: int
    on: dt.date
    transfers: tuple[Transfer, ...]

    @property
    def total(self) -> int:
        return sum(t.amount for t in self.transfers)


@quick_replace
class Totals(NamedTuple):
    """Running sums kept in the same transactions as the records they summarise (cheap invariants)."""

    next_application: int = 0
    next_batch: int = 0
    next_queue: int = 0
    queued: int = 0
    queued_amount: int = 0
    in_flight: int = 0
    in_flight_amount: int = 0
    paid: int = 0
    paid_amount: int = 0  # sum of confirmed transfer amounts
    paid_entitlement: int = 0  # sum of the roll's entitlement of paid households
    bank_rejected_amount: int = 0
    disbursed_amount: int = 0  # sum of all batch totals
