"""Just enough DER to read an OCSP request and write an OCSP response by hand.

An OCSP responder on a busy day answers thousands of "is this certificate still good?" questions a
second, and each answer is a small, rigid ASN.1 structure around one RSA signature. General ASN.1
libraries spend more time than the signature itself; this module reads and writes the handful of
TLVs the responder needs (X.690 DER: definite lengths, minimal encodings) and raises
:class:`DerError`, which the responder turns into a ``malformedRequest`` answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

SEQUENCE: Final = 0x30
OCTET_STRING: Final = 0x04
INTEGER: Final = 0x02
OID: Final = 0x06
NULL: Final = 0x05
BOOLEAN: Final = 0x01
ENUMERATED: Final = 0x0A
BIT_STRING: Final = 0x03
GENERALIZED_TIME: Final = 0x18


class DerError(ValueError):
    """Bytes that are not the DER structure expected at this place."""


def read_tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The TLV at ``pos``: (tag, value start, value end). Single-byte tags, definite lengths only."""
    if pos + 2 > end:
        raise DerError(f"truncated TLV at offset {pos}")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DerError(f"multi-byte tag at offset {pos}")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise DerError(f"indefinite length at offset {pos - 2} (not DER)")
        if count > 4 or pos + count > end:
            raise DerError(f"bad length of {count} bytes at offset {pos - 2}")
        length = int.from_bytes(buf[pos : pos + count], "big")
        if length < 0x80 or buf[pos] == 0:
            raise DerError(f"non-minimal length at offset {pos - 2} (not DER)")
        pos += count
    if pos + length > end:
        raise DerError(f"length {length} at offset {pos} runs past the end ({end})")
    return tag, pos, pos + length


def expect(buf: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """The value (start, end) of the TLV at ``pos``, which must carry ``tag``."""
    got, start, stop = read_tlv(buf, pos, end)
    if got != tag:
        raise DerError(f"{what}: expected tag 0x{tag:02X}, found 0x{got:02X} at offset {pos}")
    return start, stop


def read_integer(buf: bytes, start: int, stop: int, what: str) -> int:
    if stop == start:
        raise DerError(f"{what}: empty INTEGER")
    return int.from_bytes(buf[start:stop], "big", signed=True)


def length_bytes(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + length_bytes(len(value)) + value


def seq(*parts: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(parts))


def integer(n: int) -> bytes:
    return tlv(INTEGER, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def generalized_time(moment: datetime) -> bytes:
    """GeneralizedTime ``YYYYMMDDHHMMSSZ`` (UTC, whole seconds), as RFC 5280 and RFC 6960 require."""
    utc = moment.astimezone(UTC)
    return tlv(GENERALIZED_TIME, utc.strftime("%Y%m%d%H%M%SZ").encode("ascii"))
