"""What the certificate authority refuses, and why.

A municipal clerk's terminal asks the JPKI centre to issue, revoke or check a certificate; when the
request is wrong the answer must say in one line which field, which value, and what is allowed. Every
refusal is a :class:`JpkiError`; the subclasses let callers (the card lifecycle, the simulation) react
to one kind of refusal without parsing messages. Messages never contain a PIN or a private key.
"""

from __future__ import annotations

from twin.errors import TwinError


class JpkiError(TwinError, ValueError):
    """Base of every refusal by the JPKI services (also a ValueError, for generic callers)."""


class InvalidNameError(JpkiError):
    """A distinguished name, common name, municipality code or basic-info field is not allowed."""


class InvalidTimeError(JpkiError):
    """A time is naive, out of range, or a validity period is empty or outlives its CA."""


class WeakKeyError(JpkiError):
    """A public key is not RSA, is smaller than 2048 bits, or has an exponent other than 65537."""


class SerialReusedError(JpkiError):
    """A serial number the CA has already used was asked for again."""


class UnderageError(JpkiError):
    """A digital-signature certificate was asked for a holder younger than 15."""


class UnknownCertificateError(JpkiError):
    """A serial or certificate the CA never issued."""


class AlreadyRevokedError(JpkiError):
    """A revocation was asked for a certificate that is already revoked."""


class InvalidReasonError(JpkiError):
    """A revocation reason that is not one of :class:`RevocationReason`."""
