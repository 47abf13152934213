"""Emergency payouts as services (特別定額給付金): programme terms, the ledger and bank reconciliation.

The three lines a model needs::

    roll = EntitlementRoll.from_registry(registry, programme)
    ledger = PayoutLedger(store, programme, roll, accounts=accounts)
    ledger.submit(Application(household, applicant, Channel.MAIL, account), key="form-123", on=day)
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
    Outcome,
    Reason,
    Status,
    Totals,
    Transfer,
)

__all__ = [
    "Application", "ApplicationRecord", "BankConfirmation", "BankOutcome", "BankReason", "Batch", "Channel",
    "Decision", "EntitlementRoll", "HouseholdFile", "InvariantViolation", "NotBusinessDayError", "Outcome",
    "PayoutLedger", "Programme", "ProgrammeError", "Reason", "ReconciliationReport", "Status", "Totals",
    "Transfer", "classify",
]  # fmt: skip
