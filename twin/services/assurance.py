"""Assurance levels (保証レベル): how sure a service is of who it is talking to, and what each route needs.

A clerk designing an online procedure asks two questions, as the Digital Agency's guideline for online
identity checks in administrative procedures tells them to (DS-500 「行政手続におけるオンラインによる本人確認の
手法に関するガイドライン」, decided by the CIO council on 2019-02-25, standard guideline 1004; its levels are
aligned with NIST SP 800-63-3): how well was this person's identity established when the credential was
issued (身元確認保証レベル, identity assurance level, IAL1-3), and how strongly does the person prove,
now, that they hold it (当人認証保証レベル, authenticator assurance level, AAL1-3). Every route of the
twin's services declares the pair it needs (:data:`ROUTES`); every authentication result carries the pair
it reached (:class:`AuthResult`); :func:`require` refuses a lower one with a message naming the level
needed.

The mapping of the four ways people authenticate here (:data:`METHODS`), with what is sourced and what
is assumed (``assumed=True``):

* **card + PIN** (マイナンバーカード, JPKI利用者証明用電子証明書 + 4-digit PIN): IAL3 / AAL3. The card is issued
  after an in-person check against photo ID at the town hall (IAL3 in DS-500 and SP 800-63A §5.5); the
  private key is generated and kept on the chip and used only after the PIN (a multi-factor
  cryptographic hardware device, SP 800-63B §4.3). DS-500 names JPKI as its example of the highest
  levels. Sourced.
* **phone + biometric unlock** (スマホ用電子証明書): IAL3 / AAL2. The identity is the card's (issuance needs
  the card's two signatures: a derived credential in the sense of NIST SP 800-157); the key is in the
  phone's secure element, unlocked by the phone's biometrics. Whether that meets AAL3's hardware and
  verifier-impersonation requirements is not confirmed in any public source found here, so AAL2 is
  **assumed** (the conservative reading). Phone + PIN is mapped the same.
* **face match at a reader** (顔認証付きカードリーダー): IAL3 / AAL2. The card's IC photo was bound at
  issuance (IAL3); at the reception the card (something you have) is matched to the face (something you
  are) by a supervised reader. SP 800-63B allows a biometric only together with a physical
  authenticator; treating the supervised pair as AAL2 is **assumed**.
* **ID and password** (IDとパスワード): IAL1 / AAL1. Self-asserted identity, one memorized secret
  (SP 800-63B §4.1, DS-500 level 1). Sourced.
* **insurance card shown at reception** (資格確認書, the eligibility check by insured number and birth
  date): IAL1 / AAL1, **assumed** (a document check without a cryptographic authenticator).

The level each route requires is a design choice of this twin, stated in :data:`ROUTES` with its reason
(assumed: the real procedures' risk assessments are not public).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

from twin.errors import TwinError


class Ial(IntEnum):
    """身元確認保証レベル (identity assurance level)."""

    IAL1 = 1
    IAL2 = 2
    IAL3 = 3


class Aal(IntEnum):
    """当人認証保証レベル (authenticator assurance level)."""

    AAL1 = 1
    AAL2 = 2
    AAL3 = 3


class Method(StrEnum):
    """How the person authenticated."""

    CARD_PIN = "card+pin"
    PHONE_BIOMETRIC = "phone+biometric"
    PHONE_PIN = "phone+pin"
    CARD_FACE = "card+face"
    PASSWORD = "id+password"
    INSURANCE_CARD = "insurance_card"


@dataclass(frozen=True)
class Mapping:
    ial: Ial
    aal: Aal
    source: str
    assumed: bool


_DS500: Final = "DS-500 (Digital Agency, 2019-02-25) with NIST SP 800-63-3"
METHODS: Final[dict[Method, Mapping]] = {
    Method.CARD_PIN: Mapping(Ial.IAL3, Aal.AAL3, f"{_DS500}: JPKI on the card; SP 800-63B §4.3", False),
    Method.PHONE_BIOMETRIC: Mapping(Ial.IAL3, Aal.AAL2, f"{_DS500}; SP 800-157 derived credential", True),
    Method.PHONE_PIN: Mapping(Ial.IAL3, Aal.AAL2, f"{_DS500}; SP 800-157 derived credential", True),
    Method.CARD_FACE: Mapping(Ial.IAL3, Aal.AAL2, f"{_DS500}; SP 800-63B §5.2.3 (biometrics)", True),
    Method.PASSWORD: Mapping(Ial.IAL1, Aal.AAL1, f"{_DS500}; SP 800-63B §4.1", False),
    Method.INSURANCE_CARD: Mapping(Ial.IAL1, Aal.AAL1, "assumed: document shown, no authenticator", True),
}


@dataclass(frozen=True)
class AuthResult:
    """One authentication: how, and the levels it reached. ``serial`` is the certificate's, if any."""

    method: Method
    ial: Ial
    aal: Aal
    serial: int | None = None
    token: str = ""  # "card", "android", "iphone", or "" when no JPKI token was used

    @classmethod
    def of(cls, method: Method | str, serial: int | None = None, token: str = "") -> AuthResult:
        try:
            m = Method(method)
        except ValueError:
            allowed = ", ".join(x.value for x in Method)
            raise AssuranceRefused(f"authentication method: {method!r} is not known; use one of {allowed}") from None
        mapping = METHODS[m]
        return cls(m, mapping.ial, mapping.aal, serial, token)

    @property
    def levels(self) -> str:
        return f"IAL{int(self.ial)}/AAL{int(self.aal)}"


