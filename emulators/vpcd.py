"""Putting the emulated card into the virtual reader (vpcd) of pcscd.

vsmartcard's vpcd is a pcscd reader driver that listens on a TCP port (35963 by default, see
/etc/reader.conf.d/vpcd); a virtual card (vicc) connects to it, and from then on every PC/SC
application — OpenSC, pyscard, a browser's middleware — sees a card in the reader "Virtual PCD
00 00". virtualsmartcard's :class:`VirtualICC` runs that side of the socket; this module hands it
a :class:`emulators.card_os.MynaCardOS` instead of one of its built-in card types.

VirtualICC logs every response APDU at INFO level; responses carry the My Number, so those
records are dropped here before any handler sees them.
"""

from __future__ import annotations

import logging
import select
import socket

from emulators.readers import CardOS

DEFAULT_PORT = 35963
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class _NoApduRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "APDU" not in str(record.msg)


def _virtual_icc_class() -> type:
    from virtualsmartcard.VirtualSmartcard import VirtualICC

    class CardInVpcd(VirtualICC):
        """VirtualICC with a given card OS, connected to vpcd at host:port (normal mode)."""

        def __init__(self, card: CardOS, host: str, port: int) -> None:  # no super(): no CardGenerator
            self.os = card
            self.type = "myna"
            self.host, self.port = host, port
            self.server_sock = None
            self.sock = self.connectToPort(host, port)
            self.sock.settimeout(None)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _VirtualICC__recvFromVPICC(self) -> tuple[int, bytes | None]:  # noqa: N802
            """One vpcd message (2-byte length, then the body), read completely.

            vpcd writes the length and the APDU separately; acknowledging at once keeps its
            Nagle algorithm from holding the APDU for our delayed ACK (about 40 ms a command).
            """
            size = int.from_bytes(self._read_exactly(2), "big")
            return size, (self._read_exactly(size) if size else None)

        def _read_exactly(self, n: int) -> bytes:
            buf = bytearray()
            while len(buf) < n:
                if _QUICKACK is not None:
                    self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                chunk = self.sock.recv(n - len(buf))
                if not chunk:
                    raise OSError("vpcd closed the connection")
                buf += chunk
            return bytes(buf)

    return CardInVpcd


DEFAULT_CONTACT_TIMEOUT_S = 10.0


class SlotBusyError(ConnectionError):
    """vpcd accepted the TCP connection but serves another card: its one slot is taken."""


def attach(
    card: CardOS,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    contact_timeout_s: float = DEFAULT_CONTACT_TIMEOUT_S,
) -> object:
    """Connect ``card`` to vpcd; returns the VirtualICC (call ``.run()`` to serve, ``.stop()``).

    vpcd has one card slot per port. While a card holds it, the kernel still completes a second
    card's TCP connection (it waits in the listen backlog), but vpcd never talks to it, and PC/SC
    clients keep seeing the first card. So the card counts as inserted only once vpcd has spoken
    to it: pcscd polls its readers several times a second, and vpcd asks a newly accepted card for
    its ATR at the next poll. No word within ``contact_timeout_s``: :class:`SlotBusyError`.
    """
    logging.getLogger().addFilter(_NoApduRecords())
    try:
        icc = _virtual_icc_class()(card, host, port)
    except OSError as e:
        raise ConnectionError(
            f"cannot reach vpcd at {host}:{port} ({e.strerror or e}); is pcscd running with the "
            f"vpcd driver listening on port {port} (/etc/reader.conf.d/vpcd)?"
        ) from None
    readable, _, _ = select.select([icc.sock], [], [], contact_timeout_s)
    if not readable:
        icc.sock.close()
        raise SlotBusyError(
            f"vpcd at {host}:{port} accepted the connection but did not talk to this card within "
            f"{contact_timeout_s:g} s: another card holds its slot (stop that `twin card serve` or vicc "
            "first), or pcscd is not polling the reader"
        )
    return icc


def serve(card: CardOS, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve ``card`` in vpcd until pcscd closes the connection (or SIGTERM/Ctrl-C)."""
    icc = attach(card, host, port)
    try:
        icc.run()  # type: ignore[attr-defined]
    except (OSError, SystemExit, KeyboardInterrupt):
        pass
    finally:
        icc.stop()  # type: ignore[attr-defined]
