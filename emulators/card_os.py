"""The My Number card's operating system (個人番号カード), as a virtualsmartcard card OS.

A terminal (a PC with a reader, a hospital's face-authentication reader, a phone) powers the card
up, selects an application by its AID, selects files in it, verifies PINs and reads files or has
the card sign. This class answers those command APDUs the way real clients expect
(docs/CARD_PROTOCOL.md §10): it is a plain object with ``getATR()``, ``powerUp()``,
``powerDown()``, ``reset()`` and ``execute(apdu) -> bytes``, which is all virtualsmartcard's
``VirtualICC`` needs to put it into the vpcd virtual reader, and what the in-process reader calls
directly.

Commands are a small dispatch table keyed by (class, INS); every refusal is a named
:class:`emulators.apdu.CardStatus` turned into a status word in :meth:`MynaCardOS.execute` only.

Assumptions where the public record is silent (docs/CARD_PROTOCOL.md §11):

* PINs are compared byte for byte, with no format check: a PIN of the wrong length or charset is
  simply wrong and costs a try. CHANGE REFERENCE DATA does check the new value's format (6A80).
* An empty VERIFY answers 63Cx even right after a successful VERIFY (OpenSC needs SW1=63); a
  blocked PIN answers 63C0 to the query and 6984 to a VERIFY with data.
* Security state (verified PINs) survives EF selection and is cleared by any SELECT by AID (even
  of the same AP), reset and power-down. Retry counters live in the card and survive all of them.
* 照合番号A and 照合番号B allow 10 tries (unknown on real cards).
* Certificate files hold exactly the DER certificate (no filler); the basic-4-info file has no
  filler after its last field; READ BINARY at or past the end of a file is 6B00.
* COMPUTE DIGITAL SIGNATURE without a usable key file is 6981 (no key at the current EF) or 6A82
  (no such SFI); an input of the wrong length for its P1 is 6700; P1 > 05 is 6A86.
* No secure messaging, no logical channels, no command chaining: such CLA bits give 6882 / 6881 /
  6884; unknown INS 6D00, unknown class 6E00. No 61xx or 6Cxx is ever sent.
* Not modelled: the 券面事項確認AP and 住基AP (their AIDs answer 6A82 like any unknown AID),
  INTERNAL AUTHENTICATE, terminal authentication (80 A2), GET DATA objects other than 5F51, and
  EFs 0003-0008 of the input-support AP.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from emulators.apdu import (
    AuthenticationMethodBlocked,
    CardStatus,
    ChainingNotSupported,
    ClaNotSupported,
    Command,
    ConditionsNotSatisfied,
    DataNotFound,
    FileNotFound,
    IncompatibleFileStructure,
    IncorrectP1P2,
    InsNotSupported,
    LogicalChannelNotSupported,
    NoCurrentEf,
    SecureMessagingNotSupported,
    SecurityStatusNotSatisfied,
    VerificationFailed,
    WrongData,
    WrongLength,
    WrongOffset,
    parse,
)
from emulators.card_files import (
    ISD_AID,
    Application,
    BinaryFile,
    CardFile,
    KeyFile,
    PinFile,
    RecordFile,
    build_applications,
)
from emulators.layouts import split_digest_info
from emulators.personalisation import Personalisation

_OK = b"\x90\x00"
_PKCS1 = padding.PKCS1v15()
_PREHASHED = {
    name: utils.Prehashed(alg)
    for name, alg in (
        ("sha1", hashes.SHA1()), ("sha224", hashes.SHA224()), ("sha256", hashes.SHA256()),
        ("sha384", hashes.SHA384()), ("sha512", hashes.SHA512()),
    )
}
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_MAX_PKCS1_INPUT = 245  # 256-byte modulus minus 11 bytes of padding


class MynaCardOS:
    """One My Number card: its applications, its security state and the command handlers."""

    def __init__(self, perso: Personalisation, rng: np.random.Generator | None = None) -> None:
        # GET CHALLENGE randomness: passed in, or seeded from the card serial (deterministic)
        self._install(
            perso.atr, build_applications(perso),
            rng if rng is not None else np.random.default_rng(int(perso.identity.serial)),
        )  # fmt: skip

    def _install(self, atr: bytes, applications: list[Application], rng: np.random.Generator) -> None:
        """Set up the command table over ``applications`` (a phone's secure element reuses it)."""
        self._atr = atr
        self.applications = applications
        self._by_aid = {app.aid: app for app in self.applications}
        self._rng = rng
        self._handlers: dict[tuple[int, int], Callable[[Command], bytes]] = {
            (0x00, 0xA4): self._select,
            (0x00, 0xB0): self._read_binary,
            (0x00, 0xB2): self._read_record,
            (0x00, 0x20): self._verify,
            (0x00, 0x24): self._change_reference_data,
            (0x00, 0x84): self._get_challenge,
            (0x00, 0xCA): self._get_data,
            (0x80, 0x2A): self._compute_digital_signature,
        }
        self._clear_state()

    # -- the virtualsmartcard SmartcardOS interface ---------------------------------------------

    def getATR(self) -> bytes:  # noqa: N802 (virtualsmartcard's name)
        return self._atr

    def powerUp(self) -> None:  # noqa: N802
        self._clear_state()

    def powerDown(self) -> None:  # noqa: N802
        self._clear_state()

    def reset(self) -> None:
        self._clear_state()

    def execute(self, apdu: bytes) -> bytes:
        """Answer one command APDU with response data + status word; never raises."""
        try:
            cmd = parse(apdu)
            return self._dispatch(cmd)(cmd) + _OK
        except CardStatus as status:
            return status.to_bytes()
        except Exception:  # a bug in a handler must not kill the card: 6F00, no details
            return b"\x6f\x00"

    # -- state ------------------------------------------------------------------------------------

    def _clear_state(self) -> None:
        self.current_app: Application | None = None
        self.current_ef: CardFile | None = None
        self.verified: set[int] = set()

    def install_application(self, app: Application) -> None:
        """Issuer-side write of one AP (the licence centre's terminal): adds it, or replaces the AP of
        the same AID (a renewal). Not reachable by any APDU; clears the security state."""
        self.applications = [a for a in self.applications if a.aid != app.aid] + [app]
        self._by_aid = {a.aid: a for a in self.applications}
        self._clear_state()

    def pin(self, app_name: str, fid: int) -> PinFile:
        """The PIN file ``fid`` of an AP (for tests and inspection of retry counters)."""
        for app in self.applications:
            f = app.files.get(fid)
            if app.name == app_name and isinstance(f, PinFile):
                return f
        raise KeyError(f"no PIN file {fid:04X} in AP {app_name!r}")

    def _dispatch(self, cmd: Command) -> Callable[[Command], bytes]:
        cla = cmd.cla
        base = cla & 0xE0
        if base not in (0x00, 0x80):
            raise ClaNotSupported
        if cla & 0x03:
            raise LogicalChannelNotSupported
        if cla & 0x0C:
            raise SecureMessagingNotSupported
        if cla & 0x10:
            raise ChainingNotSupported
        handler = self._handlers.get((base, cmd.ins))
        if handler is None:
            raise InsNotSupported
        return handler

    def _file_by_sfi(self, sfi: int) -> CardFile:
        if self.current_app is None or not 1 <= sfi <= 30:
            raise FileNotFound
        f = self.current_app.by_sfi(sfi)
        if f is None:
            raise FileNotFound
        return f

    def _referenced(self, p2: int) -> CardFile:
        """P2=80: the current EF; P2=80+SFI: that EF of the current AP."""
        if p2 == 0x80:
            if self.current_ef is None:
                raise NoCurrentEf
            return self.current_ef
        if 0x81 <= p2 <= 0x9E:
            return self._file_by_sfi(p2 & 0x1F)
        raise IncorrectP1P2

    def _require(self, pins: frozenset[int]) -> None:
        if pins and pins.isdisjoint(self.verified):
            raise SecurityStatusNotSatisfied

    # -- commands ---------------------------------------------------------------------------------

    def _select(self, cmd: Command) -> bytes:
        if cmd.p2 not in (0x0C, 0x00):
            raise IncorrectP1P2
        if cmd.p1 == 0x04:  # by DF name (AID)
            if not cmd.data:
                raise WrongLength
            if cmd.data == ISD_AID:
                self._clear_state()
                return b""
            app = self._by_aid.get(cmd.data)
            if app is None:
                raise FileNotFound
            self.current_app, self.current_ef = app, None
            self.verified.clear()
            if cmd.p2 == 0x00 and cmd.has_le:
                return b"\x6f" + bytes((len(app.aid) + 2, 0x84, len(app.aid))) + app.aid
            return b""
        if cmd.p1 == 0x02:  # EF by FID under the current DF
            if len(cmd.data) != 2:
                raise WrongLength
            if self.current_app is None:
                raise FileNotFound
            f = self.current_app.files.get(int.from_bytes(cmd.data, "big"))
            if f is None:
                raise FileNotFound
            self.current_ef = f
            if cmd.p2 == 0x00 and cmd.has_le:
                size = len(f.data) if isinstance(f, BinaryFile) else 0
                body = b"\x80\x02" + size.to_bytes(2, "big") + b"\x83\x02" + cmd.data
                return b"\x62" + bytes((len(body),)) + body
            return b""
        if cmd.p1 == 0x00:  # MF: refused after reset, a no-op once an AP is selected
            if cmd.data:
                raise FileNotFound  # no EF under the MF is selectable, 3F00 included
            if self.current_app is None:
                raise IncorrectP1P2
            return b""
        raise IncorrectP1P2

    def _read_binary(self, cmd: Command) -> bytes:
        if cmd.p1 & 0x80:  # short EF identifier in P1, offset in P2
            if cmd.p1 & 0x60:
                raise IncorrectP1P2
            f = self._file_by_sfi(cmd.p1 & 0x1F)
            self.current_ef = f
            offset = cmd.p2
        else:
            if self.current_ef is None:
                raise NoCurrentEf
            f, offset = self.current_ef, (cmd.p1 << 8) | cmd.p2
        if cmd.data or not cmd.has_le:
            raise WrongLength
        if not isinstance(f, BinaryFile):
            raise IncompatibleFileStructure
        self._require(f.read_requires)
        if offset >= len(f.data):
            raise WrongOffset
        return f.data[offset : offset + cmd.ne]

    def _read_record(self, cmd: Command) -> bytes:
        if cmd.p2 & 0x07 != 0x04 or cmd.p1 == 0:
            raise IncorrectP1P2
        sfi = cmd.p2 >> 3
        if sfi:
            f = self._file_by_sfi(sfi)
            self.current_ef = f
        elif self.current_ef is None:
            raise NoCurrentEf
        else:
            f = self.current_ef
        if cmd.data or not cmd.has_le:
            raise WrongLength
        if not isinstance(f, RecordFile):
            raise IncompatibleFileStructure
        if cmd.p1 > len(f.records):
            raise CardStatus(0x6A83)  # record not found
        return f.records[cmd.p1 - 1][: cmd.ne]

    def _pin_ref(self, cmd: Command) -> PinFile:
        f = self._referenced(cmd.p2)
        if not isinstance(f, PinFile):
            raise IncompatibleFileStructure
        return f

    def _verify(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x00:
            raise IncorrectP1P2
        pin = self._pin_ref(cmd)
        if cmd.has_le:
            raise WrongLength  # e.g. the retry query sent as 00 20 00 80 00
        if not cmd.data:  # retry query: costs nothing
            raise VerificationFailed(pin.tries_left)
        if pin.tries_left == 0:
            raise AuthenticationMethodBlocked
        if pin.matches(cmd.data):
            pin.tries_left = pin.max_tries
            self.verified.add(pin.fid)
            return b""
        pin.tries_left -= 1
        self.verified.discard(pin.fid)
        raise VerificationFailed(pin.tries_left)

    def _change_reference_data(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x01:
            raise IncorrectP1P2
        pin = self._pin_ref(cmd)
        if not cmd.data or cmd.has_le:
            raise WrongLength
        if pin.tries_left == 0:
            raise AuthenticationMethodBlocked
        if pin.fid not in self.verified:
            raise SecurityStatusNotSatisfied
        if pin.new_value_ok is None:
            raise ConditionsNotSatisfied
        if not pin.new_value_ok(cmd.data):
            raise WrongData
        pin.secret = bytes(cmd.data)
        return b""

    def _get_challenge(self, cmd: Command) -> bytes:
        if cmd.p1 or cmd.p2:
            raise IncorrectP1P2
        if cmd.extended:
            raise ConditionsNotSatisfied
        if cmd.data or not cmd.has_le:
            raise WrongLength
        return self._rng.bytes(cmd.ne)

    def _get_data(self, cmd: Command) -> bytes:
        if cmd.data or not cmd.has_le:
            raise WrongLength
        if (cmd.p1, cmd.p2) == (0x5F, 0x51):  # the contact ATR without TS
            return self._atr[1:][: cmd.ne]
        raise DataNotFound

    def _compute_digital_signature(self, cmd: Command) -> bytes:
        if cmd.p1 > 0x05:
            raise IncorrectP1P2
        f = self._referenced(cmd.p2)
        if not isinstance(f, KeyFile):
            raise IncompatibleFileStructure
        if not f.usable:  # a PIN-less card's auth key: no signature without a PIN, ever
            raise ConditionsNotSatisfied
        self._require(f.use_requires)
        data = cmd.data
        if not data:
            raise WrongLength
        key = f.key
        if cmd.p1 == 0x00:  # data is the DigestInfo (or any block) to pad and sign
            if len(data) > _MAX_PKCS1_INPUT:
                raise WrongLength
            parts = split_digest_info(data)
            if parts is not None:
                return key.sign(parts[1], _PKCS1, _PREHASHED[parts[0]])
            return self._raw_pkcs1_sign(f, data)
        if cmd.p1 == 0x01:  # card hashes with SHA-256 and signs the bare hash
            return self._raw_pkcs1_sign(f, hashes_sha256(data))
        if cmd.p1 == 0x02:  # data is a SHA-256 hash: card wraps it in a DigestInfo
            if len(data) != 32:
                raise WrongLength
            return key.sign(data, _PKCS1, _PREHASHED["sha256"])
        if cmd.p1 == 0x03:  # card hashes and wraps
            return key.sign(data, _PKCS1, hashes.SHA256())
        if cmd.p1 == 0x04:  # PSS over a given SHA-256 hash
            if len(data) != 32:
                raise WrongLength
            return key.sign(data, _PSS, _PREHASHED["sha256"])
        return key.sign(data, _PSS, hashes.SHA256())  # P1=05: card hashes, PSS

    @staticmethod
    def _raw_pkcs1_sign(f: KeyFile, block: bytes) -> bytes:
        """EMSA-PKCS1-v1_5 type 1 padding of ``block`` done on the card, then the RSA private op."""
        k = f.modulus_bytes
        em = b"\x00\x01" + b"\xff" * (k - 3 - len(block)) + b"\x00" + block
        return f.raw_private_op(int.from_bytes(em, "big")).to_bytes(k, "big")


def hashes_sha256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()