@dataclass(frozen=True)
class Requirement:
    """What a route needs, and why (the reason is the twin's assumption unless it cites a source)."""

    ial: Ial
    aal: Aal
    why: str

    @property
    def levels(self) -> str:
        return f"IAL{int(self.ial)}/AAL{int(self.aal)}"


ROUTES: Final[dict[str, Requirement]] = {
    "portal.login": Requirement(Ial.IAL2, Aal.AAL2, "own tax, benefit and medical records through the linkage"),
    "portal.signed_act": Requirement(Ial.IAL3, Aal.AAL2, "registering an account or consenting is signed"),
    "eligibility.check_by_card": Requirement(Ial.IAL2, Aal.AAL2, "medical history is shared on consent"),
    "eligibility.check_by_number": Requirement(Ial.IAL1, Aal.AAL1, "the paper route: eligibility only"),
    "payout.online_application": Requirement(Ial.IAL3, Aal.AAL2, "money is paid to the applicant's account"),
    "jpki.smartphone_issuance": Requirement(Ial.IAL3, Aal.AAL3, "a new credential is derived: the card itself"),
    "private.login": Requirement(Ial.IAL2, Aal.AAL2, "a private service (bank, broker) relies on JPKI "
                                 "through a platform operator, e.g. to open an account (犯収法 online KYC)"),
}


class AssuranceRefused(TwinError, PermissionError):
    """An authentication below what the route requires (the message names the level needed)."""


def requirement(route: str) -> Requirement:
    try:
        return ROUTES[route]
    except KeyError:
        raise AssuranceRefused(f"route {route!r}: no assurance requirement is declared; known: {', '.join(ROUTES)}") \
            from None


def require(route: str, result: AuthResult) -> AuthResult:
    """``result`` if it meets ``route``'s requirement; else :class:`AssuranceRefused` naming the level needed."""
    need = requirement(route)
    short = []
    if result.ial < need.ial:
        short.append(f"identity assurance IAL{int(result.ial)} < IAL{int(need.ial)}")
    if result.aal < need.aal:
        short.append(f"authenticator assurance AAL{int(result.aal)} < AAL{int(need.aal)}")
    if short:
        raise AssuranceRefused(
            f"{route}: requires {need.levels} ({need.why}); {result.method.value} gives {result.levels} "
            f"({'; '.join(short)})"
        )
    return result


def for_certificate(cert: object, *, face_verified: bool = False, unlock: str = "pin") -> AuthResult:
    """The result of a JPKI authentication with ``cert``: card or phone by its certificate policy.

    A verifier cannot see how a phone was unlocked (the secure element signs either way); both unlock
    methods map to the same levels, so ``unlock`` (the client's statement, "pin" by default) only
    names the method in the result.
    """
    from twin.services.jpki.smartphone import TokenKind, token_kind

    kind = token_kind(cert)  # type: ignore[arg-type]
    serial = cert.serial_number  # type: ignore[attr-defined]
    if kind is TokenKind.PHONE:
        if face_verified:
            raise AssuranceRefused("face match: a smartphone certificate has no card photo to match; sign instead")
        method = Method.PHONE_BIOMETRIC if unlock == "biometric" else Method.PHONE_PIN
        return AuthResult.of(method, serial, "phone")
    return AuthResult.of(Method.CARD_FACE if face_verified else Method.CARD_PIN, serial, "card")
