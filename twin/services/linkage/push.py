"""A push roster: who gets a benefit without applying, and where the money goes, built through the linkage.

A town hall paying the 2022 benefit to residence-tax-exempt households does not want applications:
it wants a list. For each resident it asks the tax body, through the network, whether the resident
is exempt this fiscal year (:func:`twin.services.linkage.benefit.exemption_check`), and asks the
Digital Agency's account register for the registered public-benefit account. A resident who is
eligible and has an account can be paid straight away (push); one without an account, or asked
before the register answered the network (2022-10-11), gets a confirmation letter (確認書) to send
back. Decisions on a stale copy are flagged: they rest on last year's income.

This is the machinery a push design needs, line by line, with each line keyed by the town's internal
address number, never the My Number. The ``push_benefit`` scenarios (:mod:`twin.models.push_benefit`)
use it to compare push designs with the benefits as they were paid.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from twin.services.linkage.benefit import Basis, exemption_check
from twin.services.linkage.network import AnswerMessage, InformationNetwork
from twin.services.linkage.table import Item

ACCOUNT_REGISTER = "digital"


class Route(StrEnum):
    PUSH = "push"  # eligible, registered account read through the network: pay now
    LETTER = "letter"  # eligible, no account readable: a confirmation letter goes out
    NOT_ELIGIBLE = "not_eligible"
    UNDECIDED = "undecided"  # no data, a refused query, or a stale copy the town refuses to decide on


@dataclass(frozen=True, slots=True)
class PushLine:
    address: int  # the town's internal address number (統合宛名番号)
    route: Route
    basis: Basis
    account: object | None  # the registered account (a BankAccount) when the route is push


@dataclass(frozen=True, slots=True)
class PushRoster:
    lines: tuple[PushLine, ...]

    def counts(self) -> dict[str, int]:
        """Lines by route, and ``stale`` for the decisions that rest on an older assessment."""
        c = Counter(line.route.value for line in self.lines)
        c["stale"] = sum(line.basis is Basis.STALE for line in self.lines)
        return dict(c)


def push_roster(
    network: InformationNetwork,
    town: str,
    residents: Iterable[str],
    tax_body: str,
    at: dt.datetime,
    *,
    refuse_stale: bool = False,
) -> PushRoster:
    """The roster of ``town`` for its ``residents`` (My Numbers, inside the town), asked at ``at``."""
    agency = network.agency(town)
    lines = []
    for number in residents:
        address = agency.enrol(number)
        code = agency.code_for(number)
        decision = exemption_check(network, town, code, tax_body, at, refuse_stale=refuse_stale)
        if decision.eligible is None:
            lines.append(PushLine(address, Route.UNDECIDED, decision.basis, None))
            continue
        if not decision.eligible:
            lines.append(PushLine(address, Route.NOT_ELIGIBLE, decision.basis, None))
            continue
        answer = network.query(town, code, "benefit_eligibility", ACCOUNT_REGISTER, Item.BENEFIT_ACCOUNT, at)
        if isinstance(answer, AnswerMessage) and answer.found:
            lines.append(PushLine(address, Route.PUSH, decision.basis, answer.value))
        else:
            lines.append(PushLine(address, Route.LETTER, decision.basis, None))
    return PushRoster(tuple(lines))
