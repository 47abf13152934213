"""My Number Points: reservation, application, grants by the phases' rules, settlement, reconciliation.

Specification: a MyKey ID is reserved once per person; one application per person and phase, with a
registered service; phase 1 gives 25 % up to 5,000 points; phase 2 gives what phase 1 left of those
5,000 plus 7,500 for health-insurance linking and 7,500 for a registered account, each once; over the
cap, twice, outside the dates or the budget, nothing is granted; a repeated request under the same
key gets the first answer and grants nothing; the state reimburses what operators claim, to the yen;
reconciliation finds exactly the grants that went to someone else's account.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.services.accounts import BankAccount, PublicBenefitAccounts
from twin.services.points import (
    Mismatch,
    OperatorGrant,
    Part,
    Phase,
    PointsLedger,
    Reason,
    jpki_card_holder,
    reconcile,
)
from twin.services.store import MemoryStore

OPERATORS = {"paypay": "PayPay", "suica": "Suica", "waon": "WAON"}
BUDGET = {Phase.ONE: 1_000_000, Phase.TWO: 1_000_000}
CARD = dt.date(2020, 3, 1)
P1 = dt.date(2020, 9, 10)
P2 = dt.date(2022, 7, 10)


def ledger(budget=BUDGET, linked=frozenset(), accounts=None) -> PointsLedger:
    reg = accounts.account_on if accounts is not None else (lambda person, on: False)
    return PointsLedger(MemoryStore(), OPERATORS, budget, b"k" * 32,
                        insurance_linked=lambda person, on: person in linked,
                        account_registered=lambda person, on: reg(person, on) is not None)  # fmt: skip


def applied(pl: PointsLedger, person: str, phase=Phase.ONE, operator="paypay", account=None, on=P1) -> str:
    mykey = pl.reserve(person)
    d = pl.apply(mykey, phase, operator, account or f"acct-{person}", CARD, on, f"apply-{person}-{phase}")
    assert d.ok, d.message
    return mykey


def test_a_mykey_id_is_reserved_once_per_person():
    pl = ledger()
    a = pl.reserve("resident-1")
    assert len(a) == 8 and a == pl.reserve("resident-1") != pl.reserve("resident-2")
    assert pl.owner(a) == "resident-1"


def test_reservations_and_applications_are_counted_by_month_on_the_days_they_were_made():
    pl = ledger()
    noon = dt.time(12, tzinfo=dt.UTC)
    a = pl.reserve("r-a", at=dt.datetime.combine(dt.date(2020, 6, 20), noon))
    b = pl.reserve("r-b", at=dt.datetime.combine(dt.date(2020, 7, 2), noon))
    pl.reserve("r-c", at=dt.datetime.combine(dt.date(2020, 7, 31), noon))
    pl.reserve("r-d")  # reserved without a time: in no month
    assert pl.reserve("r-a", at=dt.datetime.combine(dt.date(2020, 9, 1), noon)) == a  # the first day is kept
    assert pl.reserved_on(a) == dt.date(2020, 6, 20) and pl.reserved_on(pl.reserve("r-d")) is None
    assert pl.apply(a, Phase.ONE, "paypay", "acct-a", CARD, dt.date(2020, 7, 1), "k-a").ok
    assert pl.apply(b, Phase.ONE, "suica", "acct-b", CARD, dt.date(2020, 8, 3), "k-b").ok
    assert pl.apply(b, Phase.TWO, "suica", "acct-b2", CARD, dt.date(2022, 7, 1), "k-b2").ok
    assert pl.counts_by_month(Phase.ONE) == {"2020-06": (1, 0), "2020-07": (2, 1), "2020-08": (0, 1)}
    assert pl.counts_by_month(Phase.TWO) == {"2020-06": (1, 0), "2020-07": (2, 0), "2022-07": (0, 1)}


def test_with_the_card_check_a_mykey_id_needs_the_persons_own_valid_card():
    from real_backends.load.deployment import EPOCH, Deployment, DeploymentSpec

    d = Deployment.build(DeploymentSpec(seed=11, holders=2, revoked_every=2, key_pool=2))  # holder 1's card lost
    pl = PointsLedger(MemoryStore(), OPERATORS, BUDGET, b"k" * 32, card_holder=jpki_card_holder(d.jpki))
    at = EPOCH + dt.timedelta(days=30)
    mine, lost = (h.auth_certificate.serial_number for h in d.holders)
    assert isinstance(pl.reserve("holder-0", mine, at), str)
    assert pl.reserve("holder-1", mine, at).reason is Reason.NO_CARD  # someone else's card
    assert pl.reserve("holder-1", lost, at).reason is Reason.NO_CARD  # revoked an hour after issue
    assert pl.reserve("holder-0").reason is Reason.NO_CARD  # no card at all
    assert pl.reserve("holder-0", mine, EPOCH + dt.timedelta(days=365 * 6)).reason is Reason.NO_CARD  # expired


def test_phase_1_grants_25_percent_up_to_5000_points():
    pl = ledger()
    mykey = applied(pl, "r1")
    assert pl.top_up("paypay", "t1", "acct-r1", 10_000, P1).points == 2_500
    assert pl.top_up("paypay", "t2", "acct-r1", 1_001, P1).points == 250  # rounded down
    assert pl.top_up("paypay", "t3", "acct-r1", 20_000, P1).points == 2_250  # what is left of the cap
    over = pl.top_up("paypay", "t4", "acct-r1", 5_000, P1)
    assert not over.ok and over.reason is Reason.CAP_REACHED
    assert pl.totals_of(mykey, Phase.ONE).purchase == 5_000 and pl.totals().granted == 5_000
    pl.check_invariants()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"operator": "nanaco"}, Reason.UNKNOWN_OPERATOR),
        ({"on": dt.date(2020, 6, 30)}, Reason.NOT_OPEN),
        ({"card": dt.date(2021, 5, 1)}, Reason.CARD_TOO_LATE),
        ({"mykey": "ZZZZZZZZ"}, Reason.NOT_RESERVED),
        ({"phase": "phase3"}, Reason.BAD_INPUT),
        ({"account": ""}, Reason.BAD_INPUT),
    ],
)
def test_an_application_outside_the_rules_is_refused_with_its_reason(change, reason):
    pl = ledger()
    args = {"mykey": pl.reserve("r1"), "phase": Phase.ONE, "operator": "paypay", "account": "a1", "card": CARD,
            "on": P1, **change}  # fmt: skip
    d = pl.apply(args["mykey"], args["phase"], args["operator"], args["account"], args["card"], args["on"], "k")
    assert not d.ok and d.reason is reason, d.message


def test_one_application_per_person_and_phase_and_one_person_per_account():
    pl = ledger()
    mykey = applied(pl, "r1")
    again = pl.apply(mykey, Phase.ONE, "suica", "other", CARD, P1, "second-try")
    assert again.reason is Reason.ALREADY_APPLIED
    theirs = pl.apply(pl.reserve("r2"), Phase.ONE, "paypay", "acct-r1", CARD, P1, "r2-apply")
    assert theirs.reason is Reason.ACCOUNT_TAKEN
    assert pl.top_up("waon", "x", "acct-r1", 1000, P1).reason is Reason.NO_APPLICATION


def test_a_repeated_request_gets_the_first_answer_and_nothing_twice():
    pl = ledger()
    applied(pl, "r1")
    first = pl.top_up("paypay", "txn-9", "acct-r1", 8_000, P1)
    assert pl.top_up("paypay", "txn-9", "acct-r1", 8_000, P1) == first
    assert pl.totals().granted == 2_000 and len(pl.grants()) == 1
    reused = pl.top_up("paypay", "txn-9", "acct-r1", 9_000, P1)
    assert not reused.ok and reused.reason is Reason.KEY_REUSED and pl.totals().granted == 2_000
    same_txn_other_operator = pl.top_up("suica", "txn-9", "acct-r1", 8_000, P1)
    assert same_txn_other_operator.reason is Reason.NO_APPLICATION  # the key is per operator


def test_phase_2_gives_what_phase_1_left_plus_the_two_linking_parts_once_each():
    store = MemoryStore()
    accounts = PublicBenefitAccounts(store, lambda r: "ヤマダ\u3000タロウ")
    pl = ledger(linked={"r1"}, accounts=accounts)
    applied(pl, "r1")
    pl.top_up("paypay", "t1", "acct-r1", 12_000, P1)  # 3,000 in phase 1
    mykey = applied(pl, "r1", Phase.TWO, "suica", "suica-r1", dt.date(2022, 1, 5))
    assert pl.top_up("suica", "t2", "suica-r1", 20_000, dt.date(2022, 2, 1)).points == 2_000
    early = pl.grant_linking(mykey, Part.INSURANCE, dt.date(2022, 6, 29), "ins-early")
    assert early.reason is Reason.NOT_OPEN
    assert pl.grant_linking(mykey, Part.INSURANCE, dt.date(2022, 6, 30), "ins").points == 7_500
    assert pl.grant_linking(mykey, Part.INSURANCE, dt.date(2022, 7, 1), "ins-2").reason is Reason.ALREADY_GRANTED
    no_account = pl.grant_linking(mykey, Part.ACCOUNT, P2, "acc")
    assert no_account.reason is Reason.NOT_ELIGIBLE
    # the account register is keyed by the person here (the points service passes its person ids through)
    assert accounts.register("r1", BankAccount("0005", "123", "普通", "1234567", "ヤマダ タロウ"), P2) is not None
    assert pl.grant_linking(mykey, Part.ACCOUNT, P2, "acc-2").points == 7_500
    t = pl.totals_of(mykey, Phase.TWO)
    assert (t.purchase, t.insurance_linking, t.account_registration) == (2_000, 7_500, 7_500)
    pl.check_invariants()


def test_with_the_card_check_a_linking_part_needs_the_mykey_holders_own_valid_card():
    from real_backends.load.deployment import EPOCH, Deployment, DeploymentSpec

    d = Deployment.build(DeploymentSpec(seed=11, holders=3, revoked_every=2, key_pool=2))  # holder 1's card lost
    pl = PointsLedger(MemoryStore(), OPERATORS, BUDGET, b"k" * 32, card_holder=jpki_card_holder(d.jpki),
                      insurance_linked=lambda person, on: True)  # fmt: skip
    at = EPOCH + dt.timedelta(days=30)
    mine, lost, other = (h.auth_certificate.serial_number for h in d.holders)
    mykey = pl.reserve("holder-0", mine, at)
    assert isinstance(pl.reserve("holder-2", other, at), str)
    assert pl.apply(mykey, Phase.TWO, "suica", "suica-0", CARD, P2, "apply").ok
    noon = dt.datetime.combine(P2, dt.time(12), dt.UTC)  # before these cards were issued (2026): not yet valid
    for serial, when in ((None, at), (mine, None), (other, at), (lost, at), (10**9, at), (mine, noon)):
        refused = pl.grant_linking(mykey, Part.INSURANCE, P2, "ins", serial, when)
        assert refused.reason is Reason.NO_CARD and refused.points == 0, (serial, when)
    assert pl.grant_linking("ZZZZZZZZ", Part.INSURANCE, P2, "ins", mine, at).reason is Reason.NOT_RESERVED
    assert pl.totals().granted == 0 and pl.totals_of(mykey, Phase.TWO).insurance_linking == 0
    # expired: the holder's certificate is good for five birthdays at most
    late = pl.grant_linking(mykey, Part.INSURANCE, P2, "ins", mine, EPOCH + dt.timedelta(days=365 * 6))
    assert late.reason is Reason.NO_CARD
    # the refusals left the key unused: the same key with the card grants, once
    assert pl.grant_linking(mykey, Part.INSURANCE, P2, "ins", mine, at).points == 7_500
    assert pl.grant_linking(mykey, Part.INSURANCE, P2, "ins", mine, at).grant == 1  # the first answer again
    assert pl.grant_linking(mykey, Part.INSURANCE, P2, "ins-2", mine, at).reason is Reason.ALREADY_GRANTED
    assert pl.totals().granted == 7_500
    pl.check_invariants()


def test_linking_grants_are_settled_and_reconciled_like_purchase_grants():
    pl = ledger(linked={"r1", "r2"})
    holders = {("suica", "suica-r1"): "r1", ("suica", "suica-r2"): "someone else"}  # r2's keyed onto another's
    for who in ("r1", "r2"):
        mykey = applied(pl, who, Phase.TWO, "suica", f"suica-{who}", dt.date(2022, 1, 5))
        assert pl.grant_linking(mykey, Part.INSURANCE, P2, f"ins-{who}").points == 7_500
    c = pl.claim("suica", P2)
    assert c is not None and c.points == 15_000 and pl.reimburse(c.id, dt.date(2022, 8, 1)).points == 15_000
    t = pl.totals()
    assert (t.granted, t.claimed, t.reimbursed) == (15_000, 15_000, 15_000)
    pl.check_invariants()
    first, second = pl.grants()
    report = reconcile(pl, lambda op, acct: holders.get((op, acct)), [OperatorGrant("suica", first.id, 7_500)])
    assert [(f.kind, f.grant, f.points) for f in report.findings] == [
        (Mismatch.MISDIRECTED, second.id, 7_500), (Mismatch.MISSING, second.id, 7_500)]  # fmt: skip


def test_operators_claim_and_the_state_reimburses_to_the_yen():
    pl = ledger()
    for i in range(5):
        applied(pl, f"r{i}", operator=("paypay", "suica")[i % 2])
        pl.top_up(("paypay", "suica")[i % 2], f"t{i}", f"acct-r{i}", 1_000 * (i + 1), P1)
    granted = pl.totals().granted
    assert granted == sum(250 * (i + 1) for i in range(5))
    c1 = pl.claim("paypay", dt.date(2020, 9, 30))
    c2 = pl.claim("suica", dt.date(2020, 9, 30))
    assert c1.points + c2.points == granted and pl.claim("paypay", dt.date(2020, 9, 30)) is None
    pl.reimburse(c1.id, dt.date(2020, 10, 20))
    assert pl.reimburse(c1.id, dt.date(2020, 10, 21)).reimbursed_on == dt.date(2020, 10, 20)  # once
    t = pl.totals()
    assert (t.granted, t.claimed, t.reimbursed) == (granted, granted, c1.points)
    pl.check_invariants()


def test_the_budget_is_never_exceeded():
    pl = ledger(budget={Phase.ONE: 6_000, Phase.TWO: 0})
    applied(pl, "a")
    applied(pl, "b", account="acct-b")
    assert pl.top_up("paypay", "1", "acct-a", 20_000, P1).points == 5_000
    refused = pl.top_up("paypay", "2", "acct-b", 20_000, P1)
    assert refused.reason is Reason.BUDGET and pl.totals().granted == 5_000
    assert pl.top_up("paypay", "3", "acct-b", 4_000, P1).points == 1_000
    pl.check_invariants()


def test_reconciliation_finds_exactly_the_grants_sent_to_someone_elses_account():
    pl = ledger()
    holders: dict[tuple[str, str], str] = {}
    wrong = set()
    for i in range(40):
        person = f"r{i}"
        own = f"acct-{i}"
        holders[("paypay", own)] = person
        # every 7th application is keyed in at a desk onto the next person's account (as in 2023)
        account = f"acct-{i + 1000}" if i % 7 == 3 else own
        if account != own:
            holders[("paypay", account)] = f"r{i + 1000}"
            wrong.add(person)
        mykey = pl.reserve(person)
        pl.apply(mykey, Phase.ONE, "paypay", account, CARD, P1, f"a{i}", desk=f"muni:{100 + i % 3}")
        pl.top_up("paypay", f"t{i}", account, 4_000, P1)
    reports = [OperatorGrant(g.operator, g.id, g.points) for g in pl.grants()]
    report = reconcile(pl, lambda op, acct: holders.get((op, acct)), reports)
    found = {pl.owner(next(g for g in pl.grants() if g.id == f.grant).mykey) for f in report.misdirected()}
    assert found == wrong and len(report.findings) == len(wrong)
    assert sum(report.by_desk().values()) == len(wrong) and set(report.by_desk()) <= {
        "muni:100",
        "muni:101",
        "muni:102",
    }
    # an operator that granted one grant twice and forgot another
    doubled = [*reports, reports[0]]
    doubled.remove(reports[5])
    kinds = sorted(f.kind for f in reconcile(pl, lambda op, acct: holders.get((op, acct)), doubled).findings
                   if f.kind is not Mismatch.MISDIRECTED)  # fmt: skip
    assert kinds == [Mismatch.MISSING, Mismatch.UNDECIDED]


OPS = st.one_of(
    st.tuples(st.just("apply"), st.integers(0, 5), st.sampled_from(["paypay", "suica", "nanaco"]), st.booleans()),
    st.tuples(st.just("top_up"), st.integers(0, 5), st.integers(-10, 30_000), st.integers(0, 8)),
    st.tuples(st.just("link"), st.integers(0, 5), st.sampled_from(list(Part)), st.integers(0, 3)),
    st.tuples(st.just("claim"), st.sampled_from(["paypay", "suica"]), st.integers(0, 3), st.booleans()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=40))
def test_any_sequence_keeps_money_conserved_and_caps_held(ops):
    pl = ledger(budget={Phase.ONE: 12_000, Phase.TWO: 40_000}, linked={"p0", "p1", "p2"})
    for k, op in enumerate(ops):
        if op[0] == "apply":
            _, who, operator, phase2 = op
            phase, on = (Phase.TWO, P2) if phase2 else (Phase.ONE, P1)
            pl.apply(pl.reserve(f"p{who}"), phase, operator, f"{operator}-{who}", CARD, on, f"apply-{k % 5}-{who}")
        elif op[0] == "top_up":
            _, who, amount, txn = op
            for operator in ("paypay", "suica"):
                pl.top_up(operator, f"txn-{txn}", f"{operator}-{who}", amount, P2 if txn % 2 else P1)
        elif op[0] == "link":
            _, who, part, key = op
            pl.grant_linking(pl.reserve(f"p{who}"), part, P2, f"link-{key}")
        else:
            _, operator, month, pay = op
            c = pl.claim(operator, dt.date(2022, 12, 31))
            if c is not None and pay:
                pl.reimburse(c.id, dt.date(2023, 1, 20))
        pl.check_invariants()
