"""The life of one My Number card (個人番号カード), from application to the day it is handed back.

A resident applies (交付申請); J-LIS produces the card, whose chip makes its two key pairs, and the
JPKI centre certifies them; the card travels to the municipality; at the counter the resident sets
three secrets and takes the card home (交付). Later the card may be reported lost (紛失届) or
suspended (一時停止), found again, have its PINs reset at the counter after too many wrong tries,
get fresh certificates (電子証明書の更新, every five birthdays) or be replaced, handed back (返納),
or end with its holder's death or its expiry date.

:class:`CardLifecycle` is that story as a small state machine: every action names the states it is
allowed from (:data:`TRANSITIONS`), anything else is a :class:`ForbiddenTransitionError`, and each
action that ends a certificate's meaning revokes it through :class:`~twin.services.jpki.Jpki`.
Time always comes in as ``now``. PINs are checked and forgotten: the service never stores them and
no error message repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from twin.errors import TwinError
from twin.services.jpki import BasicInfo, Jpki, RevocationReason
from twin.services.jpki.profile import age_on, aware, japan_date, municipality, nth_birthday_after

#: 顔認証マイナンバーカード (no PIN set; face authentication or a visual check only, no signature
#: certificate): from 令和5年12月15日 (municipal notices, e.g. city.minamata.lg.jp/kiji0033534;
#: docs/CARD_PROTOCOL.md §13)
PINLESS_CARD_START: Final = date(2023, 12, 15)
ADULT_AGE: Final = 20  # card valid to the 10th birthday from 20 (the 2022 age-18 change is not modelled)


class CardError(TwinError, ValueError):
    """Base of the card lifecycle's refusals."""


class ForbiddenTransitionError(CardError):
    """An action asked of a card in a state it is not allowed from."""


class InvalidPinError(CardError):
    """A PIN or password that breaks its rule (the message states the rule, never the PIN)."""


class UnknownCardError(CardError):
    """A card id that was never issued."""


class CardState(StrEnum):
    APPLIED = "applied"  # 交付申請受付
    PRODUCED = "produced"  # 製造済: keys on the chip, certificates issued
    SHIPPED = "shipped"  # 市区町村へ送付済
    ACTIVE = "active"  # 交付済
    SUSPENDED = "suspended"  # 一時停止 (lost or suspended; certificates revoked)
    RETIRED = "retired"  # 廃止: returned, replaced, expired or holder deceased


_LIVE = frozenset({CardState.ACTIVE, CardState.SUSPENDED})
TRANSITIONS: Final[dict[str, tuple[frozenset[CardState], CardState | None]]] = {
    # action: (allowed from, to; None = stays where it is)
    "produce": (frozenset({CardState.APPLIED}), CardState.PRODUCED),
    "ship": (frozenset({CardState.PRODUCED}), CardState.SHIPPED),
    "hand_over": (frozenset({CardState.SHIPPED}), CardState.ACTIVE),
    "report_loss": (frozenset({CardState.ACTIVE}), CardState.SUSPENDED),
    "suspend": (frozenset({CardState.ACTIVE}), CardState.SUSPENDED),
    "resume": (frozenset({CardState.SUSPENDED}), CardState.ACTIVE),
    "reset_pin": (frozenset({CardState.ACTIVE}), None),
    "lock_pin": (frozenset({CardState.ACTIVE}), None),
    "renew_certificates": (frozenset({CardState.ACTIVE}), None),
    "change_basic_info": (_LIVE | {CardState.APPLIED, CardState.PRODUCED, CardState.SHIPPED}, None),
    "return_card": (_LIVE | {CardState.SHIPPED}, CardState.RETIRED),
    "record_death": (frozenset(CardState) - {CardState.RETIRED}, CardState.RETIRED),
    "replace": (_LIVE, CardState.RETIRED),
    "expire": (_LIVE, CardState.RETIRED),
}

PIN_KINDS: Final = ("auth", "sign", "support")
_DIGITS4 = re.compile(r"[0-9]{4}")
_SIGN_PASSWORD = re.compile(r"[A-Z0-9]{6,16}")


def check_auth_pin(pin: object, what: str = "auth PIN (利用者証明用暗証番号)") -> str:
    """4 digits. Raises :class:`InvalidPinError` stating the rule, not the PIN."""
    if not isinstance(pin, str):
        raise InvalidPinError(f"{what}: must be a string of 4 digits, got {type(pin).__name__}")
    if not _DIGITS4.fullmatch(pin):
        raise InvalidPinError(f"{what}: must be exactly 4 digits 0-9 (got {len(pin)} characters, value not shown)")
    return pin


