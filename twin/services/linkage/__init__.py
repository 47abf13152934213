"""Information linkage (情報連携): codes per agency, intermediate servers, the lawful table, the network.

The first lines a caller needs::

    from twin.services.linkage import Linkage
    link = Linkage.build(store, resident_codes, secret=os.urandom(32))
    town = link.network.agency("muni:131016")
    answer = link.network.query("muni:131016", town.code_for(my_number), "child_allowance",
                                "muni:271004", "local_tax_income", at)

Modules: :mod:`.codes` (code issuance; **the only module holding the issuer's secret**),
:mod:`.bodies` (who takes part), :mod:`.table` (the lawful table, with sources),
:mod:`.agency` (a body's address numbers, intermediate server and copies, refreshed when the caller says or on a
schedule, :func:`nightly_refresh`), :mod:`.network`
(query, provide, exchange records, refusals, the message tap), :mod:`.benefit` (a benefit decided
through the linkage, and the stale-copy failure; the health insurer's copy of a qualification,
:func:`insurance_copy`, the one every world records, and :func:`end_insurance`, the insurer ending one, whose copy
follows at the next refresh), :mod:`.push` (a push roster: eligibility and the
registered account through the network, push or confirmation letter per resident).
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.services.linkage.agency import NIGHTLY_REFRESH, Agency, Copy, EnrolmentError, nightly_refresh
from twin.services.linkage.benefit import (
    INSURER_BODIES,
    Basis,
    ExemptionDecision,
    InsuranceQualification,
    TaxAssessment,
    end_insurance,
    exemption_check,
    insurance_copy,
    record_insurance,
)
from twin.services.linkage.bodies import Body, BodyKind, Directory, directory, municipality_id
from twin.services.linkage.codes import (
    AgencyCode,
    CodeError,
    CodeIssuer,
    RegistryResidentCodes,
    ResidentCodes,
    TableResidentCodes,
)
from twin.services.linkage.network import (
    AnswerMessage,
    ExchangeRecord,
    InformationNetwork,
    Message,
    Outage,
    ProvideMessage,
    QueryMessage,
    Refusal,
    RefusalRecord,
    Refused,
    SupplyMessage,
    my_number_fields,
)
from twin.services.linkage.table import ACCOUNTS_FROM, Item, LawfulTable, Rule, Verdict
from twin.services.store import Store


@dataclass
class Linkage:
    """The directory, the issuer and the network over one store."""

    directory: Directory
    issuer: CodeIssuer
    network: InformationNetwork

    @classmethod
    def build(cls, store: Store, resident_codes: ResidentCodes, secret: bytes, snapshot: str = "20200401") -> Linkage:
        d = directory(snapshot)
        issuer = CodeIssuer(secret, d.number)
        return cls(d, issuer, InformationNetwork(store, d, issuer, resident_codes))


__all__ = [
    "ACCOUNTS_FROM", "INSURER_BODIES", "NIGHTLY_REFRESH", "Agency", "AgencyCode", "AnswerMessage", "Basis", "Body",
    "BodyKind",
    "CodeError", "CodeIssuer", "Copy", "Directory", "EnrolmentError", "ExchangeRecord", "ExemptionDecision",
    "InformationNetwork", "InsuranceQualification", "Item", "LawfulTable", "Linkage", "Message", "Outage",
    "ProvideMessage", "QueryMessage",
    "Refusal", "RefusalRecord", "Refused", "RegistryResidentCodes", "ResidentCodes", "Rule", "SupplyMessage",
    "TableResidentCodes", "TaxAssessment", "Verdict", "directory", "end_insurance", "exemption_check",
    "insurance_copy", "municipality_id", "my_number_fields", "nightly_refresh", "record_insurance",
]  # fmt: skip
