"""Card readers (カードリーダー): the slot a terminal talks to the card through.

Whatever the hardware, a terminal application does the same few things with a reader: connect
(power the card, get its ATR), transmit command APDUs and get data + status word back, and
disconnect. :class:`Reader` is that interface; the JPKI client and ``twin card info`` use only
it, so the same code path runs against

* :class:`InProcessReader`: the emulated card OS called directly (no sockets: fast, for
  simulations with many agents and for unit tests);
* ``real_backends.pcsc.PcscReader``: any reader pcscd sees, the vpcd virtual reader holding an
  emulated card or a physical USB reader holding a real card;
* ``emulators.face_auth.FaceAuthReader``: a hospital reception's face-authentication reader
  (顔認証付きカードリーダー) wrapped around either of the above.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class ReaderError(Exception):
    """The reader itself failed: no card, not connected, the PC/SC service is gone."""


@runtime_checkable
class CardOS(Protocol):
    """What virtualsmartcard's VirtualICC drives: any object with these five methods."""

    def getATR(self) -> bytes: ...  # noqa: N802
    def powerUp(self) -> None: ...  # noqa: N802
    def powerDown(self) -> None: ...  # noqa: N802
    def reset(self) -> None: ...
    def execute(self, apdu: bytes) -> bytes: ...


@runtime_checkable
class Reader(Protocol):
    """A slot holding a card. ``transmit`` returns response data followed by SW1 SW2."""

    @property
    def name(self) -> str: ...

    def connect(self) -> bytes:
        """Power the card (if needed) and return its ATR."""
        ...

    def disconnect(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes: ...


class InProcessReader:
    """A reader whose card is a card OS object in this process: each APDU is a method call.

    Disconnecting powers the card down (as PC/SC's default disposition does), which clears its
    security state; retry counters stay on the card.
    """

    def __init__(self, card: CardOS, name: str = "in-process") -> None:
        self.card = card
        self._name = name
        self.connected = False

    @property
    def name(self) -> str:
        return self._name

    def connect(self) -> bytes:
        if not self.connected:
            self.card.powerUp()
            self.connected = True
        return self.card.getATR()

    def disconnect(self) -> None:
        if self.connected:
            self.card.powerDown()
            self.connected = False

    def transmit(self, apdu: bytes) -> bytes:
        if not self.connected:
            raise ReaderError(f"reader {self._name!r}: not connected (call connect() first)")
        return self.card.execute(apdu)

    def __enter__(self) -> InProcessReader:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()
