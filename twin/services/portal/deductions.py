"""Deduction certificates (控除証明書等) collected in Myna Portal for the year-end adjustment or a tax return.

Since 2020 an employee can link Myna Portal to the insurers and banks that issue her certificates and
have them collected as data (マイナポータル連携, National Tax Agency): life and earthquake insurance
premiums, the year-end balance of a housing loan, National Pension premiums, small-business mutual
aid (iDeCo) contributions -- usable in the year-end adjustment at work -- and, for a tax return
only, medical-expense notices and donation receipts (ふるさと納税). The portal collects and totals;
it does not compute the deductions (the employer's software or e-Tax does).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    LIFE_INSURANCE = "life_insurance"  # 生命保険料控除証明書
    EARTHQUAKE_INSURANCE = "earthquake_insurance"  # 地震保険料控除証明書
    HOUSING_LOAN = "housing_loan"  # 住宅取得資金に係る借入金の年末残高等証明書
    NATIONAL_PENSION = "national_pension"  # 国民年金保険料控除証明書
    SMALL_MUTUAL_AID = "small_mutual_aid"  # 小規模企業共済等掛金控除証明書 (iDeCo)
    MEDICAL = "medical"  # 医療費通知情報 (tax return only)
    DONATION = "donation"  # 寄附金受領証明書 (tax return only)


class Purpose(StrEnum):
    YEAR_END_ADJUSTMENT = "year_end_adjustment"  # 年末調整
    TAX_RETURN = "tax_return"  # 確定申告


RETURN_ONLY = frozenset({Kind.MEDICAL, Kind.DONATION})


@dataclass(frozen=True, slots=True)
class DeductionCertificate:
    """One certificate as the issuer delivers it: for calendar ``year``, ``amount`` in yen."""

    issuer: str
    kind: Kind
    year: int
    amount: int


@dataclass(frozen=True, slots=True)
class DeductionBundle:
    """What the portal hands to the year-end adjustment software or e-Tax: the certificates and totals."""

    year: int
    purpose: Purpose
    certificates: tuple[DeductionCertificate, ...]
    totals: dict[str, int]
    left_out: int  # certificates of the year not usable for this purpose (medical, donations at year end)


def bundle(certificates: Iterable[DeductionCertificate], year: int, purpose: Purpose | str) -> DeductionBundle:
    purpose = Purpose(purpose)
    of_year = [c for c in certificates if c.year == year]
    usable = [c for c in of_year if purpose is Purpose.TAX_RETURN or c.kind not in RETURN_ONLY]
    totals: dict[str, int] = {}
    for c in usable:
        totals[c.kind.value] = totals.get(c.kind.value, 0) + c.amount
    return DeductionBundle(year, purpose, tuple(usable), totals, len(of_year) - len(usable))
