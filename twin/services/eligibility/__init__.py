"""Online eligibility confirmation (オンライン資格確認): insurers' qualifications linked to My Number,
the mis-link check, and the central service that answers checks by card or by insured number (the answer
naming the qualification with its first and last day). :mod:`.worlds`: who the twin's synthetic worlds insure."""

from twin.services.eligibility.qualifications import (
    CardUseRegistration,
    DetectionReport,
    EligibilityError,
    InsurerKind,
    LinkOutcome,
    PersonFacts,
    Qualification,
    QualificationBook,
    insured_key,
)
from twin.services.eligibility.service import Consent, EligibilityAnswer, EligibilityService

__all__ = [
    "CardUseRegistration",
    "Consent",
    "DetectionReport",
    "EligibilityAnswer",
    "EligibilityError",
    "EligibilityService",
    "InsurerKind",
    "LinkOutcome",
    "PersonFacts",
    "Qualification",
    "QualificationBook",
    "insured_key",
]
