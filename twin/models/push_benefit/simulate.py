"""One push benefit through the real linkage services, household by household, and its payment calendar.

The world: every household head of the synthetic nation gets a My Number, a resident-register code
and a tax assessment for two fiscal years, held by the municipality where the head lived on
1 January (for movers, another town). Each tax town registers the new assessment as its intermediate
server's copy some days after the June assessment (``refresh_lag``); the Digital Agency's register
holds the accounts of the heads who registered one. A mis-linked head is enrolled by its town under
another person's resident-register code, so every answer the network gives about them is someone
else's (the failure the 2023 review counted); a wrong account is a registered account that is not
the head's.

Two designs decide who is paid and how:

- ``as_done``: the town decides on its own live records (no copy, so never stale) for the people
  it knows (heads living there on 1 January; for the child benefit, child-allowance recipients),
  then pushes to an account it already holds (child allowance) or mails a confirmation letter;
  everyone else eligible must apply.
- ``linkage_accounts``: the town asks the network about every resident head
  (:func:`twin.services.linkage.push.push_roster`): eligibility from the tax body's copy, the
  account from the register; registered accounts are paid after a notice, the rest get a letter.

Days count from ``decision_date`` (day 0); transfers go out on batch days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from twin.models.push_benefit.params import Params
from twin.population import Nation
from twin.services.linkage import Linkage, TableResidentCodes, TaxAssessment, municipality_id
from twin.services.linkage.benefit import Basis, latest_assessment_year
from twin.services.linkage.push import ACCOUNT_REGISTER, Route, push_roster
from twin.services.linkage.table import Item
from twin.services.registry import my_number_check_digit
from twin.services.store import MemoryStore

JST = dt.timezone(dt.timedelta(hours=9))
NEVER = np.iinfo(np.int32).max
MAX_LAG_DAYS = 364
ASSESSMENT_DAY = (6, 1)
CHILD_MAX_AGE = 18  # 0歳から高校生等 (Wakayama prefecture's notice of the 2021 benefit)
CHILD_ALLOWANCE_MAX_AGE = 15  # 児童手当: to the end of junior high school


@dataclass
class Outcome:
    """Per eligible unit (household), what happened; arrays over households of the nation."""

    truly_eligible: np.ndarray  # bool: eligible on the current assessment and true identity
    units: np.ndarray  # int: children (child benefit) or 1 (household benefits)
    paid_day: np.ndarray  # int32: day of payment (NEVER: not within the horizon)
    route: np.ndarray  # str: push / letter / application / none
    wrongly_paid: np.ndarray  # bool: paid although not eligible (stale copy or another person's data)
    wrong_account: np.ndarray  # bool: paid into an account that is not the head's
    stale: np.ndarray  # bool: decided on an older assessment
    mislinked: np.ndarray  # bool
    letters: int  # letters mailed
    processed: int  # letters and applications checked by hand
    queries: int  # linkage exchanges


def _my_numbers(n: int, rng: np.random.Generator) -> list[str]:
    first = rng.choice(10**11, size=n, replace=False)
    return [f"{x:011d}{my_number_check_digit(f'{x:011d}')}" for x in first.tolist()]


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 9, tzinfo=JST)


def next_batch(day: np.ndarray, interval: int) -> np.ndarray:
    """The first transfer day on or after ``day`` (batches on days 0, interval, 2 x interval, ...)."""
    return (np.ceil(day / interval) * interval).astype(np.int64)


def simulate(nation: Nation, p: Params, rng_of, secret: bytes, taps: Sequence[Callable] = ()) -> Outcome:
    """Run one design. ``rng_of(name)`` gives named streams (shared between designs: common random numbers);
    ``taps`` see every message between bodies (the tests check them for My Numbers)."""
    hh, res, mun = nation.households, nation.residents, nation.municipalities
    n = hh.size.size
    head = hh.head.astype(np.int64)
    town_ids = np.array([municipality_id(c) for c in mun.code.tolist()])
    town = hh.municipality.astype(np.int64)
    pop = p.population

    # -- the world (drawn from streams that do not depend on the design) ------------------------
    r = rng_of("world")
    exempt_now = r.random(n) < pop.exempt_share
    exempt_before = exempt_now ^ (r.random(n) < pop.flip_share)
    over_line_now = r.random(n) < pop.over_income_line_share
    over_line_before = over_line_now ^ (r.random(n) < pop.flip_share)
    mover = r.random(n) < pop.mover_share
    tax_town = np.where(mover, r.integers(0, len(mun), n), town)
    public_servant = r.random(n) < pop.public_servant_share
    has_account = res.has_account[head]
    mislinked = r.random(n) < p.linkage.mislink_rate
    wrong_account = has_account & (r.random(n) < p.linkage.wrong_account_rate)
    # a town registers the new assessment at the latest with the next one (the world holds two years)
    lag = np.minimum(r.uniform(0, 2 * p.linkage.refresh_lag_mean_days, len(mun)), MAX_LAG_DAYS)
    u_letter = r.random((n, 4))  # mailing, return, return time, error
    u_apply = r.random((n, 2))

    ages = res.age
    children = np.add.reduceat((ages <= CHILD_MAX_AGE).astype(np.int64), head)
    young = np.add.reduceat((ages <= CHILD_ALLOWANCE_MAX_AGE).astype(np.int64), head)

    if p.benefit == "child_2021":
        levied_now, levied_before = over_line_now, over_line_before  # "levied": over the benefit's income line
        in_scope = children > 0
        units = children
    else:
        levied_now, levied_before = ~exempt_now, ~exempt_before
        in_scope = np.ones(n, bool)
        units = np.ones(n, np.int64)
    truly = in_scope & ~levied_now

    decision = p.decision_date
    fy = latest_assessment_year(decision)
    assessed = dt.date(fy, *ASSESSMENT_DAY)
    refresh_day = [assessed + dt.timedelta(days=float(x)) for x in lag]

    route = np.full(n, "none", dtype=object)
    decided_day = np.zeros(n, np.int64)
    eligible_seen = np.zeros(n, bool)
    stale = np.zeros(n, bool)
    pay_account = np.zeros(n, bool)  # paid straight into an account (push)
    own_account = np.zeros(n, bool)  # ... one the town already holds (child allowance), not the register's
    wrongly_seen_as = np.zeros(n, np.int64) - 1  # the household whose data the decision used
    queries = 0

    if p.design == "as_done":
        # the town's own live records: residents on 1 January; the child benefit's push list is the
        # town's child-allowance recipients (children under 16, not public servants)
        if p.benefit == "child_2021":  # child allowance is paid by the town of residence: movers are known
            known = in_scope & (young > 0) & ~public_servant
            eligible_seen[known] = truly[known]
            route[known & truly] = "push"  # to the child-allowance account the town already pays
            pay_account[known & truly] = own_account[known & truly] = True
        else:
            known = in_scope & ~mover
            eligible_seen[known] = truly[known]
            route[known & truly] = "letter"
        route[~known & truly] = "application"
        wrongly_seen_as[:] = np.arange(n)
    else:
        # through the linkage: a real network over a store, the heads' numbers and codes
        numbers = _my_numbers(n, rng_of("numbers"))
        swap = np.arange(n)
        if mislinked.any():  # linked to another person of the same tax town (assumed: a wrong number typed for
            # someone the same body also serves)
            rm = rng_of("mislink")
            by_town: dict[int, list[int]] = {}
            for j, t in enumerate(tax_town.tolist()):
                by_town.setdefault(t, []).append(j)
            for i in np.flatnonzero(mislinked).tolist():
                pool = by_town[int(tax_town[i])]
                if len(pool) > 1:
                    k = int(rm.integers(0, len(pool) - 1))
                    swap[i] = pool[k] if pool[k] != i else pool[-1]
        # the tax towns and the register hold every head under the right number; a mis-linked head
        # is known to the paying town under another person's number (swap), as the review found
        rrc = {numbers[i]: i + 1 for i in range(n)}
        store = MemoryStore()
        link = Linkage.build(store, TableResidentCodes(rrc), secret, snapshot=nation.snapshot.name)
        net = link.network
        net.taps.extend(taps)
        by_code = numbers
        register = net.agency(ACCOUNT_REGISTER)
        prev_as_of, now_as_of = dt.date(fy - 1, 4, 1), dt.date(fy, 4, 1)
        for i in range(n):
            body = net.agency(str(town_ids[tax_town[i]]))
            number = by_code[i]
            body.record(number, Item.LOCAL_TAX_INCOME, TaxAssessment(fy - 1, 0, bool(levied_before[i])), prev_as_of)
        tax_towns = sorted(set(tax_town.tolist()))
        for t in tax_towns:
            net.agency(str(town_ids[t])).refresh(_at(dt.date(fy - 1, 7, 1)))
        for i in range(n):
            body = net.agency(str(town_ids[tax_town[i]]))
            body.record(by_code[i], Item.LOCAL_TAX_INCOME, TaxAssessment(fy, 0, bool(levied_now[i])), now_as_of)
            if has_account[i]:
                register.publish(by_code[i], Item.BENEFIT_ACCOUNT, f"account-of-{i}", dt.date(2022, 3, 28),
                                 _at(dt.date(2022, 3, 28)))  # fmt: skip
        for t in tax_towns:
            if refresh_day[t] <= decision:
                net.agency(str(town_ids[t])).refresh(_at(refresh_day[t]))
        # the town asks, per tax town, about its resident heads in scope
        asked = in_scope.copy()
        if p.benefit == "child_2021":  # the town keeps paying its child-allowance recipients as before
            own = in_scope & (young > 0) & ~public_servant
            eligible_seen[own] = truly[own]
            route[own & truly] = "push"
            pay_account[own & truly] = own_account[own & truly] = True
            asked &= ~own
        groups: dict[tuple[int, int], list[int]] = {}
        for i in np.flatnonzero(asked).tolist():
            groups.setdefault((int(town[i]), int(tax_town[i])), []).append(i)
        pending: list[tuple[int, int, list[int]]] = []
        for (t, tt), members in sorted(groups.items()):
            roster = push_roster(net, str(town_ids[t]), [numbers[swap[i]] for i in members], str(town_ids[tt]),
                                 _at(decision), refuse_stale=p.linkage.refuse_stale)  # fmt: skip
            waiting = []
            for i, line in zip(members, roster.lines, strict=True):
                _apply_line(i, line, route, eligible_seen, stale, pay_account)
                if line.route is Route.UNDECIDED and line.basis is Basis.REFUSED_STALE:
                    waiting.append(i)
            if waiting:
                pending.append((t, tt, waiting))
        # refused as stale: decided again when the tax town registers the new copy
        for t, tt, members in pending:
            when = refresh_day[tt]
            net.agency(str(town_ids[tt])).refresh(_at(when))
            roster = push_roster(
                net, str(town_ids[t]), [numbers[swap[i]] for i in members], str(town_ids[tt]), _at(when)
            )
            for i, line in zip(members, roster.lines, strict=True):
                _apply_line(i, line, route, eligible_seen, stale, pay_account)
                decided_day[i] = (when - decision).days
        queries = net.exchanges()
        wrongly_seen_as[:] = swap
        # the unfound eligible (a refusal, no data) must apply, as in the old design
        route[(route == "none") & truly] = "application"

    # -- the calendar ---------------------------------------------------------------------------
    L, A = p.letters, p.applications
    ready = np.full(n, np.inf)
    letters_mailed = route == "letter"
    mail = decided_day + u_letter[:, 0] * L.mail_spread_days
    ret = np.exp(np.log(L.return_median_days) + L.return_sigma * _norm(u_letter[:, 2]))
    returned = u_letter[:, 1] < L.return_share
    redo = u_letter[:, 3] < L.error_share
    letter_ready = mail + ret + L.processing_days + np.where(redo, ret + L.processing_days, 0.0)
    ready = np.where(letters_mailed & returned, letter_ready, ready)
    push = route == "push"
    ready = np.where(push, decided_day + p.push_notice_days, ready)
    applying = (route == "application") & (u_apply[:, 0] < A.share)
    apply_day = decided_day + np.exp(np.log(A.median_days) + A.sigma * _norm(u_apply[:, 1]))
    ready = np.where(applying, apply_day + L.processing_days, ready)
    # an application is checked by hand against the town's (or the former town's) live records
    decided_eligible = np.where(route == "application", truly, eligible_seen)
    finite = np.isfinite(ready) & decided_eligible
    day = np.where(finite, next_batch(np.where(finite, ready, 0), p.batch_interval_days), NEVER)
    day = np.where(day <= p.horizon_days, day, NEVER).astype(np.int64)
    paid = day != NEVER
    wrongly_paid = paid & ~truly
    via_register = paid & push & pay_account & (p.design == "linkage_accounts") & ~own_account
    wrong_acc = via_register & (wrong_account[wrongly_seen_as] | (wrongly_seen_as != np.arange(n)))
    return Outcome(
        truly_eligible=truly,
        units=units,
        paid_day=day,
        route=route,
        wrongly_paid=wrongly_paid,
        wrong_account=wrong_acc,
        stale=stale,
        mislinked=(wrongly_seen_as != np.arange(n)) & in_scope,
        letters=int(letters_mailed.sum()),
        processed=int((letters_mailed & returned).sum() + applying.sum()),
        queries=queries,
    )


def _apply_line(i, line, route, eligible_seen, stale, pay_account) -> None:
    stale[i] = line.basis is Basis.STALE
    if line.route is Route.PUSH:
        route[i], eligible_seen[i], pay_account[i] = "push", True, True
    elif line.route is Route.LETTER:
        route[i], eligible_seen[i] = "letter", True
    elif line.route is Route.NOT_ELIGIBLE:
        route[i], eligible_seen[i] = "not_eligible", False
    else:
        route[i] = "none"


def _norm(u: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri

    return ndtri(np.clip(u, 1e-12, 1 - 1e-12))
