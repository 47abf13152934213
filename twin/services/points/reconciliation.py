"""Reconciliation: finding points granted to the wrong person.

In 2023 the government reported points awarded in error: 113 cases in 90 municipalities, where
points meant for one person went to another's cashless account (FIGURES.md, Digital Agency; typically
a support desk tying the application to someone else's account). The ledger cannot see this when it
grants: the application names a service account, and the operator grants to it. Reconciliation
compares, grant by grant, who the operator says holds the account (its own customer records) with
the person the MyKey ID was reserved for, and the operator's own grant report with the ledger's
decisions. It lists every mismatch and groups the misdirected grants by the desk that keyed the
application in, so the count of cases and municipalities can be compared with the 2023 record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from twin.services.points.ledger import Grant, PointsLedger


class Mismatch(StrEnum):
    MISDIRECTED = "misdirected"  # the account's holder is not the person the points were for
    UNDECIDED = "undecided"  # the operator granted points the ledger never decided (or more of them)
    MISSING = "missing"  # the ledger decided a grant the operator did not report


#: what each kind of mismatch means, as a report states it
MEANING = {
    Mismatch.MISDIRECTED: "the operator's customer records do not name the person the MyKey ID was reserved for as "
                          "the holder of the account the points went to",
    Mismatch.UNDECIDED: "the operator reports granting points the ledger never decided (or more of them)",
    Mismatch.MISSING: "the ledger decided a grant the operator does not report (or reports fewer points)",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Mismatch
    operator: str
    grant: int | None
    points: int
    desk: str | None

    @property
    def reason(self) -> str:
        return MEANING[self.kind]


@dataclass(frozen=True, slots=True)
class OperatorGrant:
    """One line of an operator's own report: the ledger's grant id it acted on and the points it gave."""

    operator: str
    grant: int
    points: int


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    findings: tuple[Finding, ...]

    def misdirected(self) -> list[Finding]:
        return [f for f in self.findings if f.kind is Mismatch.MISDIRECTED]

    def by_desk(self) -> dict[str, int]:
        """Misdirected cases per support desk (``"-"``: applications made without a desk)."""
        out: dict[str, int] = {}
        for f in self.misdirected():
            out[f.desk or "-"] = out.get(f.desk or "-", 0) + 1
        return out


def reconcile(
    ledger: PointsLedger,
    holder_of: Callable[[str, str], str | None],
    reports: Iterable[OperatorGrant],
) -> ReconciliationReport:
    """Every mismatch between the ledger, the operators' customer records (``holder_of(operator, account)``
    gives the person holding the account) and their grant reports."""
    grants: dict[int, Grant] = {g.id: g for g in ledger.grants()}
    findings: list[Finding] = []
    for g in grants.values():
        app = ledger.application(g.mykey, g.phase)
        desk = app.desk if app is not None else None
        if holder_of(g.operator, g.service_account) != ledger.owner(g.mykey):
            findings.append(Finding(Mismatch.MISDIRECTED, g.operator, g.id, g.points, desk))
    reported: dict[int, int] = {}
    for line in reports:
        g = grants.get(line.grant)
        if g is None or g.operator != line.operator:
            findings.append(Finding(Mismatch.UNDECIDED, line.operator, None, line.points, None))
            continue
        reported[g.id] = reported.get(g.id, 0) + line.points
    for gid, g in grants.items():
        got = reported.get(gid, 0)
        if got > g.points:
            findings.append(Finding(Mismatch.UNDECIDED, g.operator, gid, got - g.points, None))
        elif got < g.points:
            findings.append(Finding(Mismatch.MISSING, g.operator, gid, g.points - got, None))
    return ReconciliationReport(tuple(findings))
