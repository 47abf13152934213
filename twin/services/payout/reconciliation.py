"""Reconciliation (消込): matching what the town hall sent to the bank against what the bank says happened.

After a transfer batch goes out, the bank answers transfer by transfer: credited, or returned
(口座解約 closed account, 該当口座なし no such account, 名義相違 name mismatch). Answers can arrive late,
twice, or contradict an earlier one. :func:`classify` sorts one bank file against a batch: confirmed,
rejected, duplicates (same answer again: harmless), conflicts (a different answer for a transfer
already settled: never applied, flagged for a human), amount mismatches, confirmations for transfers
not in the batch, and transfers still missing an answer. The ledger applies only the first two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from twin.services.payout.records import Batch


class BankOutcome(StrEnum):
    CONFIRMED = "confirmed"  # 入金済
    REJECTED = "rejected"  # 組戻し / 返却


class BankReason(StrEnum):
    NONE = ""
    ACCOUNT_CLOSED = "account_closed"  # 口座解約
    NO_SUCH_ACCOUNT = "no_such_account"  # 該当口座なし
    NAME_MISMATCH = "name_mismatch"  # 名義相違


class BankConfirmation(NamedTuple):
    """One line of the bank's answer file for a batch."""

    household: int
    outcome: BankOutcome
    amount: int
    reason: BankReason = BankReason.NONE


@dataclass(frozen=True)
class ReconciliationReport:
    """One bank file matched against one batch (household ids in each class, in file order)."""

    batch: int
    confirmed: tuple[int, ...] = ()
    rejected: tuple[int, ...] = ()
    duplicates: tuple[int, ...] = ()
    conflicts: tuple[int, ...] = ()
    amount_mismatches: tuple[int, ...] = ()
    unexpected: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()
    confirmed_amount: int = 0
    rejected_amount: int = 0

    @property
    def complete(self) -> bool:
        """Every transfer of the batch has an answer."""
        return not self.missing

    @property
    def clean(self) -> bool:
        """Nothing needs a human: no conflicts, mismatches or unexpected lines."""
        return not (self.conflicts or self.amount_mismatches or self.unexpected)


def classify(
    batch: Batch,
    confirmations: Iterable[BankConfirmation],
    settled: Callable[[int], BankOutcome | None],
) -> tuple[ReconciliationReport, list[BankConfirmation]]:
    """Sort a bank file against ``batch``; ``settled(household)`` is the answer already applied, if any.

    Returns the report and the confirmations to apply (first answer per transfer, amounts matching).
    """
    transfers = {t.household: t for t in batch.transfers}
    seen: dict[int, BankOutcome] = {}
    kinds = ("confirmed", "rejected", "duplicates", "conflicts", "mismatch", "unexpected")
    out: dict[str, list[int]] = {k: [] for k in kinds}
    apply: list[BankConfirmation] = []
    amounts = {BankOutcome.CONFIRMED: 0, BankOutcome.REJECTED: 0}
    for c in confirmations:
        h = int(c.household)
        t = transfers.get(h)
        if t is None:
            out["unexpected"].append(h)
            continue
        if int(c.amount) != t.amount:
            out["mismatch"].append(h)
            continue
        before = seen.get(h) or settled(h)
        if before is not None:
            out["duplicates" if before == c.outcome else "conflicts"].append(h)
            continue
        seen[h] = c.outcome
        apply.append(c)
        out["confirmed" if c.outcome == BankOutcome.CONFIRMED else "rejected"].append(h)
        amounts[c.outcome] += t.amount
    missing = tuple(h for h in transfers if h not in seen and settled(h) is None)
    report = ReconciliationReport(
        batch.id,
        tuple(out["confirmed"]),
        tuple(out["rejected"]),
        tuple(out["duplicates"]),
        tuple(out["conflicts"]),
        tuple(out["mismatch"]),
        tuple(out["unexpected"]),
        missing,
        amounts[BankOutcome.CONFIRMED],
        amounts[BankOutcome.REJECTED],
    )
    return report, apply
