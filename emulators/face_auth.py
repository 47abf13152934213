"""The face-authentication card reader at a hospital reception (顔認証付きカードリーダー).

For online eligibility confirmation (オンライン資格確認) a patient puts the My Number card on the
reader at the reception; the reader reads the user-authentication certificate (no PIN needed),
photographs the patient and compares the face with the card's photo. If the faces match, the
certificate goes to the eligibility service with the reader's word for the identity. If they do
not match (after a retry or two), the patient keys the 4-digit auth PIN on the reader's pad and
the card signs a challenge with its auth key, as with any PIN-based JPKI login; a mistyped PIN
costs a try on the card like anywhere else.

:class:`FaceAuthReader` wraps any :class:`emulators.readers.Reader` (in-process or PC/SC) and is
itself a Reader. The face match is a model: its success rate and every step's duration are
explicit parameters, the randomness comes from a numpy Generator passed in, and the result says
how many seconds the reception spent, for a simulation to wait (this module knows nothing of
SimPy). The card operations are real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from emulators.jpki_client import Blocked, JpkiClient, WrongPin
from emulators.readers import Reader


@dataclass(frozen=True)
class FaceAuthParameters:
    """How the reception behaves. Probabilities in [0, 1], durations in seconds (>= 0)."""

    match_rate: float  # one face capture matches the card photo
    face_seconds: float  # one capture and comparison
    card_seconds: float  # placing the card and reading the certificate
    pin_seconds: float  # keying one PIN entry and the card's answer
    max_face_attempts: int = 2
    max_pin_attempts: int = 3
    pin_error_rate: float = 0.0  # the patient mistypes one PIN entry
    #: someone else's face is accepted on one capture. Assumed, range 1e-6 .. 1e-3 (no public figure
    #: for the reception readers; 1e-4 is the order vendors state for 1:1 face verification)
    false_accept_rate: float = 1e-4

    def __post_init__(self) -> None:
        for name in ("match_rate", "pin_error_rate", "false_accept_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}: {v!r} is not a probability in [0, 1]")
        for name in ("face_seconds", "card_seconds", "pin_seconds"):
            v = getattr(self, name)
            if not v >= 0.0:
                raise ValueError(f"{name}: {v!r} is not a duration >= 0 seconds")
        for name in ("max_face_attempts", "max_pin_attempts"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}: {v!r} is not an integer >= 0")


@dataclass(frozen=True)
class FaceAuthOutcome:
    """How one patient's identity was confirmed (or not) and how long it took."""

    method: Literal["face", "pin", "failed"]
    seconds: float
    face_attempts: int
    pin_attempts: int
    certificate: bytes  # the auth certificate read from the card
    signature: bytes | None  # over SHA-256 of the challenge, on the PIN path only
    reason: str = ""


class FaceAuthReader:
    """A face-authentication reader around ``reader``; also usable as a plain Reader."""

    def __init__(self, reader: Reader, params: FaceAuthParameters, rng: np.random.Generator) -> None:
        self.reader = reader
        self.params = params
        self.rng = rng

    @property
    def name(self) -> str:
        return f"face-auth({self.reader.name})"

    def connect(self) -> bytes:
        return self.reader.connect()

    def disconnect(self) -> None:
        self.reader.disconnect()

    def transmit(self, apdu: bytes) -> bytes:
        return self.reader.transmit(apdu)

    def confirm_identity(self, pin: str | None, challenge: bytes, *, impostor: bool = False) -> FaceAuthOutcome:
        """One patient at the reception: face first, then the PIN (``None``: the patient does
        not know it, or the card has none). The card is connected for the visit and disconnected
        afterwards. ``impostor``: the person at the reader is not the card's holder, so a capture
        matches only at ``false_accept_rate`` (the PIN, if typed, is still checked by the card)."""
        p = self.params
        self.reader.connect()
        try:
            client = JpkiClient(self.reader)
            certificate = client.read_certificate_der("auth")
            seconds = p.card_seconds
            for attempt in range(1, p.max_face_attempts + 1):
                seconds += p.face_seconds
                if self.rng.random() < (p.false_accept_rate if impostor else p.match_rate):
                    return FaceAuthOutcome("face", seconds, attempt, 0, certificate, None)
            face_attempts = p.max_face_attempts
            if pin is None:
                return FaceAuthOutcome(
                    "failed", seconds, face_attempts, 0, certificate, None, "face not matched, no PIN"
                )
            for attempt in range(1, p.max_pin_attempts + 1):
                seconds += p.pin_seconds
                typed = _mistyped(pin) if self.rng.random() < p.pin_error_rate else pin
                try:
                    client.verify("auth", typed)
                except WrongPin:
                    continue
                except Blocked:
                    return FaceAuthOutcome(
                        "failed", seconds, face_attempts, attempt, certificate, None, "PIN blocked"
                    )
                signature = client.sign(challenge, "auth")
                return FaceAuthOutcome("pin", seconds, face_attempts, attempt, certificate, signature)
            return FaceAuthOutcome(
                "failed", seconds, face_attempts, p.max_pin_attempts, certificate, None, "wrong PIN"
            )
        finally:
            self.reader.disconnect()


def _mistyped(pin: str) -> str:
    """A plausible slip: the last digit one off (always differs from the PIN)."""
    last = pin[-1]
    return pin[:-1] + (str((int(last) + 1) % 10) if last.isdigit() else "0")
