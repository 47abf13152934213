"""My Number Points (マイナポイント), clock-free: :mod:`.rules` (phases, caps, dates, with sources),
:mod:`.ledger` (reservation, application, grants, claims and reimbursement, idempotent),
:mod:`.reconciliation` (points granted to the wrong person)."""

from __future__ import annotations

from twin.services.points.ledger import (
    Application,
    Claim,
    Decision,
    Grant,
    PersonTotals,
    PointsLedger,
    Reason,
    Totals,
    jpki_card_holder,
)
from twin.services.points.reconciliation import (
    Finding,
    Mismatch,
    OperatorGrant,
    ReconciliationReport,
    reconcile,
)
from twin.services.points.rules import PHASE1, PHASE1_BUDGET_YEN, PHASE2, PHASES, Part, Phase, purchase_points

__all__ = [
    "PHASE1", "PHASE1_BUDGET_YEN", "PHASE2", "PHASES", "Application", "Claim", "Decision", "Finding", "Grant",
    "Mismatch", "OperatorGrant", "Part", "PersonTotals", "Phase", "PointsLedger", "Reason", "ReconciliationReport",
    "Totals", "jpki_card_holder", "purchase_points", "reconcile",
]  # fmt: skip
