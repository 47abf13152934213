"""A benefit decided through the linkage, and how a stale copy decides it wrongly.

In the winter of 2021-22 municipalities paid 100,000 yen to households exempt from residence tax
(住民税非課税世帯等に対する臨時特別給付金). Exemption for fiscal year Y is assessed in June of Y on
the income of calendar year Y-1; the assessment reaches the intermediate server's copy only when the
tax system next registers its copies. A check made between the assessment and the refresh reads
last year's assessment: someone whose income fell is refused, someone whose income rose is paid.
:func:`exemption_check` makes the decision as a municipality would through the network and says
whether it rested on a stale copy (the modelled failure); ``refuse_stale=True`` is the remedy of
refusing to decide on a copy older than the latest assessment.

The copies such decisions read are values of their own: :class:`TaxAssessment` for ``local_tax_income``, and
:class:`InsuranceQualification` for ``health_insurance``, the qualification an insurer holds (its insurer, numbers
and dates), made from the insurers' record by :func:`insurance_copy` and recorded by :func:`record_insurance` in
every world, so that the network, Myna Portal and a clinic's eligibility check read the same record. When the insurer
ends a qualification (資格喪失, :func:`end_insurance`), the book says so at once and the business system records it
again; the intermediate server's copy follows at the body's next refresh, and until then an answer carries the old
copy ("insured") with its age while a clinic's check is already refused: the same stale-copy failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from twin.services.eligibility.qualifications import InsuredKey, InsurerKind, Qualification, QualificationBook
from twin.services.linkage.codes import AgencyCode
from twin.services.linkage.network import AnswerMessage, InformationNetwork
from twin.services.linkage.table import Item

ASSESSMENT_MONTH = 6  # 住民税の当初課税: notices from June (地方税法第319条の2 etc.)


@dataclass(frozen=True, slots=True)
class TaxAssessment:
    """The value of a ``local_tax_income`` copy: one fiscal year's residence-tax assessment."""

    fiscal_year: int  # 年度: April of this year to March of the next
    income: int  # 合計所得金額 of calendar year fiscal_year - 1, in yen
    levied: bool  # False: exempt from residence tax (非課税)


@dataclass(frozen=True, slots=True)
class InsuranceQualification:
    """The value of a ``health_insurance`` copy: the person's qualification as the insurer's file holds it."""

    insurer: str  # the insurer's name, e.g. 全国健康保険協会
    insurer_number: str  # 保険者番号: 6 or 8 digits
    insured_number: str  # 被保険者記号・番号
    branch: str  # 枝番
    kind: str  # society, association, national or elderly
    valid_from: dt.date  # 資格取得日
    valid_until: dt.date | None  # the last day (資格喪失日の前日); None while it lasts


#: the body (in the linkage directory) holding an insurer kind's copies, and the insurer's name; the twin's worlds
#: insure with 協会けんぽ only (twin.services.eligibility.worlds)
INSURER_BODIES: Final = {InsurerKind.ASSOCIATION: ("kyokai", "全国健康保険協会")}


def insurance_copy(q: Qualification) -> tuple[str, InsuranceQualification]:
    """The body holding ``q``'s copy on the information-provision network, and the copy: the insurer, the insured
    number and the dates of the qualification itself, nothing restated (the one rule of every world's copy)."""
    body, name = INSURER_BODIES[q.kind]
    return body, InsuranceQualification(name, q.insurer_number, q.insured_number, q.branch, q.kind.value,
                                        q.valid_from, q.valid_until)  # fmt: skip


def record_insurance(
    network: InformationNetwork,
    my_number: str,
    qualifications: Iterable[Qualification],
    at: dt.datetime | None = None,
) -> None:
    """The insurers record ``my_number``'s qualifications (each as of its first day) in their business systems; each
    copy reaches the body's intermediate server at its next refresh (``at``: when they were recorded, so that a body
    with a refresh schedule registers them at the first scheduled refresh after it)."""
    for q in qualifications:
        body, copy = insurance_copy(q)
        network.agency(body).record(my_number, Item.HEALTH_INSURANCE, copy, q.valid_from, at)


def end_insurance(
    network: InformationNetwork,
    book: QualificationBook,
    my_number: str,
    key: InsuredKey,
    last_day: dt.date,
    at: dt.datetime,
) -> Qualification:
    """資格喪失 at the insurer, at ``at``: the qualification ``key`` ends on ``last_day`` (its last day) in the
    insurers' book, which a clinic's eligibility check reads at once (:meth:`QualificationBook.end`: the same day
    again changes nothing, another day corrects it; ``EligibilityError`` ``unknown_insured`` for a key it does not
    hold, ``bad_period`` for a day before the first, and then nothing is recorded), and the insurer's business system
    records the person's qualifications as the book now holds them (:func:`record_insurance`, the rule the copies
    were seeded by). The intermediate server's copy follows at the body's next refresh (on a network with a refresh
    schedule, the first after ``at``); until then an answer carries the old copy with its age. ``my_number`` is the
    person's, as the insurer linked the qualification to it; it stays in the insurer's body. Returns the ended
    qualification."""
    with book.store.transaction():  # one commit when the book and the network share an SQL store
        q = book.end(key, last_day)
        linked = book.linked_to(q.linked_person) if q.linked_person is not None else [q]
        record_insurance(network, my_number, [q if x.key == q.key else x for x in linked], at)  # q: as just written
    return q


def latest_assessment_year(on: dt.date) -> int:
    """The fiscal year of the newest residence-tax assessment that exists on ``on``."""
    return on.year if on.month >= ASSESSMENT_MONTH else on.year - 1


class Basis(StrEnum):
    CURRENT = "current"  # the copy holds the latest assessment
    STALE = "stale"  # decided on an older assessment (the modelled failure)
    REFUSED_STALE = "refused_stale"  # no decision: the copy is older than the latest assessment
    NO_DATA = "no_data"
    REFUSED = "refused"  # the network refused the query


@dataclass(frozen=True, slots=True)
class ExemptionDecision:
    eligible: bool | None
    basis: Basis
    fiscal_year_used: int | None
    copy_age: dt.timedelta | None
    exchange: int | None


def exemption_check(
    network: InformationNetwork,
    requester: str,
    code: AgencyCode,
    provider: str,
    at: dt.datetime,
    *,
    refuse_stale: bool = False,
) -> ExemptionDecision:
    """Is the person exempt from residence tax (so eligible), asked of ``provider`` through the network?"""
    answer = network.query(requester, code, "benefit_eligibility", provider, Item.LOCAL_TAX_INCOME, at)
    if not isinstance(answer, AnswerMessage):
        return ExemptionDecision(None, Basis.REFUSED, None, None, None)
    if not answer.found or not isinstance(answer.value, TaxAssessment):
        return ExemptionDecision(None, Basis.NO_DATA, None, None, answer.exchange)
    used = answer.value.fiscal_year
    stale = used < latest_assessment_year(at.date())
    if stale and refuse_stale:
        return ExemptionDecision(None, Basis.REFUSED_STALE, used, answer.age, answer.exchange)
    basis = Basis.STALE if stale else Basis.CURRENT
    return ExemptionDecision(not answer.value.levied, basis, used, answer.age, answer.exchange)
