"""PC/SC card readers (pcscd) through pyscard: the real-world side of a card reader.

On a PC the card sits in a reader managed by pcscd; applications reach it through the PC/SC API.
:class:`PcscReader` is the :class:`emulators.readers.Reader` for any reader pcscd sees: the vpcd
virtual reader holding an emulated card (``twin card serve``) or a physical USB reader holding a
real My Number card. The JPKI client runs unchanged over it.
"""

from __future__ import annotations

from emulators.readers import ReaderError


def list_readers() -> list[str]:
    """Names of the readers pcscd sees (empty when none); ReaderError when pcscd is absent."""
    from smartcard.Exceptions import ListReadersException
    from smartcard.pcsc.PCSCExceptions import EstablishContextException
    from smartcard.System import readers

    try:
        return [str(r) for r in readers()]
    except (EstablishContextException, ListReadersException) as e:
        raise ReaderError(f"PC/SC service not available ({e}); is pcscd running?") from None


class PcscReader:
    """One PC/SC reader, chosen by name (exact, or a unique prefix) or the first with a card."""

    def __init__(self, name: str | None = None) -> None:
        self._wanted = name
        self._reader: object | None = None
        self._conn: object | None = None

    @property
    def name(self) -> str:
        return str(self._reader) if self._reader is not None else (self._wanted or "(any)")

    def _choose(self) -> list[object]:
        from smartcard.System import readers

        try:
            found = readers()
        except Exception as e:  # pyscard raises several unrelated types here
            raise ReaderError(f"PC/SC service not available ({e}); is pcscd running?") from None
        if not found:
            raise ReaderError("no PC/SC reader found (is pcscd running, is a reader plugged in?)")
        if self._wanted is None:
            return list(found)
        exact = [r for r in found if str(r) == self._wanted]
        matches = exact or [r for r in found if str(r).startswith(self._wanted)]
        if len(matches) != 1:
            names = ", ".join(repr(str(r)) for r in found)
            what = "no" if not matches else "more than one"
            raise ReaderError(f"reader {self._wanted!r}: {what} reader matches; readers: {names}")
        return matches

    def connect(self) -> bytes:
        from smartcard.Exceptions import CardConnectionException, NoCardException

        if self._conn is not None:
            return bytes(self._conn.getATR())  # type: ignore[attr-defined]
        problems = []
        for reader in self._choose():
            conn = reader.createConnection()  # type: ignore[attr-defined]
            try:
                conn.connect()
            except (NoCardException, CardConnectionException) as e:
                problems.append(f"{reader}: {e}")
                continue
            self._reader, self._conn = reader, conn
            return bytes(conn.getATR())
        raise ReaderError("no card: " + "; ".join(problems))

    def disconnect(self) -> None:
        if self._conn is not None:
            try:
                self._conn.disconnect()  # type: ignore[attr-defined]
            finally:
                self._conn = None

    def transmit(self, apdu: bytes) -> bytes:
        from smartcard.Exceptions import CardConnectionException

        if self._conn is None:
            raise ReaderError(f"reader {self.name!r}: not connected (call connect() first)")
        try:
            data, sw1, sw2 = self._conn.transmit(list(apdu))  # type: ignore[attr-defined]
        except CardConnectionException as e:
            raise ReaderError(f"reader {self.name!r}: transmit failed ({e})") from None
        return bytes(data) + bytes((sw1, sw2))

    def __enter__(self) -> PcscReader:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()
