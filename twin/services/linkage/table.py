"""The lawful table: which procedure may ask which kind of body for which data item.

A caseworker deciding public assistance may ask the town hall for a person's taxable income and the
pension service for their pension; she may not ask the tax office anything "just to check", and a
child-allowance clerk may not read a person's pension. The My Number Act allows a body to give
another a person's specific personal information only in the cases it lists (番号法, 平成25年法律第27号,
第19条); for the information-provision network (第19条第8号) those cases were the rows of Annexed
Table 2 (別表第二: requester, procedure, provider, information), detailed by the ordinance
「別表第二の主務省令で定める事務及び情報を定める命令」 (平成26年内閣府・総務省令第7号). The 2023
amendment (令和5年法律第48号) moved the table itself into a ministerial ordinance; the rows below
are of the same shape.

The twin carries a subset, each rule with its source in ``source``. Procedures are named by the law
that governs them; row numbers of the Annexed Table are not given because they were renumbered by
successive amendments and were not checked against the e-Gov text for this model. The data items are
the table's information categories (地方税関係情報, 年金給付関係情報, ...), one per item here.
Public-benefit accounts can be read through the linkage only from 2022-10-11, when the Digital
Agency's account register started to answer (公的給付の支給等の迅速かつ確実な実施のための預貯金口座の
登録等に関する法律, 令和3年法律第38号, 第10条: 特定公的給付 and the use of registered accounts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from twin.services.linkage.bodies import BodyKind


class Item(StrEnum):
    """Data items (the table's information categories) that intermediate servers keep copies of."""

    LOCAL_TAX_INCOME = "local_tax_income"  # 地方税関係情報: assessed income and whether residence tax is levied
    RESIDENT_RECORD = "resident_record"  # 住民票関係情報: household, address municipality
    HEALTH_INSURANCE = "health_insurance"  # 医療保険給付関係情報: insurer and qualification
    PENSION = "pension"  # 年金給付関係情報: pensions paid
    PUBLIC_ASSISTANCE = "public_assistance"  # 生活保護関係情報: receiving public assistance or not
    CHILD_ALLOWANCE = "child_allowance"  # 児童手当関係情報: receiving child allowance, children counted
    BENEFIT_ACCOUNT = "benefit_account"  # 公金受取口座情報: the registered account


ACCOUNTS_FROM = dt.date(2022, 10, 11)
NETWORK_FROM = dt.date(2017, 7, 18)  # trial operation of the information-provision network (full from 2017-11-13)

_ACT = "番号法第19条第8号・別表第二"
_ORDINANCE = "別表第二主務省令 (平成26年内閣府・総務省令第7号)"
_PORTAL_BASIS = "番号法附則第6条第3項 (情報提供等記録開示システム)"
_ACCOUNTS = "口座登録法 (令和3年法律第38号) 第10条; linkage to the account register from 2022-10-11"


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: ``requester`` bodies doing ``procedure`` may ask ``provider`` bodies for ``items``."""

    procedure: str
    title: str
    requester: BodyKind
    provider: BodyKind
    items: frozenset[Item]
    source: str
    valid_from: dt.date = NETWORK_FROM


def _rule(procedure: str, title: str, requester: BodyKind, provider: BodyKind, items: tuple[Item, ...],
          source: str, valid_from: dt.date = NETWORK_FROM) -> Rule:  # fmt: skip
    return Rule(procedure, title, requester, provider, frozenset(items), source, valid_from)


M, P, INS, MIN = BodyKind.MUNICIPALITY, BodyKind.PENSION, BodyKind.INSURER, BodyKind.MINISTRY
REG, PORTAL = BodyKind.ACCOUNT_REGISTER, BodyKind.PORTAL
It = Item

RULES: tuple[Rule, ...] = (
    # 児童手当法による児童手当又は特例給付の支給に関する事務 (municipality): income of the claimant and
    # the household, from the municipality that assessed it (e.g. before a move).
    _rule("child_allowance", "児童手当法による児童手当の支給に関する事務", M, M,
          (It.LOCAL_TAX_INCOME, It.RESIDENT_RECORD), f"{_ACT} (児童手当法); {_ORDINANCE}"),
    _rule("child_allowance", "児童手当法による児童手当の支給に関する事務", M, P, (It.PENSION,),
          f"{_ACT} (児童手当法); {_ORDINANCE}"),
    _rule("child_allowance", "児童手当法による児童手当の支給に関する事務", M, REG, (It.BENEFIT_ACCOUNT,),
          _ACCOUNTS, ACCOUNTS_FROM),
    # 生活保護法による保護の決定及び実施に関する事務 (welfare offices of municipalities).
    _rule("public_assistance", "生活保護法による保護の決定及び実施に関する事務", M, M,
          (It.LOCAL_TAX_INCOME, It.RESIDENT_RECORD, It.CHILD_ALLOWANCE), f"{_ACT} (生活保護法); {_ORDINANCE}"),
    _rule("public_assistance", "生活保護法による保護の決定及び実施に関する事務", M, P, (It.PENSION,),
          f"{_ACT} (生活保護法); {_ORDINANCE}"),
    _rule("public_assistance", "生活保護法による保護の決定及び実施に関する事務", M, INS, (It.HEALTH_INSURANCE,),
          f"{_ACT} (生活保護法); {_ORDINANCE}"),
    # 地方税法その他の地方税に関する法律による地方税の賦課徴収に関する事務: the income a person's former
    # municipality assessed, and pensions paid.
    _rule("local_tax", "地方税法による地方税の賦課徴収に関する事務", M, M, (It.LOCAL_TAX_INCOME,),
          f"{_ACT} (地方税法); {_ORDINANCE}"),
    _rule("local_tax", "地方税法による地方税の賦課徴収に関する事務", M, P, (It.PENSION,),
          f"{_ACT} (地方税法); {_ORDINANCE}"),
    # 国民健康保険法 / 高齢者医療確保法: qualification (is the person insured elsewhere?) and the income
    # that sets premiums and the co-payment ceiling.
    _rule("health_insurance", "国民健康保険法による保険給付の支給又は保険料の徴収に関する事務", M, INS,
          (It.HEALTH_INSURANCE,), f"{_ACT} (国民健康保険法); {_ORDINANCE}"),
    _rule("health_insurance", "高齢者の医療の確保に関する法律による保険料の徴収に関する事務", INS, M,
          (It.LOCAL_TAX_INCOME, It.RESIDENT_RECORD), f"{_ACT} (高齢者医療確保法); {_ORDINANCE}"),
    # 国民年金法による年金である給付の支給又は保険料の免除に関する事務 (Japan Pension Service).
    _rule("pension", "国民年金法による年金給付の支給又は保険料の免除に関する事務", P, M,
          (It.LOCAL_TAX_INCOME, It.RESIDENT_RECORD), f"{_ACT} (国民年金法); {_ORDINANCE}"),
    _rule("pension", "国民年金法による年金給付の支給又は保険料の免除に関する事務", P, INS, (It.HEALTH_INSURANCE,),
          f"{_ACT} (国民年金法); {_ORDINANCE}"),
    # 公営住宅法による公営住宅の管理に関する事務 (rent set by assessed income).
    _rule("public_housing", "公営住宅法による公営住宅の管理に関する事務", M, M,
          (It.LOCAL_TAX_INCOME, It.RESIDENT_RECORD, It.PUBLIC_ASSISTANCE), f"{_ACT} (公営住宅法); {_ORDINANCE}"),
    _rule("public_housing", "公営住宅法による公営住宅の管理に関する事務", M, P, (It.PENSION,),
          f"{_ACT} (公営住宅法); {_ORDINANCE}"),
    # A benefit eligibility check: a 特定公的給付 (e.g. the 2021 住民税非課税世帯等に対する臨時特別給付金)
    # decided on residence-tax exemption and paid to the registered account.
    _rule("benefit_eligibility", "特定公的給付の支給を実施するための基礎とする情報の管理に関する事務", M, M,
          (It.LOCAL_TAX_INCOME, It.RESIDENT_RECORD), f"{_ACCOUNTS}; {_ACT}"),
    _rule("benefit_eligibility", "特定公的給付の支給を実施するための基礎とする情報の管理に関する事務", M, REG,
          (It.BENEFIT_ACCOUNT,), _ACCOUNTS, ACCOUNTS_FROM),
    # Myna Portal shows a person their own information (情報提供等記録開示システム, 番号法附則第6条第3項).
    _rule("own_information", "情報提供等記録開示システムによる自己情報の表示", PORTAL, M,
          (It.LOCAL_TAX_INCOME, It.RESIDENT_RECORD, It.CHILD_ALLOWANCE), _PORTAL_BASIS),
    _rule("own_information", "情報提供等記録開示システムによる自己情報の表示", PORTAL, P, (It.PENSION,),
          _PORTAL_BASIS),
    _rule("own_information", "情報提供等記録開示システムによる自己情報の表示", PORTAL, INS, (It.HEALTH_INSURANCE,),
          _PORTAL_BASIS),
    _rule("own_information", "情報提供等記録開示システムによる自己情報の表示", PORTAL, REG, (It.BENEFIT_ACCOUNT,),
          "番号法附則第6条第3項; 口座登録法 (令和3年法律第38号)", dt.date(2022, 3, 28)),
)  # fmt: skip


class Verdict(StrEnum):
    ALLOWED = "allowed"
    UNKNOWN_PROCEDURE = "unknown_procedure"
    NOT_IN_TABLE = "not_in_table"
    NOT_YET = "not_yet_in_force"


class LawfulTable:
    """The rules, indexed for the one question the network asks of every query."""

    def __init__(self, rules: tuple[Rule, ...] = RULES) -> None:
        self.rules = rules
        self._index: dict[tuple[str, BodyKind, BodyKind, str], dt.date] = {}
        for r in rules:
            for item in r.items:
                key = (r.procedure, r.requester, r.provider, item.value)
                self._index[key] = min(self._index.get(key, r.valid_from), r.valid_from)
        self.procedures = frozenset(r.procedure for r in rules)

    def check(self, procedure: str, requester: BodyKind, provider: BodyKind, item: str, on: dt.date) -> Verdict:
        since = self._index.get((procedure, requester, provider, item))
        if since is None:
            return Verdict.NOT_IN_TABLE if procedure in self.procedures else Verdict.UNKNOWN_PROCEDURE
        return Verdict.ALLOWED if on >= since else Verdict.NOT_YET

    def rules_for(self, procedure: str) -> list[Rule]:
        return [r for r in self.rules if r.procedure == procedure]
