"""Myna Portal (マイナポータル) as the hub: one's own information, who asked about one, notices, the
public-benefit account, the card's registration as the health-insurance card, deduction certificates,
and consent to give the four basic items.

A resident logs in with the card and sees, on one page, what the bodies hold about her: the income
her town assessed, her pension, her health insurance, her registered account -- each fetched through
the information-provision network under the portal's own agency code, each with the age of the copy
it came from (わたしの情報). She sees every exchange any body made about her (やりとり履歴), the
notices bodies sent her (お知らせ), registers, changes or deletes the account public benefits are
paid into (公金受取口座, signed with the card's signature key; agencies read it through the network
from 2022-10-11), registers the card for use as her health-insurance card (健康保険証利用登録: once,
with the card she logged in with, valid that moment, and only if an insurer has linked a current
qualification to her; the insurers' qualification book records the day), collects the deduction
certificates insurers and banks issued her for the year-end adjustment or her tax return, and may
give a private party her name, address, birth date and sex when she signs a consent naming the
party, the purpose and until when.

Clock-free: every act takes ``at``. Refusals raise :class:`PortalRefusal` with a :class:`Problem`
code and a sentence; the HTTP layer (``real_backends/portal_hub.py``) maps them to statuses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from twin.services.accounts import AccountProblem, BankAccount, PublicBenefitAccounts
from twin.services.eligibility.qualifications import (
    CardUseRegistration,
    EligibilityError,
    Qualification,
    QualificationBook,
)
from twin.services.jpki import Jpki
from twin.services.jpki.profile import japan_date
from twin.services.linkage import AgencyCode, AnswerMessage, CodeError, ExchangeRecord, InformationNetwork, Item
from twin.services.portal.deductions import DeductionBundle, DeductionCertificate, Purpose, bundle
from twin.services.portal.people import FourItems, People, Person
from twin.services.portal.signatures import PortalRefusal, Problem, signing_bytes, verify_signed
from twin.services.store import Store

PORTAL = "portal"
ACCOUNT_REGISTER = "digital"
NOTICES = "portal.notices"  # (portal code, id) -> Notice
NOTICE_INDEX = "portal.notices.person"  # portal code -> tuple of ids
CONSENTS = "portal.consents"  # portal code -> tuple of ConsentRecord
DEDUCTIONS = "portal.deductions"  # portal code -> tuple of DeductionCertificate
META = "portal.meta"
MAX_CONSENT = dt.timedelta(days=366)
#: how the qualification book's refusals of a card-use registration map to the portal's problems
CARD_USE_PROBLEMS = {"already_registered": Problem.CONFLICT, "no_qualification": Problem.REFUSED,
                     "key_reused": Problem.REFUSED, "bad_key": Problem.MALFORMED,
                     "bad_person": Problem.MALFORMED}  # fmt: skip


@dataclass(frozen=True, slots=True)
class OwnItem:
    """One line of わたしの情報: what ``provider`` holds as ``item``, from a copy refreshed ``age`` ago."""

    provider: str
    item: str
    found: bool
    value: object
    as_of: dt.date | None
    refreshed_at: dt.datetime | None
    age: dt.timedelta | None
    refused: str | None = None  # why the network refused (e.g. not yet in force), else None


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    sender: str
    title: str
    text: str
    sent_at: dt.datetime
    read_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A consent the person signed: who received the four items, for what, when, valid until when."""

    party: str
    purpose: str
    given_at: dt.datetime
    valid_until: dt.datetime


def account_fields(action: str, account: BankAccount | None, effective: dt.date) -> dict[str, object]:
    """The fields of a signed account act (``register``, ``change`` or ``delete``), as signed."""
    acc = None if account is None else {
        "bank_code": account.bank_code, "branch_code": account.branch_code, "account_type": str(account.account_type),
        "number": account.number, "holder": account.holder,
    }  # fmt: skip
    return {"action": action, "account": acc, "effective": effective.isoformat()}


