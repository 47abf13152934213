"""Command APDUs and status words: the two halves of every exchange with a smart card.

A terminal talks to the card in command APDUs (CLA INS P1 P2, optional data, optional expected
length Le) and the card answers with data followed by a two-byte status word (SW1 SW2), 9000 for
success. ISO/IEC 7816-4 knows four cases (no data/no Le, Le only, data only, data and Le) in short
form (one-byte lengths) and extended form (a 00 marker and two-byte lengths).

Inside the card OS every refusal is raised as a named :class:`CardStatus` exception
(``raise SecurityStatusNotSatisfied``) and turned into bytes in one place
(:meth:`CardStatus.to_bytes`); the same table maps status words back to exceptions for clients.
"""

from __future__ import annotations

from dataclasses import dataclass

SW_OK = 0x9000


class CardStatus(Exception):
    """A non-success status word. Subclasses name the condition; ``sw`` is the two-byte value."""

    sw = 0x6F00
    meaning = "no precise diagnosis"

    def __init__(self, sw: int | None = None) -> None:
        if sw is not None:
            self.sw = sw
        super().__init__(f"SW {self.sw:04X}: {self.meaning}")

    def to_bytes(self) -> bytes:
        return self.sw.to_bytes(2, "big")


class VerificationFailed(CardStatus):
    """63Cx: wrong PIN (or a retry query), x tries left."""

    meaning = "verification failed / tries left"

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(0x63C0 | min(tries_left, 15))


class WrongLength(CardStatus):
    sw, meaning = 0x6700, "wrong length"


class LogicalChannelNotSupported(CardStatus):
    sw, meaning = 0x6881, "logical channel not supported"


class SecureMessagingNotSupported(CardStatus):
    sw, meaning = 0x6882, "secure messaging not supported"


class ChainingNotSupported(CardStatus):
    sw, meaning = 0x6884, "command chaining not supported"


class IncompatibleFileStructure(CardStatus):
    sw, meaning = 0x6981, "command incompatible with file structure"


class SecurityStatusNotSatisfied(CardStatus):
    sw, meaning = 0x6982, "security status not satisfied"


class AuthenticationMethodBlocked(CardStatus):
    sw, meaning = 0x6984, "authentication method blocked"


class ConditionsNotSatisfied(CardStatus):
    sw, meaning = 0x6985, "conditions of use not satisfied"


class NoCurrentEf(CardStatus):
    sw, meaning = 0x6986, "command not allowed (no current EF)"


class WrongData(CardStatus):
    sw, meaning = 0x6A80, "incorrect data field"


class FileNotFound(CardStatus):
    sw, meaning = 0x6A82, "file or application not found"


class IncorrectP1P2(CardStatus):
    sw, meaning = 0x6A86, "incorrect P1-P2"


class DataNotFound(CardStatus):
    sw, meaning = 0x6A88, "referenced data not found"


class WrongOffset(CardStatus):
    sw, meaning = 0x6B00, "offset outside the EF"


class InsNotSupported(CardStatus):
    sw, meaning = 0x6D00, "instruction not supported"


class ClaNotSupported(CardStatus):
    sw, meaning = 0x6E00, "class not supported"


STATUS_BY_SW: dict[int, type[CardStatus]] = {
    c.sw: c
    for c in (
        WrongLength, LogicalChannelNotSupported, SecureMessagingNotSupported, ChainingNotSupported,
        IncompatibleFileStructure, SecurityStatusNotSatisfied, AuthenticationMethodBlocked,
        ConditionsNotSatisfied, NoCurrentEf, WrongData, FileNotFound, IncorrectP1P2, DataNotFound,
        WrongOffset, InsNotSupported, ClaNotSupported,
    )
}


def is_valid_status_word(sw: int) -> bool:
    """True for 9000 and the ISO 7816-4 warning/error ranges (61xx-6Fxx except 60xx)."""
    return sw == SW_OK or 0x6100 <= sw <= 0x6FFF


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command APDU. ``ne`` is the expected response length (0 when no Le was sent)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    ne: int
    extended: bool
    has_le: bool

    @property
    def is_case1(self) -> bool:
        return not self.data and not self.has_le


def parse(apdu: bytes) -> Command:
    """Parse a short or extended command APDU; a length that does not add up is 6700."""
    n = len(apdu)
    if n < 4:
        raise WrongLength
    cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
    if n == 4:
        return Command(cla, ins, p1, p2, b"", 0, False, False)
    b0 = apdu[4]
    if n == 5:  # case 2 short
        return Command(cla, ins, p1, p2, b"", b0 or 256, False, True)
    if b0 != 0:  # short Lc
        lc = b0
        if n == 5 + lc:
            return Command(cla, ins, p1, p2, bytes(apdu[5:]), 0, False, False)
        if n == 6 + lc:
            return Command(cla, ins, p1, p2, bytes(apdu[5 : 5 + lc]), apdu[-1] or 256, False, True)
        raise WrongLength
    # extended: 00 then two bytes
    if n == 7:  # case 2 extended
        le = int.from_bytes(apdu[5:7], "big")
        return Command(cla, ins, p1, p2, b"", le or 65536, True, True)
    if n < 7:
        raise WrongLength
    lc = int.from_bytes(apdu[5:7], "big")
    if lc == 0:
        raise WrongLength
    if n == 7 + lc:
        return Command(cla, ins, p1, p2, bytes(apdu[7:]), 0, True, False)
    if n == 9 + lc:
        le = int.from_bytes(apdu[-2:], "big")
        return Command(cla, ins, p1, p2, bytes(apdu[7 : 7 + lc]), le or 65536, True, True)
    raise WrongLength


def build(
    cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None
) -> bytes:
    """Encode a command APDU, short form when it fits (``le=256`` is sent as 00)."""
    extended = len(data) > 255 or (le is not None and le > 256)
    head = bytes((cla, ins, p1, p2))
    if not extended:
        body = (bytes((len(data),)) + data) if data else b""
        tail = bytes((le & 0xFF,)) if le is not None else b""
        return head + body + tail
    body = (b"\x00" + len(data).to_bytes(2, "big") + data) if data else b""
    if le is None:
        return head + body
    tail = (le & 0xFFFF).to_bytes(2, "big")
    return head + (body + tail if data else b"\x00" + tail)