def check_support_pin(pin: object) -> str:
    """The input-support PIN (券面事項入力補助用暗証番号): 4 digits."""
    return check_auth_pin(pin, "input-support PIN (券面事項入力補助用暗証番号)")


def check_sign_password(password: object) -> str:
    """6-16 characters of A-Z and 0-9 with at least one letter and one digit (署名用パスワード)."""
    what = "signature password (署名用パスワード)"
    if not isinstance(password, str):
        raise InvalidPinError(f"{what}: must be a string, got {type(password).__name__}")
    if not 6 <= len(password) <= 16:
        raise InvalidPinError(f"{what}: must be 6-16 characters (got {len(password)}, value not shown)")
    if not _SIGN_PASSWORD.fullmatch(password):
        raise InvalidPinError(f"{what}: only upper-case letters A-Z and digits 0-9 are allowed (value not shown)")
    if password.isdigit() or password.isalpha():
        raise InvalidPinError(f"{what}: needs at least one letter and at least one digit (value not shown)")
    return password


def card_expiry(birth_date: date, issued: date) -> date:
    """10th birthday after issuance for holders 20 or older on the issue date, 5th for younger ones."""
    n = 10 if age_on(birth_date, issued) >= ADULT_AGE else 5
    return nth_birthday_after(birth_date, issued, n)


@dataclass(frozen=True)
class CardEvent:
    at: datetime
    action: str
    before: CardState
    after: CardState


@dataclass(frozen=True)
class Card:
    """One card as the municipality's system records it (no PINs, no keys, no My Number)."""

    card_id: str
    person_ref: str
    info: BasicInfo
    municipality_code: int
    state: CardState
    applied_at: datetime
    issued_on: date | None = None
    expires_on: date | None = None
    auth_serial: int | None = None
    sign_serial: int | None = None
    locked_pins: frozenset[str] = frozenset()
    replaces: str | None = None
    retired_because: str | None = None
    pinless: bool = False  # 顔認証マイナンバーカード: no PIN, no signature certificate
    history: tuple[CardEvent, ...] = field(default=(), repr=False)


