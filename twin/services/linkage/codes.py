"""Code issuance (符号生成): one code per person per agency, never the My Number.

Picture a town hall asking the pension service about a resident. Neither side may send the other
the resident's My Number, and neither may hold a key that would let it join its files with the
other's. So each body knows the person under its own agency-specific code (機関別符号), handed out
once when the body first enrols the person: the body looks up the resident-register code
(住民票コード, J-LIS's 11-digit key, not the My Number) on the resident-register network (住基ネット)
and the code-issuing service of the information-provision network derives the code for that body
from it. When the town hall asks, the network translates its code into the pension service's code;
only the network can do that translation.

What the real issuer does inside is not public. The twin models it as a keyed pseudorandom
permutation: a body's code is AES-256 over one 16-byte block ``(body number, resident-register code,
tag)`` under the issuer's secret. Hence:

- codes of two bodies for one person look independent without the secret (AES is a PRP: nothing
  short of the key relates the two blocks), which ``tests/services/test_linkage_codes.py`` checks
  statistically (no bit agrees more than chance, code order does not predict code order, no XOR or
  difference is shared between people);
- the issuer alone can map a code back (decrypt) and across (decrypt, re-encrypt for the other
  body), without any table; a code presented by the wrong body, or made up, decrypts to a wrong body
  number or tag and is refused.

This is the one module that holds the issuer's secret.
"""

from __future__ import annotations

import hmac
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from twin.services.registry import ResidentRegistry

RRC_DIGITS: Final = 11
_TAG: Final = 0x4B0DE5
_MODULUS: Final = 10**RRC_DIGITS


class CodeError(ValueError):
    """A code that is not one this issuer gave the presenting body (or not a code at all)."""


class ResidentCodes(Protocol):
    """住基ネット as a body sees it: the resident-register code of a person known by My Number."""

    def code_of(self, my_number: str) -> int | None: ...


class RegistryResidentCodes:
    """Resident-register codes for the residents of a :class:`ResidentRegistry`.

    J-LIS assigns each resident an 11-digit code at random; the twin derives one per resident id with
    a keyed affine permutation of ``[0, 10**11)`` (distinct for distinct residents, fixed per ``key``).
    """

    def __init__(self, registry: ResidentRegistry, key: int = 0x5EED) -> None:
        self._registry = registry
        self._a = 7_919_183 * 2 + 1  # odd and not a multiple of 5: coprime to 10**11
        self._b = (key * 2_654_435_761) % _MODULUS

    def for_resident(self, resident: int) -> int:
        return (self._a * (resident + 1) + self._b) % _MODULUS

    def code_of(self, my_number: str) -> int | None:
        resident = self._registry.find_by_my_number(my_number)
        return None if resident is None else self.for_resident(resident)


class TableResidentCodes:
    """Resident-register codes from a table ``{my_number: code}`` (a small deployment's people)."""

    def __init__(self, table: dict[str, int]) -> None:
        self._table = dict(table)

    def code_of(self, my_number: str) -> int | None:
        return self._table.get(my_number)


@dataclass(frozen=True, slots=True)
class AgencyCode:
    """A 機関別符号 as it travels: 32 hex digits, meaningless without the issuer. Never a My Number."""

    hex: str


class CodeIssuer:
    """符号生成: derives, checks and translates agency-specific codes under one secret.

    ``body_number`` maps a body id to its number (the directory's row); only numbers below 2**32 fit.
    """

    def __init__(self, secret: bytes, body_number: Callable[[str], int | None]) -> None:
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise ValueError("issuer secret: use exactly 32 random bytes (AES-256)")
        cipher = Cipher(algorithms.AES(secret), modes.ECB())  # one block per code: ECB is the PRP itself
        self._enc = cipher.encryptor()
        self._dec = cipher.decryptor()
        self._lock = threading.Lock()  # one cipher context per direction, shared by server threads
        self._body_number = body_number
        self._numbers: dict[str, int] = {}
        self._fingerprint = hmac.digest(secret, b"issuer", "sha256")[:8].hex()

    @property
    def fingerprint(self) -> str:
        """Names the secret without revealing it (to tell two issuers apart in records)."""
        return self._fingerprint

    def _number(self, body: str) -> int:
        n = self._numbers.get(body)
        if n is None:
            n = self._body_number(body)
            if n is None:
                raise CodeError(f"body {body!r}: not in the directory of bodies")
            self._numbers[body] = n
        return n

    def issue(self, body: str, resident_code: int) -> AgencyCode:
        """The code of the person with resident-register code ``resident_code`` at ``body``."""
        if not isinstance(resident_code, int) or not 0 <= resident_code < _MODULUS:
            raise CodeError(f"resident-register code: must be an integer of at most {RRC_DIGITS} digits")
        block = struct.pack(">IQI", self._number(body), resident_code, _TAG)
        with self._lock:
            return AgencyCode(self._enc.update(block).hex())

    def resident_code(self, body: str, code: AgencyCode) -> int:
        """Back from ``body``'s code to the resident-register code (the issuer alone can)."""
        try:
            raw = bytes.fromhex(code.hex)
        except (ValueError, AttributeError, TypeError):
            raise CodeError("code: not 32 hex digits") from None
        if len(raw) != 16:
            raise CodeError("code: not 32 hex digits")
        with self._lock:
            plain = self._dec.update(raw)
        number, rrc, tag = struct.unpack(">IQI", plain)
        if tag != _TAG or number != self._number(body) or rrc >= _MODULUS:
            raise CodeError(f"code: not one issued to body {body!r}")
        return rrc

    def translate(self, code: AgencyCode, from_body: str, to_body: str) -> AgencyCode:
        """``from_body``'s code for a person as ``to_body``'s code for the same person."""
        return self.issue(to_body, self.resident_code(from_body, code))
