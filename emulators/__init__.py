"""Emulated My Number cards (個人番号カード) and the readers terminals use to talk to them.

The first lines a caller needs::

    from emulators import InProcessReader, JpkiClient, MynaCardOS, Personalisation
    card = MynaCardOS(Personalisation.load("card.json"))
    with InProcessReader(card) as reader:
        certificate, signature = JpkiClient(reader).authenticate(pin, b"challenge")

Modules: :mod:`.card_os` (the card OS, a virtualsmartcard SmartcardOS), :mod:`.card_files` (its
applications, files, PINs and keys), :mod:`.apdu` (command parsing, status words as exceptions),
:mod:`.layouts` (file byte layouts), :mod:`.personalisation` (what is written onto a card, and its
file), :mod:`.readers` (the Reader interface, in-process reader), :mod:`.jpki_client` (the client
over any reader, and the token interface shared by card and phone), :mod:`.phone_se` (the
smartphone's secure element with JPKI, biometric unlock, issuance through the card),
:mod:`.face_auth` (hospital face-authentication reader model), :mod:`.vpcd`
(serving a card into pcscd's virtual reader), :mod:`.demo` (demo residents and card issuance).
The PC/SC reader lives in ``real_backends.pcsc``. Nothing here imports ``twin.sim``.
"""

from emulators.card_os import MynaCardOS
from emulators.jpki_client import JpkiClient
from emulators.personalisation import Personalisation
from emulators.readers import InProcessReader, Reader

__all__ = ["InProcessReader", "JpkiClient", "MynaCardOS", "Personalisation", "Reader"]