def consent_fields(party: str, purpose: str, valid_until: dt.datetime) -> dict[str, object]:
    return {"party": party, "purpose": purpose, "items": ["name", "address", "birth_date", "sex"],
            "valid_until": valid_until.isoformat()}  # fmt: skip


class MynaPortal:
    """The portal's services over the network, the JPKI centre, the people it can resolve and a store."""

    def __init__(
        self,
        store: Store,
        network: InformationNetwork,
        jpki: Jpki,
        people: People,
        accounts: PublicBenefitAccounts,
        *,
        pension_bodies: tuple[str, ...] = ("jps",),
        insurers: tuple[str, ...] = ("kyokai",),
        qualifications: QualificationBook | None = None,
    ) -> None:
        """``qualifications``: the insurers' qualification book where the card's registration as the insurance
        card is recorded (None: this portal offers no such registration)."""
        self.store, self.network, self.jpki, self.people, self.accounts = store, network, jpki, people, accounts
        self.pension_bodies, self.insurers = pension_bodies, insurers
        self.qualifications = qualifications

    # -- who -------------------------------------------------------------------------------------

    def person(self, person_ref: str) -> Person:
        p = self.people.person(person_ref)
        if p is None:
            raise PortalRefusal(Problem.NOT_FOUND, "person: the portal cannot resolve this certificate's holder")
        return p

    def person_of_serial(self, serial: int) -> Person:
        """The holder of an authentication certificate (from a login session)."""
        record = self.jpki.store.get(serial)
        if record is None or record.person_ref is None:
            raise PortalRefusal(Problem.NOT_FOUND, "session: the centre names no holder for this certificate")
        return self.person(record.person_ref)

    def code(self, person: Person) -> AgencyCode:
        """The portal's agency code for the person (from the resident-register code, never the My Number)."""
        return self.network.issuer.issue(PORTAL, person.resident_code)

    # -- わたしの情報 -------------------------------------------------------------------------------

    def own_information(self, person_ref: str, at: dt.datetime) -> list[OwnItem]:
        """Every item the portal may show, each fetched through the network (each fetch is recorded)."""
        p = self.person(person_ref)
        code = self.code(p)
        asks = [(p.municipality, i) for i in (Item.LOCAL_TAX_INCOME, Item.RESIDENT_RECORD, Item.CHILD_ALLOWANCE)]
        asks += [(b, Item.PENSION) for b in self.pension_bodies] + [(b, Item.HEALTH_INSURANCE) for b in self.insurers]
        asks.append((ACCOUNT_REGISTER, Item.BENEFIT_ACCOUNT))
        out = []
        for provider, item in asks:
            a = self.network.query(PORTAL, code, "own_information", provider, item, at)
            if isinstance(a, AnswerMessage):
                out.append(OwnItem(provider, item.value, a.found, a.value, a.as_of, a.refreshed_at, a.age))
            else:
                out.append(OwnItem(provider, item.value, False, None, None, None, None, a.reason.value))
        return out

    def exchange_records(self, person_ref: str) -> list[ExchangeRecord]:
        """やりとり履歴: every exchange about the person, oldest first."""
        return self.network.records_of(self.code(self.person(person_ref)))

    # -- お知らせ ------------------------------------------------------------------------------------

    def post_notice(self, sender: str, sender_code: AgencyCode, title: str, text: str, at: dt.datetime) -> int:
        """A body sends a notice to the person it knows as ``sender_code``; the issuer routes it."""
        try:
            code = self.network.issuer.translate(sender_code, sender, PORTAL).hex
        except CodeError as exc:
            raise PortalRefusal(Problem.NOT_FOUND, f"notice: {exc}") from None
        with self.store.transaction() as tx:
            nid = (tx.get(META, "notice") or 0) + 1  # type: ignore[operator]
            tx.put(META, "notice", nid)
            tx.put(NOTICES, (code, nid), Notice(nid, sender, title, text, at))
            tx.put(NOTICE_INDEX, code, (*(tx.get(NOTICE_INDEX, code) or ()), nid))  # type: ignore[misc]
        return nid

    def notices(self, person_ref: str) -> list[Notice]:
        code = self.code(self.person(person_ref)).hex
        ids: tuple[int, ...] = self.store.get(NOTICE_INDEX, code) or ()  # type: ignore[assignment]
        return [self.store.get(NOTICES, (code, i)) for i in reversed(ids)]  # type: ignore[misc]

    def mark_read(self, person_ref: str, notice_id: int, at: dt.datetime) -> Notice:
        code = self.code(self.person(person_ref)).hex
        with self.store.transaction() as tx:
            n: Notice | None = tx.get(NOTICES, (code, notice_id))  # type: ignore[assignment]
            if n is None:
                raise PortalRefusal(Problem.NOT_FOUND, f"notice {notice_id}: not one of yours")
            if n.read_at is None:
                n = Notice(n.id, n.sender, n.title, n.text, n.sent_at, at)
                tx.put(NOTICES, (code, notice_id), n)
        return n

    # -- 公金受取口座 --------------------------------------------------------------------------------

    def account(self, person_ref: str, on: dt.date) -> BankAccount | None:
        return self.accounts.account_on(self.person(person_ref).resident, on)

    def account_act(
        self,
        person_ref: str,
        action: str,
        account: BankAccount | None,
        effective: dt.date,
        signature: bytes,
        certificate_der: bytes,
        at: dt.datetime,
    ) -> BankAccount | None:
        """Register, change or delete the account, signed with the person's card; the register's copy follows."""
        p = self.person(person_ref)
        if action not in ("register", "change", "delete") or (account is None) != (action == "delete"):
            raise PortalRefusal(Problem.MALFORMED, f"action: {action!r} is not allowed; use register, change "
                                                   "(both with an account) or delete (without one)")  # fmt: skip
        today = japan_date(at)
        if effective < today:  # a registration holds from the day it is made: no benefit can be claimed backdated
            raise PortalRefusal(Problem.REFUSED, f"effective: {effective} is before today ({today} in Japan); an "
                                                 "account registered, changed or deleted holds from today or later")
        document = signing_bytes("public_benefit_account", account_fields(action, account, effective))
        self._check_signer(p, document, signature, certificate_der, at)
        current = self.accounts.account_on(p.resident, effective)
        if action == "register" and current is not None:
            raise PortalRefusal(Problem.CONFLICT, "account: one is already registered; change or delete it")
        if action in ("change", "delete") and current is None:
            raise PortalRefusal(Problem.CONFLICT, f"account: none registered on {effective}; register one first")
        register = self.network.agency(ACCOUNT_REGISTER)
        if account is None:
            result = self.accounts.withdraw(p.resident, effective)
            if isinstance(result, AccountProblem):
                raise PortalRefusal(Problem.REFUSED, result.message)
            register.withdraw(p.my_number, Item.BENEFIT_ACCOUNT)
            return None
        result = self.accounts.register(p.resident, account, effective)
        if isinstance(result, AccountProblem):
            raise PortalRefusal(Problem.REFUSED, result.message)
        register.publish(p.my_number, Item.BENEFIT_ACCOUNT, result.account, effective, at)
        return result.account

    # -- 健康保険証利用登録 ----------------------------------------------------------------------------

    def insurance_card(self, person_ref: str, on: dt.date) -> tuple[Qualification | None, CardUseRegistration | None]:
        """The qualification an insurer has linked to the person, current on ``on`` (None: none), and her
        registration of the card as the insurance card (None: not registered)."""
        p = self.person(person_ref)
        book = self._book()
        return book.current_for(p.person_ref, on), book.card_use(p.person_ref)

    def register_insurance_card(self, person_ref: str, serial: int, key: str, at: dt.datetime) -> CardUseRegistration:
        """健康保険証利用登録 with the card the person logged in with: the user-authentication certificate ``serial``
        must be valid at ``at`` (not expired, not revoked) and the person's own; the qualification book then
        records the registration on ``at``'s day in Japan (its rules: once per person, a linked qualification
        current that day, ``key`` idempotent). Refusals: CERTIFICATE, NOT_YOURS, CONFLICT (already registered),
        REFUSED (no qualification, a key used for another request), MALFORMED."""
        p = self.person(person_ref)
        book = self._book()
        why = self.jpki.auth_refusal(serial, at)
        if why is not None:
            raise PortalRefusal(Problem.CERTIFICATE, f"authentication certificate: {why}; log in with a valid card")
        record = self.jpki.store.get(serial)
        if record is None or record.person_ref != p.person_ref:
            raise PortalRefusal(Problem.NOT_YOURS, "authentication certificate: another person's card")
        try:
            return book.register_card_use(p.person_ref, japan_date(at), key)
        except EligibilityError as exc:
            raise PortalRefusal(CARD_USE_PROBLEMS.get(exc.code, Problem.REFUSED), f"insurance card: {exc}") from None

    def _book(self) -> QualificationBook:
        if self.qualifications is None:
            raise PortalRefusal(Problem.NOT_FOUND, "insurance card: this portal is not connected to the insurers' "
                                                   "qualification book")  # fmt: skip
        return self.qualifications

    # -- 控除証明書 ----------------------------------------------------------------------------------

    def deposit_deduction(self, person_ref: str, certificate: DeductionCertificate) -> None:
        """An insurer or bank delivers a certificate to the person's portal (マイナポータル連携)."""
        code = self.code(self.person(person_ref)).hex
        with self.store.transaction() as tx:
            tx.put(DEDUCTIONS, code, (*(tx.get(DEDUCTIONS, code) or ()), certificate))  # type: ignore[misc]

    def deductions(self, person_ref: str, year: int, purpose: Purpose) -> DeductionBundle:
        code = self.code(self.person(person_ref)).hex
        return bundle(self.store.get(DEDUCTIONS, code) or (), year, purpose)  # type: ignore[arg-type]

    # -- 基本4情報 with consent ------------------------------------------------------------------------

    def give_four_items(
        self,
        person_ref: str,
        party: str,
        purpose: str,
        valid_until: dt.datetime,
        signature: bytes,
        certificate_der: bytes,
        at: dt.datetime,
    ) -> FourItems:
        """The four items for ``party``, if the person signed a consent naming it, valid now."""
        p = self.person(person_ref)
        if not party.strip() or not purpose.strip():
            raise PortalRefusal(Problem.MALFORMED, "consent: party and purpose must be named")
        if valid_until <= at or valid_until - at > MAX_CONSENT:
            raise PortalRefusal(Problem.REFUSED, f"consent: valid_until {valid_until.isoformat()} must be after "
                                                 f"now and within {MAX_CONSENT.days} days")  # fmt: skip
        document = signing_bytes("consent_four_items", consent_fields(party, purpose, valid_until))
        self._check_signer(p, document, signature, certificate_der, at)
        code = self.code(p).hex
        with self.store.transaction() as tx:
            record = ConsentRecord(party, purpose, at, valid_until)
            tx.put(CONSENTS, code, (*(tx.get(CONSENTS, code) or ()), record))  # type: ignore[misc]
        return p.items

    def consents(self, person_ref: str) -> list[ConsentRecord]:
        return list(self.store.get(CONSENTS, self.code(self.person(person_ref)).hex) or ())  # type: ignore[call-overload]

    def _check_signer(self, p: Person, document: bytes, signature: bytes, cert: bytes, at: dt.datetime) -> None:
        signer = verify_signed(self.jpki, document, signature, cert, at)
        if signer != p.person_ref:
            raise PortalRefusal(Problem.NOT_YOURS, "signature: made with another person's card")


__all__ = ["ConsentRecord", "MynaPortal", "Notice", "OwnItem", "account_fields", "consent_fields"]
