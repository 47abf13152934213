"""The My Number Points ledger: reservations, applications, grants by operators, reimbursement by the state.

A card holder reserves a MyKey ID at a post office terminal, applies once per phase choosing one
cashless service and the account she holds there, then tops up 20,000 yen and finds 5,000 points
on it. Behind that: the operator reports each top-up, the ledger decides how many points it earns
(25 %, within what is left of the person's cap and the programme's budget), the operator grants
them, and each month the operator claims the points it granted and the state reimburses them, yen
for yen. Nothing is granted twice: every call that changes money carries an idempotency key, with
the payout ledger's rules (``twin/services/payout/ledger.py``): the same key with the same payload
gets the first answer again, the same key with another payload is refused; and a person's totals
per phase are one record, so a second application or a grant over the cap cannot slip through.

All state is in the store and every step is one transaction. :meth:`PointsLedger.check_invariants`
checks that money is conserved: granted = sum of grants = sum of per-person totals, claimed + unclaimed
= granted, reimbursed <= claimed, granted <= budget, no person above a cap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from twin.services.jpki import Jpki
from twin.services.points.rules import PHASES, Part, Phase, purchase_points
from twin.services.store import Store, Transaction

MYKEY, OWNER, APPS, BY_ACCOUNT, PERSON = (
    "points.mykey",
    "points.owner",
    "points.apps",
    "points.by_account",
    "points.person",
)
GRANTS, UNCLAIMED, CLAIMS, KEYS, TOTALS, META = (
    "points.grants", "points.unclaimed", "points.claims", "points.keys", "points.totals", "points.meta")  # fmt: skip
RESERVED_ON = "points.reserved_on"  # MyKey ID -> the day it was first reserved (when the call gave a time)
_MYKEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class Reason(StrEnum):
    NOT_RESERVED = "not_reserved"
    NO_CARD = "no_valid_card"
    UNKNOWN_OPERATOR = "unknown_operator"
    NOT_OPEN = "not_open"  # before the phase or part opens, or after it closes
    CARD_TOO_LATE = "card_applied_too_late"
    ALREADY_APPLIED = "already_applied"
    ACCOUNT_TAKEN = "service_account_taken"  # another person's application names this service account
    NO_APPLICATION = "no_application"
    WRONG_OPERATOR = "wrong_operator"
    CAP_REACHED = "cap_reached"
    ALREADY_GRANTED = "already_granted"
    NOT_ELIGIBLE = "not_eligible"  # no health-insurance linking / no registered account
    BUDGET = "budget_exhausted"
    KEY_REUSED = "key_reused"
    BAD_INPUT = "bad_input"


@dataclass(frozen=True, slots=True)
class Decision:
    ok: bool
    reason: Reason | None
    message: str
    points: int = 0
    grant: int | None = None


@dataclass(frozen=True, slots=True)
class Application:
    mykey: str
    phase: Phase
    operator: str
    service_account: str
    applied_on: dt.date
    desk: str | None = None  # the municipal support desk that keyed the application in, if one did


@dataclass(frozen=True, slots=True)
class PersonTotals:
    """What one person received in one phase, by part (one record: the cap is checked against it)."""

    purchase: int = 0
    insurance_linking: int = 0
    account_registration: int = 0


@dataclass(frozen=True, slots=True)
class Grant:
    id: int
    operator: str
    service_account: str
    mykey: str
    phase: Phase
    part: Part
    points: int
    on: dt.date


@dataclass(frozen=True, slots=True)
class Claim:
    """An operator's claim for reimbursement of the points it granted up to ``until``."""

    id: int
    operator: str
    grants: tuple[int, ...]
    points: int
    until: dt.date
    reimbursed_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    granted: int = 0
    claimed: int = 0
    reimbursed: int = 0
    next_grant: int = 1
    next_claim: int = 1


def _refuse(reason: Reason, message: str) -> Decision:
    return Decision(False, reason, message)


