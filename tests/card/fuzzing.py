"""Card fuzzing: a corpus of real client APDUs, a mutator, and the invariants every answer keeps.

Invariants checked after every APDU (whatever it was):

* the card answers (never raises) with at least a status word, and the status word is 9000 or a
  valid ISO 7816-4 error/warning; never 6F00 (the card OS's "internal error"), never 61xx/6Cxx;
* a retry counter never goes up, except back to its maximum by a VERIFY answered 9000; it only
  goes down by exactly one, on a VERIFY;
* no response contains 16 consecutive bytes of a private key's d, p, q, dP, dQ or qInv.
"""

from __future__ import annotations

import numpy as np

from emulators.apdu import is_valid_status_word
from emulators.card_files import PinFile
from emulators.card_os import MynaCardOS
from emulators.layouts import digest_info
from emulators.personalisation import Personalisation

_J = "D392F000260100000001"
_T = "D3921000310001010408"
_C = "D3921000310001010100"


def _v(pin: str, p2: str = "80") -> str:
    return f"0020{'00'}{p2}{len(pin):02X}{pin.encode().hex()}"


def corpus(perso: Personalisation) -> list[bytes]:
    """APDUs real clients send (docs/CARD_PROTOCOL.md §9), right PINs included."""
    di = digest_info("sha256", b"fuzz").hex()
    hexes = [
        f"00A4040C0A{_J}", f"00A4040C0A{_T}", f"00A4040C0A{_C}", "00A4040C07A0000001510000",
        "00A4040C0BA000000308000010000100", "00A40000", "00A4020C02000A", "00A4020C020001",
        "00A4020C020018", "00A4020C02001B", "00A4020C020017", "00A4020C02001A", "00A4020C020006",
        "00A4020C020011", "00A4020C020002", "00A4020C020014", "00A4020C020015",
        "00B0000004", "00B0000000", "00B0000100", "00B0000007", "00B0010700", "00B0000011",
        "00B08A0004", "00B08A040000FF", "00B081030C", "00B0820201", "00B2010C00", "00B2010400",
        "00200080", "0020008000", "00200098", "00200091",
        _v(perso.auth_pin), _v(perso.sign_password), _v(perso.input_support_pin),
        _v(perso.auth_pin, "98"), _v(perso.input_support_pin, "91"), _v("0000"), _v("ABCDEF"),
        _v(perso.collation_number_a), _v(perso.collation_number_b),
        f"802A0080{len(di) // 2:02X}{di}00", f"802A0097{len(di) // 2:02X}{di}00",
        f"802A009A{len(di) // 2:02X}{di}00", "802A028020" + "00" * 32 + "00",
        "0084000008", "00CA5F5100", "0024018004" + b"1111".hex(),
    ]
    return [bytes.fromhex(h) for h in hexes]


def secret_windows(perso: Personalisation, width: int = 16) -> set[bytes]:
    """Every ``width``-byte window of every private-key number of the card's two keys."""
    out: set[bytes] = set()
    for key in (perso.auth_key, perso.sign_key):
        n = key.private_numbers()
        for v in (n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp):
            b = v.to_bytes((v.bit_length() + 7) // 8, "big")
            out.update(b[i : i + width] for i in range(len(b) - width + 1))
    return out


def mutate(apdu: bytes, rng: np.random.Generator) -> bytes:
    """One random edit: flip/replace bytes, truncate, extend, or change a header byte."""
    b = bytearray(apdu)
    op = int(rng.integers(6))
    if op == 0 and b:
        i = int(rng.integers(len(b)))
        b[i] ^= 1 << int(rng.integers(8))
    elif op == 1 and b:
        b[int(rng.integers(len(b)))] = int(rng.integers(256))
    elif op == 2:
        del b[int(rng.integers(len(b) + 1)) :]
    elif op == 3:
        b += rng.bytes(int(rng.integers(1, 8)))
    elif op == 4 and len(b) >= 4:
        b[int(rng.integers(4))] = int(rng.integers(256))
    else:
        b = bytearray(rng.bytes(int(rng.integers(0, 40))))
    return bytes(b)


class InvariantChecker:
    """Runs APDUs on a card and asserts the invariants after each one."""

    def __init__(self, card: MynaCardOS, perso: Personalisation) -> None:
        self.card = card
        self.windows = secret_windows(perso)
        self.pins: list[PinFile] = [
            f for app in card.applications for f in app.files.values() if isinstance(f, PinFile)
        ]
        self.count = 0

    def run(self, apdu: bytes) -> bytes:
        before = [p.tries_left for p in self.pins]
        resp = self.card.execute(apdu)
        self.count += 1
        assert isinstance(resp, bytes) and len(resp) >= 2, f"{apdu.hex()}: no status word"
        sw = int.from_bytes(resp[-2:], "big")
        assert is_valid_status_word(sw), f"{apdu.hex()}: invalid SW {sw:04X}"
        assert sw != 0x6F00, f"{apdu.hex()}: internal error in the card OS"
        assert sw >> 8 not in (0x61, 0x6C), f"{apdu.hex()}: {sw:04X} needs GET RESPONSE / resend"
        is_verify = len(apdu) >= 2 and apdu[1] == 0x20
        for pin, old in zip(self.pins, before, strict=True):
            new = pin.tries_left
            if new > old:
                assert is_verify and sw == 0x9000 and new == pin.max_tries, (
                    f"{apdu.hex()}: PIN {pin.fid:04X} counter rose {old} -> {new} with SW {sw:04X}"
                )
            elif new < old:
                assert is_verify and new == old - 1, f"{apdu.hex()}: PIN {pin.fid:04X} {old} -> {new}"
            assert 0 <= new <= pin.max_tries
        body = resp[:-2]
        if len(body) >= 16:
            leaked = any(body[i : i + 16] in self.windows for i in range(len(body) - 15))
            assert not leaked, f"{apdu.hex()}: response contains private key material"
        return resp


class PinlessChecker(InvariantChecker):
    """The invariants above plus what a PIN-less card (顔認証マイナンバーカード) must never allow:

    * no signature, ever (COMPUTE DIGITAL SIGNATURE never answers 9000): no login, no signed act;
    * no PIN can be verified: the only verified references are 照合番号A and B;
    * the My Number is handed out only while 照合番号A is verified.
    """

    def __init__(self, card: MynaCardOS, perso: Personalisation) -> None:
        super().__init__(card, perso)
        from emulators.card_files import EF_COLLATION_A, EF_COLLATION_B

        self.collation_a = EF_COLLATION_A
        self.allowed = {EF_COLLATION_A, EF_COLLATION_B}
        self.my_number = perso.my_number.encode()

    def run(self, apdu: bytes) -> bytes:
        resp = super().run(apdu)
        ok = resp[-2:] == b"\x90\x00"
        assert not (ok and len(apdu) >= 2 and apdu[1] == 0x2A), f"{apdu.hex()}: a PIN-less card signed"
        assert self.card.verified <= self.allowed, f"{apdu.hex()}: verified {sorted(self.card.verified)}"
        if ok and self.my_number in resp:
            assert self.collation_a in self.card.verified, f"{apdu.hex()}: My Number without 照合番号A"
        return resp