class CardLifecycle:
    """All cards of a country (or a municipality), moved only along :data:`TRANSITIONS`."""

    def __init__(self, jpki: Jpki) -> None:
        self.jpki = jpki
        self._cards: dict[str, Card] = {}
        self._counter = 0

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards.values())

    def card(self, card_id: str) -> Card:
        try:
            return self._cards[card_id]
        except KeyError:
            raise UnknownCardError(f"card {card_id!r}: no such card") from None

    def cards_of(self, person_ref: str) -> list[Card]:
        return [c for c in self._cards.values() if c.person_ref == person_ref]

    # ---- the happy path --------------------------------------------------------------------
    def apply(
        self,
        person_ref: str,
        info: BasicInfo,
        municipality_code: int,
        now: datetime,
        *,
        replaces: str | None = None,
        pinless: bool = False,
    ) -> Card:
        """交付申請: a new card for ``person_ref`` (``replaces`` names a card it will supersede).

        ``pinless``: the PIN-less face-authentication card, offered from :data:`PINLESS_CARD_START`.
        """
        now = aware(now)
        if pinless and japan_date(now) < PINLESS_CARD_START:
            raise CardError(
                f"pinless: the PIN-less card is issued from {PINLESS_CARD_START.isoformat()}, "
                f"not on {japan_date(now).isoformat()}"
            )
        if not isinstance(person_ref, str) or not person_ref:
            raise CardError("person_ref: a non-empty opaque id is required (never a My Number)")
        if not isinstance(info, BasicInfo):
            raise CardError(f"info: a BasicInfo is required, got {type(info).__name__}")
        if replaces is not None and self.card(replaces).person_ref != person_ref:
            raise CardError(f"replaces: card {replaces!r} belongs to someone else")
        code = municipality(municipality_code)
        self._counter += 1
        card = Card(
            f"C{self._counter:011d}", person_ref, info, code, CardState.APPLIED, now, replaces=replaces, pinless=pinless
        )
        self._cards[card.card_id] = card
        return card

    def produce(self, card_id: str, now: datetime, auth_public_key: object, sign_public_key: object = None) -> Card:
        """製造: the chip's keys are certified; no signature certificate under 15 (or without a sign key)."""
        now = aware(now)
        card = self._check(card_id, "produce")
        if card.pinless and sign_public_key is not None:
            raise CardError(f"card {card_id}: a PIN-less card carries no signature certificate; pass no sign key")
        issued = japan_date(now)
        auth = self.jpki.issue_auth_certificate(
            auth_public_key, card.info.birth_date, now, card.municipality_code, person_ref=card.person_ref
        )
        sign = None
        if sign_public_key is not None and age_on(card.info.birth_date, issued) >= 15:
            sign = self.jpki.issue_sign_certificate(
                sign_public_key, card.info, now, card.municipality_code, person_ref=card.person_ref
            )
        return self._move(
            card, "produce", now,
            issued_on=issued, expires_on=card_expiry(card.info.birth_date, issued),
            auth_serial=auth.serial_number, sign_serial=None if sign is None else sign.serial_number,
        )  # fmt: skip

    def ship(self, card_id: str, now: datetime) -> Card:
        """送付: the card leaves J-LIS for the municipality."""
        return self._move(self._check(card_id, "ship"), "ship", aware(now))

    def hand_over(
        self, card_id: str, now: datetime, *, auth_pin: str, support_pin: str, sign_password: str | None = None
    ) -> Card:
        """交付: the holder sets the PINs at the counter; a replaced card retires now (its certs superseded)."""
        now = aware(now)
        card = self._check(card_id, "hand_over")
        check_auth_pin(auth_pin)
        check_support_pin(support_pin)
        if card.sign_serial is not None or sign_password is not None:
            check_sign_password(sign_password)
        if card.replaces is not None:
            old = self.card(card.replaces)
            if old.state in _LIVE:
                self._retire(old, "replace", now, RevocationReason.RENEWAL, "replaced")
        return self._move(card, "hand_over", now)

    # ---- trouble -------------------------------------------------------------------------------
    def report_loss(self, card_id: str, now: datetime) -> Card:
        """紛失届: the card is suspended and both certificates are revoked (reason: loss)."""
        now = aware(now)
        card = self._check(card_id, "report_loss")
        self._revoke_certificates(card, RevocationReason.LOSS, now)
        return self._move(card, "report_loss", now)

    def suspend(self, card_id: str, now: datetime) -> Card:
        """一時停止: as a loss report, for other reasons; the certificates are revoked."""
        now = aware(now)
        card = self._check(card_id, "suspend")
        self._revoke_certificates(card, RevocationReason.SUSPENSION, now)
        return self._move(card, "suspend", now)

    def resume(self, card_id: str, now: datetime) -> Card:
        """一時停止解除: the card works again; its revoked certificates need :meth:`renew_certificates`."""
        return self._move(self._check(card_id, "resume"), "resume", aware(now))

    def lock_pin(self, card_id: str, which: str, now: datetime) -> Card:
        """The card reports a PIN blocked after too many wrong tries."""
        if self.card(card_id).pinless:
            raise CardError(f"card {card_id}: a PIN-less card has no PIN to lock")
        card = self._check(card_id, "lock_pin")
        return self._move(card, "lock_pin", aware(now), locked_pins=card.locked_pins | {_pin_kind(which)})

    def reset_pin(self, card_id: str, which: str, new_pin: str, now: datetime) -> Card:
        """暗証番号の再設定 at the counter: a new PIN that follows its rule, retry counter restored."""
        kind = _pin_kind(which)
        if self.card(card_id).pinless:
            raise CardError(f"card {card_id}: a PIN-less card has no PIN to reset (apply for a card with PINs)")
        card = self._check(card_id, "reset_pin")
        if kind == "sign" and card.sign_serial is None:
            raise CardError(f"card {card_id}: has no signature certificate, so no signature password to reset")
        {"auth": check_auth_pin, "support": check_support_pin, "sign": check_sign_password}[kind](new_pin)
        return self._move(card, "reset_pin", aware(now), locked_pins=card.locked_pins - {kind})

    def renew_certificates(
        self, card_id: str, now: datetime, auth_public_key: object, sign_public_key: object = None
    ) -> Card:
        """電子証明書の更新: live certificates are superseded, new ones issued until the next 5th birthday."""
        now = aware(now)
        card = self._check(card_id, "renew_certificates")
        if card.pinless and sign_public_key is not None:
            raise CardError(f"card {card_id}: a PIN-less card carries no signature certificate; pass no sign key")
        self._revoke_certificates(card, RevocationReason.RENEWAL, now)
        auth = self.jpki.issue_auth_certificate(
            auth_public_key, card.info.birth_date, now, card.municipality_code, person_ref=card.person_ref
        )
        sign = None
        if sign_public_key is not None and age_on(card.info.birth_date, japan_date(now)) >= 15:
            sign = self.jpki.issue_sign_certificate(
                sign_public_key, card.info, now, card.municipality_code, person_ref=card.person_ref
            )
        return self._move(
            card, "renew_certificates", now,
            auth_serial=auth.serial_number, sign_serial=None if sign is None else sign.serial_number,
        )  # fmt: skip

    def change_basic_info(self, card_id: str, info: BasicInfo, now: datetime) -> Card:
        """A move or a new name: the signature certificate lapses automatically (the auth one stays)."""
        now = aware(now)
        if not isinstance(info, BasicInfo):
            raise CardError(f"info: a BasicInfo is required, got {type(info).__name__}")
        card = self._check(card_id, "change_basic_info")
        revoked = set(self.jpki.on_basic_info_changed(card.person_ref, now))
        sign_serial = None if card.sign_serial in revoked else card.sign_serial
        return self._move(card, "change_basic_info", now, info=info, sign_serial=sign_serial)

    # ---- endings -------------------------------------------------------------------------------
    def return_card(self, card_id: str, now: datetime) -> Card:
        """返納: the holder hands the card back; certificates revoked (cessation of operation)."""
        now = aware(now)
        return self._retire(self._check(card_id, "return_card"), "return_card", now, RevocationReason.CARD_RETURN,
                            "returned")  # fmt: skip

    def record_death(self, person_ref: str, now: datetime) -> list[Card]:
        """死亡: every card of the person retires and every live certificate is revoked."""
        now = aware(now)
        done = [
            self._retire(c, "record_death", now, RevocationReason.DEATH, "death")
            for c in self.cards_of(person_ref)
            if c.state is not CardState.RETIRED
        ]
        self.jpki.revoke_person(person_ref, RevocationReason.DEATH, now)
        return done

    def expire_due(self, now: datetime) -> list[Card]:
        """Retire every live card whose expiry date has passed (in Japan) at ``now``."""
        now = aware(now)
        today = japan_date(now)
        due = [c for c in self._cards.values() if c.state in _LIVE and c.expires_on and c.expires_on < today]
        return [self._retire(c, "expire", now, None, "expired") for c in due]

    # ---- machinery -----------------------------------------------------------------------------
    def _check(self, card_id: str, action: str) -> Card:
        card = self.card(card_id)
        allowed, _ = TRANSITIONS[action]
        if card.state not in allowed:
            names = ", ".join(sorted(s.value for s in allowed))
            raise ForbiddenTransitionError(
                f"card {card_id}: cannot {action.replace('_', ' ')} a card that is {card.state.value}; "
                f"allowed from: {names}"
            )
        return card

    def _move(self, card: Card, action: str, now: datetime, **changes: object) -> Card:
        _, target = TRANSITIONS[action]
        after = card.state if target is None else target
        event = CardEvent(now, action, card.state, after)
        updated = replace(card, state=after, history=(*card.history, event), **changes)  # type: ignore[arg-type]
        self._cards[card.card_id] = updated
        return updated

    def _retire(self, card: Card, action: str, now: datetime, reason: RevocationReason | None, why: str) -> Card:
        if reason is not None:
            self._revoke_certificates(card, reason, now)
        return self._move(card, action, now, retired_because=why)

    def _revoke_certificates(self, card: Card, reason: RevocationReason, now: datetime) -> list[int]:
        done = []
        for serial in (card.auth_serial, card.sign_serial):
            if serial is None:
                continue
            record = self.jpki.store.get(serial)
            # a ledger that lost the card's issuance (a takeover after asynchronous replication) may
            # have handed the serial to someone else since: never revoke another person's certificate
            if record is None or record.person_ref != card.person_ref:
                continue
            if record.revoked_at is None and record.not_after >= now:
                self.jpki.revoke(serial, reason, now)
                done.append(serial)
        return done


def _pin_kind(which: object) -> str:
    if which not in PIN_KINDS:
        raise CardError(f"PIN kind: {which!r} is not allowed; use one of {', '.join(PIN_KINDS)}")
    return str(which)