class PointsLedger:
    """マイナポイント: one ledger for both phases, over ``store``, with a budget in yen per phase.

    ``operators`` are the registered cashless services (id -> name). ``card_holder`` names the person
    whose valid user-authentication certificate has a serial at a time (e.g. :func:`jpki_card_holder`):
    when given, a MyKey ID is reserved only with that person's card. ``insurance_linked`` and
    ``account_registered`` answer, for a person and a date, whether the card is registered as the
    health-insurance card and whether a public-benefit account is registered (e.g.
    :meth:`twin.services.accounts.PublicBenefitAccounts.account_on`).
    """

    def __init__(
        self,
        store: Store,
        operators: dict[str, str],
        budget: dict[Phase, int],
        secret: bytes,
        *,
        insurance_linked: Callable[[str, dt.date], bool] = lambda person, on: False,
        account_registered: Callable[[str, dt.date], bool] = lambda person, on: False,
        card_holder: Callable[[int, dt.datetime], str | None] | None = None,
    ) -> None:
        self.store, self.operators, self.budget = store, dict(operators), {Phase(k): int(v) for k, v in budget.items()}
        self._secret = secret
        self.insurance_linked, self.account_registered = insurance_linked, account_registered
        self.card_holder = card_holder
        terms = (tuple(sorted(self.operators.items())), tuple(sorted(self.budget.items())))
        with store.transaction() as tx:
            existing = tx.get(META, "terms")
            if existing is None:
                tx.put(META, "terms", terms)
                tx.put(TOTALS, "t", Totals())
            elif existing != terms:
                raise ValueError("this store holds a points ledger for other operators or another budget")

    # -- reservation and application ---------------------------------------------------------------

    def reserve(self, person: str, card_serial: int | None = None, at: dt.datetime | None = None) -> str | Decision:
        """マイキーID設定: the person's MyKey ID (8 characters), the same on every call.

        With a ``card_holder`` check, the person's card must be presented: the serial of a user-authentication
        certificate that is valid at ``at`` and is the person's; otherwise the refusal says why. The day of
        ``at``, when given, is kept as the reservation day of a first reservation (:meth:`reserved_on`).
        """
        if self.card_holder is not None:
            if card_serial is None or at is None:
                return _refuse(Reason.NO_CARD, "MyKey ID: present the card (its authentication certificate) to reserve")
            if self.card_holder(card_serial, at) != person:
                return _refuse(Reason.NO_CARD, "MyKey ID: not this person's card, or its certificate is not valid")
        known = self.store.get(MYKEY, person)
        if known is not None:
            return known  # type: ignore[return-value]
        digest = hmac.digest(self._secret, person.encode(), hashlib.sha256)
        mykey = "".join(_MYKEY_ALPHABET[b % len(_MYKEY_ALPHABET)] for b in digest[:8])
        with self.store.transaction() as tx:
            tx.put(MYKEY, person, mykey)
            tx.put(OWNER, mykey, person)
            if at is not None:
                tx.put(RESERVED_ON, mykey, at.date())
        return mykey

    def reserved_on(self, mykey: str) -> dt.date | None:
        """The day a MyKey ID was reserved (None: unknown, or reserved without a time)."""
        return self.store.get(RESERVED_ON, mykey)  # type: ignore[return-value]

    def apply(self, mykey: str, phase: Phase, operator: str, service_account: str, card_applied_on: dt.date,
              on: dt.date, key: str, desk: str | None = None) -> Decision:  # fmt: skip
        """Apply for ``phase`` with one cashless service and the account held there. Once per person and phase.

        ``desk``: the municipal support desk (body id) that keyed the application in for the person, if any.
        """
        payload = ("apply", mykey, str(phase), operator, service_account, card_applied_on, on, desk)
        if phase not in PHASES:
            return _refuse(Reason.BAD_INPUT, f"phase {str(phase)[:20]!r}: use phase1 or phase2")
        phase = Phase(phase)
        return self._idempotent(
            key, payload, lambda tx: self._apply(tx, mykey, phase, operator, service_account, card_applied_on, on, desk)
        )

    def _apply(self, tx: Transaction, mykey: str, phase: Phase, operator: str, account: str, card_on: dt.date,
               on: dt.date, desk: str | None) -> Decision:  # fmt: skip
        rules = PHASES[phase]
        if tx.get(OWNER, mykey) is None:
            return _refuse(Reason.NOT_RESERVED, f"MyKey ID {mykey[:12]!r}: not reserved; set one up with the card")
        if operator not in self.operators:
            return _refuse(Reason.UNKNOWN_OPERATOR, f"operator {operator[:40]!r}: not a registered cashless service")
        if not rules.applications_from <= on <= rules.grants_until:
            return _refuse(
                Reason.NOT_OPEN, f"{phase}: applications open {rules.applications_from}..{rules.grants_until}"
            )
        if card_on > rules.card_applied_by:
            return _refuse(Reason.CARD_TOO_LATE, f"{phase}: the card must be applied for by {rules.card_applied_by}")
        if not account or len(account) > 64:
            return _refuse(Reason.BAD_INPUT, "service account: give the account id at the service (1-64 characters)")
        existing: Application | None = tx.get(APPS, (mykey, phase.value))  # type: ignore[assignment]
        if existing is not None:
            return _refuse(Reason.ALREADY_APPLIED, f"{phase}: already applied on {existing.applied_on} "
                                                   f"with {existing.operator}; one service per person")  # fmt: skip
        holder = tx.get(BY_ACCOUNT, (operator, account, phase.value))
        if holder is not None:
            return _refuse(Reason.ACCOUNT_TAKEN, f"{phase}: this {operator} account is already tied to another person")
        tx.put(APPS, (mykey, phase.value), Application(mykey, phase, operator, account, on, desk))
        tx.put(BY_ACCOUNT, (operator, account, phase.value), mykey)
        return Decision(True, None, f"applied for {phase} with {operator}")

    def counts_by_month(self, phase: Phase) -> dict[str, tuple[int, int]]:
        """'YYYY-MM' -> (MyKey IDs reserved that month, applications for ``phase`` made that month); a
        reservation made without a time is not in any month."""
        out: dict[str, list[int]] = {}
        for _, on in self.store.scan(RESERVED_ON):
            out.setdefault(f"{on:%Y-%m}", [0, 0])[0] += 1
        for (_, ph), a in self.store.scan(APPS):  # type: ignore[misc]
            if ph == Phase(phase).value:
                out.setdefault(f"{a.applied_on:%Y-%m}", [0, 0])[1] += 1  # type: ignore[attr-defined]
        return {m: (r, n) for m, (r, n) in sorted(out.items())}

    def application(self, mykey: str, phase: Phase) -> Application | None:
        return self.store.get(APPS, (mykey, Phase(phase).value))  # type: ignore[return-value]

    # -- grants ------------------------------------------------------------------------------------------

    def top_up(self, operator: str, operator_txn: str, service_account: str, amount_yen: int, on: dt.date) -> Decision:
        """The operator reports a top-up or purchase; the points it earns are granted (0 if none are due)."""
        payload = ("top_up", operator, service_account, amount_yen, on)
        return self._idempotent(f"{operator}:{operator_txn}", payload,
                                lambda tx: self._top_up(tx, operator, service_account, amount_yen, on))  # fmt: skip

    def _top_up(self, tx: Transaction, operator: str, account: str, amount: int, on: dt.date) -> Decision:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return _refuse(Reason.BAD_INPUT, f"amount: {amount!r} must be a positive number of yen")
        if operator not in self.operators:
            return _refuse(Reason.UNKNOWN_OPERATOR, f"operator {operator[:40]!r}: not a registered cashless service")
        for phase in (Phase.TWO, Phase.ONE):  # the newer phase first: a phase-2 application takes phase-2 top-ups
            rules = PHASES[phase]
            if not rules.grants_from[Part.PURCHASE] <= on <= rules.grants_until:
                continue
            mykey: str | None = tx.get(BY_ACCOUNT, (operator, account, phase.value))  # type: ignore[assignment]
            if mykey is None:
                continue
            totals: PersonTotals = tx.get(PERSON, (mykey, phase.value)) or PersonTotals()  # type: ignore[assignment]
            already = totals.purchase
            if phase is Phase.TWO:  # the 5,000 part is what phase 1 left of the cap
                p1: PersonTotals = tx.get(PERSON, (mykey, Phase.ONE.value)) or PersonTotals()  # type: ignore[assignment]
                already += p1.purchase
            points = purchase_points(amount, rules, already)
            if points == 0:
                return _refuse(
                    Reason.CAP_REACHED, f"{phase}: the purchase cap of {rules.purchase_cap} points is reached"
                )
            return self._grant(tx, operator, account, mykey, phase, Part.PURCHASE, points, on,
                               replace(totals, purchase=totals.purchase + points))  # fmt: skip
        return _refuse(Reason.NO_APPLICATION, f"{operator} account: no open application names it on {on}")

    def grant_linking(self, mykey: str, part: Part, on: dt.date, key: str, card_serial: int | None = None,
                      at: dt.datetime | None = None) -> Decision:  # fmt: skip
        """Phase 2's 7,500 points for health-insurance linking or account registration, once per person.

        With a ``card_holder`` check, as for :meth:`reserve`, the person applies with her own card: the serial of a
        user-authentication certificate valid at ``at`` whose holder is the person the MyKey ID was reserved for
        (``NO_CARD`` otherwise, ``NOT_RESERVED`` for a MyKey ID nobody reserved). A card refusal grants nothing and
        leaves ``key`` unused, so the same key can be sent again with the card."""
        if self.card_holder is not None:
            if card_serial is None or at is None:
                return _refuse(Reason.NO_CARD, f"{str(part)[:40]}: present the card (its authentication certificate)")
            person = self.owner(mykey)
            if person is None:
                return _refuse(Reason.NOT_RESERVED, f"MyKey ID {mykey[:12]!r}: not reserved; set one up with the card")
            if self.card_holder(card_serial, at) != person:
                return _refuse(Reason.NO_CARD, f"{str(part)[:40]}: not this MyKey ID holder's card, or its "
                                               "certificate is not valid")  # fmt: skip
        return self._idempotent(
            key, ("linking", mykey, str(part), on), lambda tx: self._linking(tx, mykey, Part(part), on)
        )

    def _linking(self, tx: Transaction, mykey: str, part: Part, on: dt.date) -> Decision:
        rules = PHASES[Phase.TWO]
        if part not in rules.linking_points:
            return _refuse(Reason.BAD_INPUT, f"part {part}: use insurance_linking or account_registration")
        if not rules.grants_from[part] <= on <= rules.grants_until:
            return _refuse(Reason.NOT_OPEN, f"{part}: granted {rules.grants_from[part]}..{rules.grants_until}")
        person: str | None = tx.get(OWNER, mykey)  # type: ignore[assignment]
        app: Application | None = tx.get(APPS, (mykey, Phase.TWO.value))  # type: ignore[assignment]
        if person is None or app is None:
            return _refuse(Reason.NO_APPLICATION, "phase2: apply with a cashless service first")
        check = self.insurance_linked if part is Part.INSURANCE else self.account_registered
        if not check(person, on):
            what = (
                "registered the card as the health-insurance card"
                if part is Part.INSURANCE
                else "registered an account"
            )
            return _refuse(Reason.NOT_ELIGIBLE, f"{part}: the person has not {what} on {on}")
        totals: PersonTotals = tx.get(PERSON, (mykey, Phase.TWO.value)) or PersonTotals()  # type: ignore[assignment]
        if getattr(totals, part.value):
            return _refuse(Reason.ALREADY_GRANTED, f"{part}: already granted to this person")
        points = rules.linking_points[part]
        return self._grant(tx, app.operator, app.service_account, mykey, Phase.TWO, part, points, on,
                           replace(totals, **{part.value: points}))  # fmt: skip

    def _grant(self, tx: Transaction, operator: str, account: str, mykey: str, phase: Phase, part: Part, points: int,
               on: dt.date, totals: PersonTotals) -> Decision:  # fmt: skip
        t: Totals = tx.get(TOTALS, "t")  # type: ignore[assignment]
        spent = tx.get(META, ("granted", phase.value)) or 0
        if spent + points > self.budget[phase]:  # type: ignore[operator]
            return _refuse(Reason.BUDGET, f"{phase}: budget of {self.budget[phase]:,} yen would be exceeded")
        gid = t.next_grant
        tx.put(GRANTS, gid, Grant(gid, operator, account, mykey, phase, part, points, on))
        tx.put(UNCLAIMED, (operator, gid), points)
        tx.put(PERSON, (mykey, phase.value), totals)
        tx.put(META, ("granted", phase.value), spent + points)  # type: ignore[operator]
        tx.put(TOTALS, "t", replace(t, granted=t.granted + points, next_grant=gid + 1))
        return Decision(True, None, f"granted {points} points ({phase} {part})", points, gid)

    def owner(self, mykey: str) -> str | None:
        """The person a MyKey ID was reserved for."""
        return self.store.get(OWNER, mykey)  # type: ignore[return-value]

    def totals_of(self, mykey: str, phase: Phase) -> PersonTotals:
        return self.store.get(PERSON, (mykey, Phase(phase).value)) or PersonTotals()  # type: ignore[return-value]

    # -- settlement ----------------------------------------------------------------------------------------

    def claim(self, operator: str, until: dt.date) -> Claim | None:
        """The operator claims reimbursement of every unclaimed grant dated up to ``until`` (None: nothing due)."""
        with self.store.transaction() as tx:
            due = [(k, p) for k, p in tx.scan(UNCLAIMED) if k[0] == operator]  # type: ignore[index]
            ids = tuple(int(k[1]) for k, _ in due if tx.get(GRANTS, k[1]).on <= until)  # type: ignore[index,union-attr]
            if not ids:
                return None
            points = sum(tx.get(GRANTS, i).points for i in ids)  # type: ignore[union-attr]
            t: Totals = tx.get(TOTALS, "t")  # type: ignore[assignment]
            c = Claim(t.next_claim, operator, ids, points, until)
            for i in ids:
                tx.delete(UNCLAIMED, (operator, i))
            tx.put(CLAIMS, c.id, c)
            tx.put(TOTALS, "t", replace(t, claimed=t.claimed + points, next_claim=c.id + 1))
        return c

    def reimburse(self, claim_id: int, on: dt.date) -> Claim:
        """The state pays a claim (idempotent: a paid claim is returned as it is)."""
        with self.store.transaction() as tx:
            c: Claim | None = tx.get(CLAIMS, claim_id)  # type: ignore[assignment]
            if c is None:
                raise KeyError(f"claim {claim_id}: not submitted")
            if c.reimbursed_on is not None:
                return c
            c = replace(c, reimbursed_on=on)
            tx.put(CLAIMS, claim_id, c)
            t: Totals = tx.get(TOTALS, "t")  # type: ignore[assignment]
            tx.put(TOTALS, "t", replace(t, reimbursed=t.reimbursed + c.points))
        return c

    def totals(self) -> Totals:
        return self.store.get(TOTALS, "t")  # type: ignore[return-value]

    def granted_in(self, phase: Phase) -> int:
        """Points (yen) granted in ``phase``: what its budget is checked against."""
        return self.store.get(META, ("granted", Phase(phase).value)) or 0  # type: ignore[return-value]

    def claims(self) -> list[Claim]:
        """Every claim submitted, paid or not, in the order submitted."""
        return [c for _, c in self.store.scan(CLAIMS)]  # type: ignore[misc]

    def grants(self) -> list[Grant]:
        return [g for _, g in self.store.scan(GRANTS)]  # type: ignore[misc]

    # -- idempotency and invariants -------------------------------------------------------------------

    def _idempotent(self, key: str, payload: tuple, act: Callable[[Transaction], Decision]) -> Decision:
        if not isinstance(key, str) or not key or len(key) > 200:
            return _refuse(Reason.BAD_INPUT, "idempotency key: must be a non-empty string of at most 200 characters")
        fingerprint = hashlib.sha256(repr(payload).encode()).hexdigest()
        with self.store.transaction() as tx:
            seen = tx.get(KEYS, key)
            if seen is not None:
                first_fp, first = seen  # type: ignore[misc]
                if first_fp == fingerprint:
                    return first  # type: ignore[no-any-return]
                return _refuse(Reason.KEY_REUSED, f"idempotency key {key[:40]!r} was already used for another request")
            d = act(tx)
            tx.put(KEYS, key, (fingerprint, d))
            return d

    def check_invariants(self) -> None:
        """Money is conserved and no cap is broken; AssertionError names the first broken rule."""
        t = self.totals()
        grants = self.grants()
        assert sum(g.points for g in grants) == t.granted, "sum of grants differs from the granted total"
        people: dict[tuple[str, str], int] = {}
        for (mykey, phase), totals in self.store.scan(PERSON):  # type: ignore[misc]
            s = totals.purchase + totals.insurance_linking + totals.account_registration
            people[(mykey, phase)] = s
            assert totals.purchase <= PHASES[Phase(phase)].purchase_cap, f"{phase}: a person above the purchase cap"
        assert sum(people.values()) == t.granted, "per-person totals differ from the granted total"
        for mykey in {m for m, _ in people}:
            both = self.totals_of(mykey, Phase.ONE).purchase + self.totals_of(mykey, Phase.TWO).purchase
            assert both <= PHASES[Phase.TWO].purchase_cap, "a person got more than 5,000 purchase points in all"
        unclaimed = sum(int(p) for _, p in self.store.scan(UNCLAIMED))  # type: ignore[call-overload]
        claimed = sum(c.points for _, c in self.store.scan(CLAIMS))  # type: ignore[attr-defined]
        assert claimed == t.claimed and claimed + unclaimed == t.granted, "claimed + unclaimed differs from granted"
        paid = sum(c.points for _, c in self.store.scan(CLAIMS) if c.reimbursed_on is not None)  # type: ignore[attr-defined]
        assert paid == t.reimbursed <= t.claimed, "reimbursed differs from the paid claims or exceeds the claimed"
        for phase, budget in self.budget.items():
            assert (self.store.get(META, ("granted", phase.value)) or 0) <= budget, f"{phase}: over budget"  # type: ignore[operator]


def jpki_card_holder(jpki: Jpki) -> Callable[[int, dt.datetime], str | None]:
    """The holder of a user-authentication certificate that is good at a time, from the JPKI centre's ledger."""

    def holder(serial: int, at: dt.datetime) -> str | None:
        if jpki.auth_refusal(serial, at) is not None:
            return None
        return jpki.store.get(serial).person_ref  # type: ignore[union-attr]

    return holder
