"""The rules of My Number Points (マイナポイント), phase 1 and phase 2, in one place.

Phase 1 (2020-09 .. 2021-12): a card holder sets up a MyKey ID (reservation; the J-LIS magazine says from
2020-07, but reservations were taken by 2020-06-07, FIGURES.md, and nothing here refuses an earlier one), applies
choosing one of the registered cashless services (more than 100), and gets 25 % of what she tops up
or spends there, up to 5,000 points per person (20,000 yen spent). Phase 2: the same 25 % part for
those who had not received the full 5,000 (from 2022-01-01), plus 7,500 points for registering the
card as the health-insurance card and 7,500 points for registering a public-benefit account (both
from 2022-06-30). One point is worth one yen: the operators grant points and the state reimburses
them. Sources: MIC and municipal notices as summarised in ``twin/data/FIGURES.md`` (My Number Points
table); the dates marked *assumed* below are not in that table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    ONE = "phase1"
    TWO = "phase2"


class Part(StrEnum):
    PURCHASE = "purchase"  # 25 % of top-ups and purchases
    INSURANCE = "insurance_linking"  # 健康保険証利用登録 (phase 2)
    ACCOUNT = "account_registration"  # 公金受取口座登録 (phase 2)


@dataclass(frozen=True, slots=True)
class PhaseRules:
    phase: Phase
    rate_percent: int  # share of a top-up or purchase granted as points
    purchase_cap: int  # points per person from the purchase part (phase 2: less what phase 1 gave)
    linking_points: dict[Part, int]  # fixed grants, phase 2 only
    reservations_from: dt.date
    applications_from: dt.date
    grants_from: dict[Part, dt.date]
    grants_until: dt.date  # last day a top-up or purchase counts
    card_applied_by: dt.date  # the card must have been applied for by this day
    source: str


PHASE1 = PhaseRules(
    Phase.ONE, 25, 5_000, {}, dt.date(2020, 7, 1), dt.date(2020, 7, 1),
    {Part.PURCHASE: dt.date(2020, 9, 1)}, dt.date(2021, 12, 31), dt.date(2021, 4, 30),
    "MIC, J-LIS magazine (FIGURES.md: phase 1 25 %, cap 5,000, 2020-09..2021-03 extended to 2021-12, "
    "reservations from 2020-07, card applications by end of April 2021)",
)  # fmt: skip
PHASE2 = PhaseRules(
    Phase.TWO, 25, 5_000, {Part.INSURANCE: 7_500, Part.ACCOUNT: 7_500}, dt.date(2020, 7, 1), dt.date(2022, 1, 1),
    {Part.PURCHASE: dt.date(2022, 1, 1), Part.INSURANCE: dt.date(2022, 6, 30), Part.ACCOUNT: dt.date(2022, 6, 30)},
    dt.date(2023, 9, 30), dt.date(2023, 2, 28),
    "MIC; municipal notices (FIGURES.md: 5,000 + 7,500 + 7,500; 5,000 part from 2022-01-01, the 7,500 parts "
    "from 2022-06-30; card applications by 2023-02-28). Last day of grants 2023-09-30: assumed (news, not in "
    "FIGURES.md)",
)  # fmt: skip
PHASES = {Phase.ONE: PHASE1, Phase.TWO: PHASE2}
PHASE1_BUDGET_YEN = 247_800_000_000  # 2,478億円 for 4,000万 people (MIC, FIGURES.md)


def points_on_offer(rules: PhaseRules, day: dt.date) -> int:
    """The most points one person can get in ``rules``' phase by acting on ``day``: the purchase part's cap
    once applications open, plus each linking part whose grants have started (0 before applications open).

    This is what the phase offers a resident deciding whether to apply for a card; the card-rollout model
    reads its points lever from here (``PointsPhase.offer``), so the lever and the ledger cannot disagree."""
    if day < rules.applications_from:
        return 0
    return rules.purchase_cap + sum(p for part, p in rules.linking_points.items() if rules.grants_from[part] <= day)


def purchase_points(amount_yen: int, rules: PhaseRules, already: int) -> int:
    """Points for a top-up or purchase of ``amount_yen``: 25 % rounded down, within what is left of the cap."""
    return max(0, min(amount_yen * rules.rate_percent // 100, rules.purchase_cap - already))
