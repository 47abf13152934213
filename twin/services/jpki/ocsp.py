"""The OCSP responder (RFC 6960): "is certificate N of this CA still good?", thousands of times a second.

Every time a card holder logs in to the Myna Portal or a hospital reader confirms insurance
eligibility, a relying party asks the JPKI OCSP responder about one user-authentication
certificate. The responder reads the DER request, looks each CertID up in the CA's ledger and answers
good, revoked (with time and reason) or unknown, signed by a delegated responder certificate that
the CA issued for exactly this job (EKU OCSPSigning, id-pkix-ocsp-nocheck). A nonce in the request
is echoed; a request that is not a well-formed OCSPRequest gets a ``malformedRequest`` answer, never
an exception; a request only about issuers we do not run gets ``unauthorized`` (RFC 5019).

Responses are written as DER by hand around one RSA signature (cryptography's builder handles one
CertID per response only). Answers without a nonce are kept in a :class:`ResponseCache` keyed by the
CertID bytes until their ``nextUpdate``; :meth:`OcspResponder.presign` signs them ahead for a whole
population, and every revocation drops the cached answers for that serial.

A request mixing CertIDs of both CAs is answered in one response signed by the responder of the
first CA named; strict clients may reject it (the real service is asked per certificate).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from twin.services.jpki import der
from twin.services.jpki.der import DerError
from twin.services.jpki.errors import InvalidTimeError
from twin.services.jpki.keys import Signer
from twin.services.jpki.profile import CaKind, aware
from twin.services.jpki.store import CRL_REASON_CODES, IssuedCertificate

MALFORMED_REQUEST: Final = bytes.fromhex("3003 0a01 01")
INTERNAL_ERROR: Final = bytes.fromhex("3003 0a01 02")
UNAUTHORIZED: Final = bytes.fromhex("3003 0a01 06")
MAX_CERT_IDS: Final = 64
NONCE_OID: Final = der.oid("1.3.6.1.5.5.7.48.1.2")
_BASIC_OID: Final = der.oid("1.3.6.1.5.5.7.48.1.1")
_SHA256_WITH_RSA: Final = der.seq(der.oid("1.2.840.113549.1.1.11"), b"\x05\x00")
_SUCCESSFUL: Final = b"\x0a\x01\x00"
_GOOD: Final = b"\x80\x00"
_UNKNOWN: Final = b"\x82\x00"
HASHES: Final = {  # CertID hash algorithms we can match: OID TLV -> hashlib name
    der.oid("1.3.14.3.2.26"): "sha1",
    der.oid("2.16.840.1.101.3.4.2.1"): "sha256",
    der.oid("2.16.840.1.101.3.4.2.2"): "sha384",
    der.oid("2.16.840.1.101.3.4.2.3"): "sha512",
}


@dataclass(frozen=True)
class CertId:
    """One CertID of a request: its exact DER (echoed in the answer) and its fields."""

    raw: bytes
    hash_oid: bytes
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int


@dataclass(frozen=True)
class OcspRequest:
    cert_ids: tuple[CertId, ...]
    nonce_extension: bytes | None  # the whole Extension TLV, echoed as it came


def parse_request(data: bytes) -> OcspRequest:
    """Read a DER OCSPRequest; raise :class:`DerError` naming the first thing that is wrong."""
    end = len(data)
    s, e = der.expect(data, 0, end, der.SEQUENCE, "OCSPRequest")
    if e != end:
        raise DerError(f"OCSPRequest: {end - e} trailing bytes")
    ts, te = der.expect(data, s, e, der.SEQUENCE, "TBSRequest")
    if te != e:  # optionalSignature [0]: accepted, not required
        sig_tag, _, sig_end = der.read_tlv(data, te, e)
        if sig_tag != 0xA0 or sig_end != e:
            raise DerError("OCSPRequest: unexpected content after TBSRequest")
    pos = ts
    tag, vs, ve = der.read_tlv(data, pos, te)
    if tag == 0xA0:  # version [0] EXPLICIT, must be v1 (0)
        is_, ie = der.expect(data, vs, ve, der.INTEGER, "version")
        if ie != ve or der.read_integer(data, is_, ie, "version") != 0:
            raise DerError("TBSRequest: version is not v1")
        pos = ve
        tag, vs, ve = der.read_tlv(data, pos, te)
    if tag == 0xA1:  # requestorName: ignored
        pos = ve
        tag, vs, ve = der.read_tlv(data, pos, te)
    if tag != der.SEQUENCE:
        raise DerError(f"TBSRequest: expected requestList, found tag 0x{tag:02X}")
    cert_ids = _request_list(data, vs, ve)
    pos = ve
    nonce = None
    if pos < te:
        tag, vs, ve = der.read_tlv(data, pos, te)
        if tag != 0xA2 or ve != te:
            raise DerError(f"TBSRequest: unexpected tag 0x{tag:02X} after requestList")
        nonce = _nonce(data, vs, ve)
    return OcspRequest(cert_ids, nonce)


def _request_list(data: bytes, pos: int, end: int) -> tuple[CertId, ...]:
    out = []
    while pos < end:
        rs, re_ = der.expect(data, pos, end, der.SEQUENCE, "Request")
        cs, ce = der.expect(data, rs, re_, der.SEQUENCE, "CertID")
        if ce != re_:
            tag, _, xe = der.read_tlv(data, ce, re_)
            if tag != 0xA0 or xe != re_:
                raise DerError("Request: unexpected content after CertID")
        a_s, a_e = der.expect(data, cs, ce, der.SEQUENCE, "hashAlgorithm")
        o_tag, o_s, o_e = der.read_tlv(data, a_s, a_e)
        if o_tag != der.OID:
            raise DerError("hashAlgorithm: no OID")
        if o_e != a_e:
            p_tag, _, p_e = der.read_tlv(data, o_e, a_e)
            if p_tag != der.NULL or p_e != a_e:
                raise DerError("hashAlgorithm: parameters other than NULL")
        ns, ne = der.expect(data, a_e, ce, der.OCTET_STRING, "issuerNameHash")
        ks, ke = der.expect(data, ne, ce, der.OCTET_STRING, "issuerKeyHash")
        is_, ie = der.expect(data, ke, ce, der.INTEGER, "serialNumber")
        if ie != ce:
            raise DerError("CertID: unexpected content after serialNumber")
        # the CertID is the first TLV of the Request, so its DER runs from rs to ce; the OID TLV starts at a_s
        serial = der.read_integer(data, is_, ie, "serialNumber")
        out.append(CertId(data[rs:ce], data[a_s:o_e], data[ns:ne], data[ks:ke], serial))
        if len(out) > MAX_CERT_IDS:
            raise DerError(f"requestList: more than {MAX_CERT_IDS} CertIDs")
        pos = re_
    if not out:
        raise DerError("requestList: empty")
    return tuple(out)


def _nonce(data: bytes, pos: int, end: int) -> bytes | None:
    """The nonce Extension TLV among the request extensions (RFC 8954: 1-32 octets), if any."""
    es, ee = der.expect(data, pos, end, der.SEQUENCE, "requestExtensions")
    if ee != end:
        raise DerError("requestExtensions: trailing bytes")
    found = None
    while es < ee:
        xs, xe = der.expect(data, es, ee, der.SEQUENCE, "Extension")
        o_tag, o_s, o_e = der.read_tlv(data, xs, xe)
        if o_tag != der.OID:
            raise DerError("Extension: no OID")
        tag, vs, ve = der.read_tlv(data, o_e, xe)
        if tag == der.BOOLEAN:
            tag, vs, ve = der.read_tlv(data, ve, xe)
        if tag != der.OCTET_STRING or ve != xe:
            raise DerError("Extension: extnValue is not an OCTET STRING")
        if data[xs:o_e] == NONCE_OID:
            length = ve - vs
            if length >= 2 and data[vs] == der.OCTET_STRING:  # RFC 8954: Nonce ::= OCTET STRING
                try:
                    ns, ne = der.expect(data, vs, ve, der.OCTET_STRING, "nonce")
                    if ne == ve:
                        length = ne - ns
                except DerError:
                    pass
            if not 1 <= length <= 32:
                raise DerError(f"nonce: {length} octets, RFC 8954 allows 1-32")
            found = data[es:xe]
        es = xe
    return found


def cert_id(issuer: x509.Certificate, serial: int, hash_name: str = "sha1") -> bytes:
    """The DER CertID a client builds for ``serial`` under ``issuer`` (as OpenSSL does: NULL params)."""
    oid_tlv = next(k for k, v in HASHES.items() if v == hash_name)
    name_hash, key_hash = _issuer_hashes(issuer, hash_name)
    return der.seq(
        der.seq(oid_tlv, b"\x05\x00"),
        der.tlv(der.OCTET_STRING, name_hash),
        der.tlv(der.OCTET_STRING, key_hash),
        der.integer(serial),
    )


@functools.lru_cache(maxsize=64)
def _issuer_hashes(issuer: x509.Certificate, hash_name: str) -> tuple[bytes, bytes]:
    name_der = issuer.subject.public_bytes()
    key_bits = issuer.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)  # subjectPublicKey contents
    return hashlib.new(hash_name, name_der).digest(), hashlib.new(hash_name, key_bits).digest()


class ResponseCache:
    """Signed answers by CertID bytes, each served from its thisUpdate until its nextUpdate.

    An answer is about 1.5 kB (it carries the responder certificate), so a million pre-signed answers
    take about 2 GB: ``max_entries`` bounds the cache, dropping the oldest-stored answers first.
    """

    def __init__(self, max_entries: int = 1_000_000) -> None:
        if not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries: {max_entries!r} is not allowed; use an integer >= 1")
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[float, float, bytes]] = {}
        self._by_serial: dict[int, list[bytes]] = {}
        self._serial_of: dict[bytes, int] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, cert_id: bytes, now_ts: float) -> bytes | None:
        """The stored DER answer for ``cert_id`` if it is current at POSIX time ``now_ts``."""
        entry = self._entries.get(cert_id)
        if entry is not None and entry[0] <= now_ts < entry[1]:
            self.hits += 1
            return entry[2]
        self.misses += 1
        return None

    def put(self, cert_id: bytes, serial: int, this_update: float, next_update: float, response: bytes) -> None:
        if cert_id in self._entries:
            del self._entries[cert_id]  # re-inserted below: now the newest
        else:
            while len(self._entries) >= self.max_entries:
                self._drop(next(iter(self._entries)))
            self._by_serial.setdefault(serial, []).append(cert_id)
            self._serial_of[cert_id] = serial
        self._entries[cert_id] = (this_update, next_update, response)

    def invalidate(self, serial: int) -> int:
        """Forget every answer about ``serial`` (called on revocation); returns how many were dropped."""
        keys = self._by_serial.pop(serial, [])
        for key in keys:
            self._entries.pop(key, None)
            self._serial_of.pop(key, None)
        return len(keys)

    def answers_for(self, serial: int) -> list[bytes]:
        """Every stored answer about ``serial`` (for invariant checks)."""
        return [self._entries[key][2] for key in self._by_serial.get(serial, [])]

    def _drop(self, cert_id: bytes) -> None:
        del self._entries[cert_id]
        serial = self._serial_of.pop(cert_id)
        keys = self._by_serial[serial]
        keys.remove(cert_id)
        if not keys:
            del self._by_serial[serial]


@dataclass(frozen=True)
class DelegatedResponder:
    """The responder certificate a CA issued for OCSP, and the sealed key that signs with it."""

    ca: CaKind
    issuer: x509.Certificate
    certificate: x509.Certificate
    signer: Signer


class OcspResponder:
    """Answers DER OCSP requests about certificates of the CAs it serves, from the shared ledger.

    ``lookup(serial)`` returns the ledger line for a serial (or None); ``validity`` is how long an
    answer stays current (its nextUpdate - thisUpdate) and how long the cache serves it.
    """

    def __init__(
        self,
        responders: Mapping[CaKind, DelegatedResponder],
        lookup: Callable[[int], IssuedCertificate | None],
        *,
        validity: timedelta = timedelta(hours=24),
        cache_entries: int = 1_000_000,
    ) -> None:
        if not isinstance(validity, timedelta) or validity <= timedelta(0):
            raise InvalidTimeError(f"OCSP validity: {validity!r} is not allowed; use a positive timedelta")
        self.validity = validity
        self.cache = ResponseCache(cache_entries)
        self._times: tuple[datetime | None, datetime, bytes, bytes] = (None, datetime.min, b"", b"")
        self._lookup = lookup
        self._issuers: dict[tuple[bytes, bytes, bytes], CaKind] = {}
        self._signed: dict[CaKind, tuple[Signer, bytes, bytes]] = {}
        for kind, r in responders.items():
            for oid_tlv, name in HASHES.items():
                name_hash, key_hash = _issuer_hashes(r.issuer, name)
                self._issuers[(oid_tlv, name_hash, key_hash)] = kind
            spki = r.certificate.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)
            responder_id = der.tlv(0xA2, der.tlv(der.OCTET_STRING, hashlib.sha1(spki).digest()))  # byKey
            certs = der.tlv(0xA0, der.seq(r.certificate.public_bytes(Encoding.DER)))
            self._signed[kind] = (r.signer, responder_id, certs)

    def respond(self, request_der: bytes, now: datetime) -> bytes:
        """The DER OCSPResponse to ``request_der`` at ``now`` (never raises for bad request bytes)."""
        if not isinstance(now, datetime) or now.tzinfo is None:
            aware(now)  # raises the clear error
        try:
            request = parse_request(bytes(request_der))
        except (DerError, ValueError, IndexError, TypeError):
            return MALFORMED_REQUEST
        ts = now.timestamp()
        single = len(request.cert_ids) == 1 and request.nonce_extension is None
        if single:
            cached = self.cache.get(request.cert_ids[0].raw, ts)
            if cached is not None:
                return cached
        try:
            return self._answer(request, aware(now), cache=single)
        except InvalidTimeError:
            raise
        except Exception:  # a bug must not take the responder down: the client sees internalError
            return INTERNAL_ERROR

    def presign(
        self, certificates: Iterable[x509.Certificate], now: datetime, hashes: Iterable[str] = ("sha1", "sha256")
    ) -> int:
        """Sign answers ahead for ``certificates`` (SHA-1 and SHA-256 CertIDs); returns how many were stored."""
        now = aware(now)
        count = 0
        names = tuple(hashes)
        for cert in certificates:
            kind = self._kind_of(cert)
            if kind is None:
                continue
            for name in names:
                cid = self._cert_id_for(cert, kind, name)
                request = OcspRequest((cid,), None)
                self._answer(request, now, cache=True)
                count += 1
        return count

    def invalidate(self, serial: int) -> int:
        return self.cache.invalidate(serial)

    # ---- internals -------------------------------------------------------------------------
    def _kind_of(self, cert: x509.Certificate) -> CaKind | None:
        name_hash = hashlib.sha1(cert.issuer.public_bytes()).digest()
        for (oid_tlv, nh, _), kind in self._issuers.items():
            if HASHES[oid_tlv] == "sha1" and nh == name_hash:
                return kind
        return None

    def _cert_id_for(self, cert: x509.Certificate, kind: CaKind, hash_name: str) -> CertId:
        for (oid_tlv, nh, kh), k in self._issuers.items():
            if k is kind and HASHES[oid_tlv] == hash_name:
                raw = der.seq(
                    der.seq(oid_tlv, b"\x05\x00"),
                    der.tlv(der.OCTET_STRING, nh),
                    der.tlv(der.OCTET_STRING, kh),
                    der.integer(cert.serial_number),
                )
                return CertId(raw, oid_tlv, nh, kh, cert.serial_number)
        raise ValueError(f"no {hash_name} CertID for the {kind.value} CA")

    def _answer(self, request: OcspRequest, now: datetime, *, cache: bool) -> bytes:
        kinds = [self._issuers.get((c.hash_oid, c.issuer_name_hash, c.issuer_key_hash)) for c in request.cert_ids]
        signing = next((k for k in kinds if k is not None), None)
        if signing is None:
            return UNAUTHORIZED
        signer, responder_id, certs = self._signed[signing]
        if self._times[0] != now:  # a simulated second usually answers many requests: encode its times once
            next_update = now + self.validity
            produced = der.generalized_time(now)
            self._times = (now, next_update, produced, produced + der.tlv(0xA0, der.generalized_time(next_update)))
        _, next_update, produced, tail = self._times
        singles = []
        cacheable = cache
        for cid, kind in zip(request.cert_ids, kinds, strict=True):
            status = self._status(cid, kind, now)
            if status == _UNKNOWN:
                cacheable = False  # the serial may be issued later: never keep an "unknown"
            singles.append(der.seq(cid.raw, status, tail))
        body = [responder_id, produced, der.seq(*singles)]
        if request.nonce_extension is not None:
            body.append(der.tlv(0xA1, der.seq(request.nonce_extension)))
        tbs = der.seq(*body)
        signature = signer.sign_sha256(tbs)
        basic = der.seq(tbs, _SHA256_WITH_RSA, der.tlv(der.BIT_STRING, b"\x00" + signature), certs)
        response = der.seq(_SUCCESSFUL, der.tlv(0xA0, der.seq(_BASIC_OID, der.tlv(der.OCTET_STRING, basic))))
        if cacheable:
            cid = request.cert_ids[0]
            self.cache.put(cid.raw, cid.serial, now.timestamp(), next_update.timestamp(), response)
        return response

    def _status(self, cid: CertId, kind: CaKind | None, now: datetime) -> bytes:
        if kind is None:
            return _UNKNOWN
        record = self._lookup(cid.serial)
        if record is None or record.ca is not kind or record.not_before > now:
            return _UNKNOWN
        if record.revoked_by(now):
            assert record.revoked_at is not None and record.reason is not None
            info = der.generalized_time(record.revoked_at)
            code = CRL_REASON_CODES[record.reason.crl_reason]
            if code:  # unspecified: reason omitted
                info += der.tlv(0xA0, bytes((der.ENUMERATED, 1, code)))
            return der.tlv(0xA1, info)
        return _GOOD
