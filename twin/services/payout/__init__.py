"""Emergency payouts as services (特別定額給付金): programme terms, the ledger and bank reconciliation.

A model wires them up in a few lines (no clock: every call takes the simulated date)::

    store = MemoryStore()
    registry = ResidentRegistry.load(store, as_of=day0, municipality=..., age=..., sex=..., household=...,
                                     is_head=..., rng=rng, sex_codes=(0, 1))
    programme = Programme(amount_per_resident=100_000)
    roll = EntitlementRoll.from_registry(registry, programme)          # who is owed what on 2020-04-27
    ledger = PayoutLedger(store, programme, roll, accounts=PublicBenefitAccounts(store, registry.reading))
    d = ledger.submit(Application(h, roll.head_of(h), Channel.MAIL, account), key=f"mail-{h}-1", on=day)
    ledger.verify(d.application, day)                                   # the town hall's check
    batch = ledger.make_batch(day, business_day=calendar.is_business_day)
    ledger.record_bank_results(batch.id, bank_file, day)                # -> ReconciliationReport
    ledger.check_invariants()                                           # cheap: every simulated hour
"""

from twin.services.payout.books import InvariantViolation
from twin.services.payout.ledger import NotBusinessDayError, PayoutLedger
from twin.services.payout.programme import EntitlementRoll, Programme, ProgrammeError
from twin.services.payout.reconciliation import (
    BankConfirmation,
    BankOutcome,
    BankReason,
    ReconciliationReport,
    classify,
)
from twin.services.payout.records import (
    Application,
    ApplicationRecord,
    Batch,
    Channel,
    Decision,
    HouseholdFile,
    OnlineSignature,
    Outcome,
    Reason,
    Status,
    Totals,
    Transfer,
)
from twin.services.payout.signatures import SignatureCheck

__all__ = [
    "Application", "ApplicationRecord", "BankConfirmation", "BankOutcome", "BankReason", "Batch", "Channel",
    "Decision", "EntitlementRoll", "HouseholdFile", "InvariantViolation", "NotBusinessDayError", "OnlineSignature",
    "Outcome", "SignatureCheck",
    "PayoutLedger", "Programme", "ProgrammeError", "Reason", "ReconciliationReport", "Status", "Totals",
    "Transfer", "classify",
]  # fmt: skip
