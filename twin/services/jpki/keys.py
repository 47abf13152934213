"""The key vault: the only place in the twin that holds private keys.

**Dangerous part.** Everything that touches an RSA private key lives in this module: the seeded key
source that mints keys for CAs, OCSP responders and simulated cards, and :class:`Signer`, the sealed
box a certificate authority signs through. The rest of ``twin.services.jpki`` only ever sees public
keys, certificates and signatures. Nothing here prints, logs or ``repr``-s key material.

A real JPKI centre keeps its CA keys in an HSM and each 個人番号カード generates its keys on the chip.
A twin that issues millions of certificates cannot spend ~100 ms of OpenSSL key generation on every
card, and must give the same bytes for the same seed, so :class:`KeySource` derives RSA-2048 keys
from ``(seed, index)`` with a seeded numpy Generator (a sieve over random odd starts, then
Miller-Rabin with random bases) and caches each key on disk (``$MYNA_TWIN_CACHE`` or
``~/.cache/myna-twin``/keys) so the cost is paid once per machine. These are simulation keys:
never use them to protect anything real.

With ``pool_size=N``, :meth:`KeySource.generate` cycles through N keys: **simulated cards then share
key material** (card 0 and card N hold the same key pair). Certificates, serials and revocation stay
per card; only signatures made with the card key cannot tell the cards apart. Use a pool for
national-scale runs where only the certificate flow matters, not for tests of key separation.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PUBLIC_EXPONENT: Final = 65537
_ALGORITHM_VERSION: Final = "v1"  # bump when the derivation changes, so stale cache files are not reused
_MEMORY: dict[tuple[int, int, str], rsa.RSAPrivateKey] = {}
_LABEL: Final = re.compile(r"[a-z][a-z0-9-]{0,39}")
_DEFAULT = object()


def default_cache_dir() -> Path:
    """Where seeded keys are cached: ``$MYNA_TWIN_CACHE/keys`` or ``~/.cache/myna-twin/keys``."""
    root = os.environ.get("MYNA_TWIN_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "myna-twin"
    return base / "keys"


class KeySource:
    """Deterministic RSA key pairs: key ``i`` of seed ``s`` is the same on every machine.

    ``generate()`` hands out keys 0, 1, 2, ... (or cycles over ``pool_size`` keys); ``key(i)`` asks
    for one by index. ``cache_dir=None`` keeps keys in memory only.
    """

    def __init__(
        self,
        seed: int,
        *,
        cache_dir: str | Path | None | object = _DEFAULT,
        pool_size: int | None = None,
        bits: int = 2048,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"KeySource seed: {seed!r} is not allowed; use an integer >= 0")
        if pool_size is not None and (not isinstance(pool_size, int) or pool_size < 1):
            raise ValueError(f"KeySource pool_size: {pool_size!r} is not allowed; use None or an integer >= 1")
        if bits not in (1024, 2048, 3072, 4096):
            raise ValueError(f"KeySource bits: {bits!r} is not allowed; use 1024, 2048, 3072 or 4096")
        self.seed = seed
        self.bits = bits
        self.pool_size = pool_size
        self.cache_dir: Path | None = (
            default_cache_dir()
            if cache_dir is _DEFAULT
            else (
                None if cache_dir is None else Path(cache_dir)  # type: ignore[arg-type]
            )
        )
        self._next = 0

    def __repr__(self) -> str:
        return f"KeySource(seed={self.seed}, bits={self.bits}, pool_size={self.pool_size}, next={self._next})"

    def generate(self) -> rsa.RSAPrivateKey:
        """The next key of this source (cycling over the pool when ``pool_size`` is set)."""
        index = self._next if self.pool_size is None else self._next % self.pool_size
        self._next += 1
        return self.key(index)

    def key(self, index: int) -> rsa.RSAPrivateKey:
        """Key number ``index`` of this seed: from memory, else from the disk cache, else derived."""
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"key index: {index!r} is not allowed; use an integer >= 0")
        return self._get(str(index), lambda: derive_key(self.seed, index, self.bits))

    def named(self, label: str) -> rsa.RSAPrivateKey:
        """An infrastructure key (a CA, an OCSP responder) outside the numbered card sequence.

        ``named("auth-ca")`` never equals any ``key(i)``, so founding a JPKI does not shift which key
        the i-th card gets.
        """
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise ValueError(f"key label: {label!r} is not allowed; use a-z, 0-9 and '-', starting with a letter")
        return self._get(f"named-{label}", lambda: derive_key(self.seed, 0, self.bits, label=label))

    def _get(self, name: str, derive: Callable[[], rsa.RSAPrivateKey]) -> rsa.RSAPrivateKey:
        slot = (self.seed, self.bits, name)
        cached = _MEMORY.get(slot)
        if cached is not None:
            return cached
        key = self._load(name) if self.cache_dir is not None else None
        if key is None:
            key = derive()
            if self.cache_dir is not None:
                self._store(name, key)
        _MEMORY[slot] = key
        return key

    def _path(self, name: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"{_ALGORITHM_VERSION}-rsa{self.bits}-seed{self.seed}-{name}.der"

    def _load(self, name: str) -> rsa.RSAPrivateKey | None:
        path = self._path(name)
        try:
            data = path.read_bytes()
            key = serialization.load_der_private_key(data, None, unsafe_skip_rsa_key_validation=True)
        except (OSError, ValueError, TypeError):
            return None  # absent or damaged: derive again and overwrite
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != self.bits:
            return None
        return key

    def _store(self, name: str, key: rsa.RSAPrivateKey) -> None:
        path = self._path(name)
        data = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)  # atomic: concurrent writers of the same key write the same bytes
        except OSError:
            pass  # a read-only home only costs time, never correctness


def derive_key(seed: int, index: int, bits: int = 2048, *, label: str = "") -> rsa.RSAPrivateKey:
    """Derive RSA key ``index`` (or the key named ``label``) of ``seed``; a pure function of its arguments."""
    entropy = [seed, index, bits]
    if label:
        entropy.append(int.from_bytes(hashlib.sha256(label.encode()).digest()[:16], "big"))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
    half = bits // 2
    while True:
        p = _random_prime(rng, half)
        q = _random_prime(rng, half)
        if p == q:
            continue
        p, q = max(p, q), min(p, q)
        n = p * q
        if n.bit_length() != bits:
            continue
        lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        d = pow(PUBLIC_EXPONENT, -1, lam)
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=d % (p - 1),
            dmq1=d % (q - 1),
            iqmp=pow(q, -1, p),
            public_numbers=rsa.RSAPublicNumbers(PUBLIC_EXPONENT, n),
        )
        return numbers.private_key()


def _small_primes(limit: int = 1 << 14) -> np.ndarray:
    sieve = np.ones(limit, dtype=bool)
    sieve[:2] = False
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = False
    return np.flatnonzero(sieve)[1:]  # odd primes only


_PRIMES = _small_primes()
_WINDOW = 4096


def _random_prime(rng: np.random.Generator, bits: int) -> int:
    """A prime with exactly ``bits`` bits, the top two set (so p*q has 2*bits bits), p-1 prime to e."""
    while True:
        start = int.from_bytes(rng.bytes(bits // 8), "big") | (3 << (bits - 2)) | 1
        # candidates are start + 2i, i < _WINDOW; strike out those divisible by a small prime
        composite = np.zeros(_WINDOW, dtype=bool)
        for p in _PRIMES.tolist():
            first = (-start * pow(2, -1, p)) % p
            composite[first::p] = True
        for i in np.flatnonzero(~composite).tolist():
            candidate = start + 2 * i
            if candidate.bit_length() != bits:
                break
            if (candidate - 1) % PUBLIC_EXPONENT == 0:
                continue
            if _is_probable_prime(candidate, rng):
                return candidate


def _is_probable_prime(n: int, rng: np.random.Generator, rounds: int = 5) -> bool:
    """Miller-Rabin: base 2 first (cheap rejection), then random bases (FIPS 186-5 rounds for 1024 bits)."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for r in range(rounds):
        a = 2 if r == 0 else 2 + int.from_bytes(rng.bytes(_byte_length(n)), "big") % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _byte_length(n: int) -> int:
    return (n.bit_length() + 7) // 8


class Signer:
    """A CA or OCSP-responder private key, sealed: it signs, it never hands the key out.

    ``name`` is a label for messages (e.g. "auth CA"); the key itself never appears in ``repr``.
    """

    __slots__ = ("name", "_key", "_public_key")

    def __init__(self, name: str, key: rsa.RSAPrivateKey) -> None:
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError(f"{name}: a Signer needs an RSA private key, got {type(key).__name__}")
        self.name = name
        self._key = key
        self._public_key = key.public_key()

    def __repr__(self) -> str:
        return f"Signer({self.name!r}, rsa{self._key.key_size})"

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public_key

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """sha256WithRSAEncryption over the builder's TBSCertificate."""
        return builder.sign(self._key, hashes.SHA256())

    def sign_crl(self, builder: x509.CertificateRevocationListBuilder) -> x509.CertificateRevocationList:
        return builder.sign(self._key, hashes.SHA256())

    def sign_sha256(self, data: bytes) -> bytes:
        """PKCS#1 v1.5 with SHA-256 over ``data`` (the one RSA operation of an OCSP response)."""
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
