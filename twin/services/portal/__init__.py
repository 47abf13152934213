"""Myna Portal (マイナポータル) as the hub, clock-free: :mod:`.hub` (the services), :mod:`.people` (who a
certificate's holder is), :mod:`.signatures` (documents signed with the card), :mod:`.deductions`
(certificates for the year-end adjustment). Served by ``twin serve portal`` (``real_backends/portal_hub.py``)."""

from __future__ import annotations

from twin.services.portal.deductions import DeductionBundle, DeductionCertificate, Kind, Purpose
from twin.services.portal.hub import ConsentRecord, MynaPortal, Notice, OwnItem, account_fields, consent_fields
from twin.services.portal.people import FourItems, People, Person, RegistryPeople, TablePeople
from twin.services.portal.signatures import PortalRefusal, Problem, signing_bytes, verify_signed

__all__ = [
    "ConsentRecord", "DeductionBundle", "DeductionCertificate", "FourItems", "Kind", "MynaPortal", "Notice",
    "OwnItem", "People", "Person", "PortalRefusal", "Problem", "Purpose", "RegistryPeople", "TablePeople",
    "account_fields", "consent_fields", "signing_bytes", "verify_signed",
]  # fmt: skip
