"""A deployment: the JPKI centre and the card holders a loopback server and its clients share.

A test or a load run talks to a real HTTP server in another process, yet both sides must agree on
which certificates exist, which are revoked, and which card holds which key. Rather than shipping
state between processes, both sides build the same small nation from a :class:`DeploymentSpec`: the
JPKI centre (公的個人認証サービス) founded at a fixed epoch from a seeded key source, ``holders``
residents whose cards the municipal counter issued (user-authentication and signature certificates,
as :func:`emulators.demo.personalise` does), and every ``revoked_every``-th holder's card reported
lost an hour later. Same spec, same bytes: the server's ledger and the client's cards match.

The epoch is :data:`EPOCH` (2026-04-01) unless the spec names another (``epoch``, an ISO date or
timezone-aware time): a world set in 2022, when My Number Points' phase-2 parts were granted, issues
its cards then (``twin serve portal --set epoch=2022-06-01``, ``real_backends/points_hub.py``), and its
services live then (their clock and dates: :mod:`real_backends.world_time`).

Holder keys come from a pool of ``key_pool`` keys (see :class:`twin.services.jpki.KeySource`):
certificates, serials and revocations stay per card, only the key pairs repeat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Final

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from emulators.card_os import MynaCardOS
from emulators.demo import Resident, personalise
from emulators.layouts import BasicFourInfo, my_number_check_digit
from emulators.personalisation import Personalisation
from emulators.readers import InProcessReader
from twin.services.jpki import Jpki, KeySource, RevocationReason

ENV_VAR: Final = "MYNA_BACKEND_SPEC"
EPOCH: Final = dt.datetime(2026, 4, 1, 0, 30, tzinfo=dt.UTC)
FIRST_EPOCH: Final = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)  # JPKI's user-authentication certificates: 2016-01
LAST_EPOCH: Final = dt.datetime(2099, 12, 31, tzinfo=dt.UTC)
MUNICIPALITIES: Final = ("13101", "27128", "01101", "40133")
_FAMILY: Final = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村")
_GIVEN: Final = ("太郎", "花子", "健一", "陽子", "翔", "美咲")


@dataclass(frozen=True)
class DeploymentSpec:
    """What both sides build: seed, number of card holders, which are revoked, the key pool."""

    seed: int = 20260401
    holders: int = 16
    revoked_every: int = 4  # holder i is revoked when i % revoked_every == revoked_every - 1 (0: none)
    key_pool: int = 2
    base_url: str = "http://jpki.example"
    epoch: str = EPOCH.isoformat()  # when the centre was founded and the cards issued (ISO date or aware time)

    def __post_init__(self) -> None:
        checks = {
            "seed": (self.seed, 0), "holders": (self.holders, 1),
            "revoked_every": (self.revoked_every, 0), "key_pool": (self.key_pool, 1),
        }  # fmt: skip
        for name, (value, low) in checks.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"deployment {name}: {value!r} is not allowed; use an integer >= {low}")
        if self.holders > 200_000:
            raise ValueError(f"deployment holders: {self.holders} is not allowed; use at most 200000")
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"deployment base_url: {self.base_url!r} is not allowed; use an http(s):// URL")
        self.start  # noqa: B018 (refuses an epoch that is not a time, naming it)

    @property
    def start(self) -> dt.datetime:
        """The epoch as a time: a date alone is 00:30 UTC of that day (as :data:`EPOCH` is)."""
        text, at = self.epoch, None
        if isinstance(text, str) and len(text) <= 40:
            with contextlib.suppress(ValueError):
                at = dt.datetime.fromisoformat(text) if "T" in text else dt.datetime.combine(
                    dt.date.fromisoformat(text), EPOCH.timetz())  # fmt: skip
        if at is None or at.tzinfo is None or not FIRST_EPOCH <= at <= LAST_EPOCH:
            raise ValueError(f"deployment epoch: {str(text)[:40]!r} is not allowed; use an ISO date (2022-06-01) "
                             f"or a timezone-aware ISO time, from {FIRST_EPOCH.date()} to {LAST_EPOCH.date()}")
        return at

    def is_revoked(self, index: int) -> bool:
        return self.revoked_every > 0 and index % self.revoked_every == self.revoked_every - 1

    def to_env(self) -> dict[str, str]:
        """The environment variable a server subprocess reads its spec from."""
        return {ENV_VAR: json.dumps(asdict(self), sort_keys=True)}

    @classmethod
    def from_options(cls, options: dict[str, str]) -> DeploymentSpec:
        """From ``twin serve ... --set holders=1000 --set seed=7`` (values as strings)."""
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ValueError(f"--set {unknown[0]}: unknown option; allowed: {', '.join(sorted(allowed))}")
        fields: dict[str, object] = {}
        for name, text in options.items():
            if name in ("base_url", "epoch"):
                fields[name] = text
                continue
            try:
                fields[name] = int(text)
            except ValueError:
                raise ValueError(f"--set {name}={text!r}: not an integer") from None
        return cls(**fields)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DeploymentSpec:
        raw = (os.environ if environ is None else environ).get(ENV_VAR)
        if not raw:
            return cls()
        try:
            fields = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{ENV_VAR}: not JSON ({exc.msg})") from None
        allowed = set(cls.__dataclass_fields__)
        if not isinstance(fields, dict) or set(fields) - allowed:
            extra = sorted(set(fields) - allowed) if isinstance(fields, dict) else fields
            raise ValueError(f"{ENV_VAR}: unknown fields {extra!r}; allowed: {', '.join(sorted(allowed))}")
        return cls(**fields)


@dataclass(frozen=True)
class Holder:
    """One card holder: index, municipality, card data, and whether the card was reported lost (both
    its certificates revoked)."""

    index: int
    municipality_code: int
    perso: Personalisation = field(repr=False)
    revoked: bool

    @cached_property
    def auth_certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.perso.auth_certificate)

    def reader(self) -> InProcessReader:
        """A reader with this holder's emulated card inserted (a fresh card state each time)."""
        return InProcessReader(MynaCardOS(self.perso))


def resident(seed: int, index: int) -> Resident:
    """The ``index``-th synthetic resident of a deployment (fictional; valid My Number check digit)."""
    rng = np.random.default_rng([seed, 7, index])
    code = MUNICIPALITIES[index % len(MUNICIPALITIES)]
    name = _FAMILY[int(rng.integers(len(_FAMILY)))] + "\u3000" + _GIVEN[int(rng.integers(len(_GIVEN)))]
    born = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 50)))
    first11 = "9" + "".join(str(int(d)) for d in rng.integers(0, 10, size=10))
    address = "東京都千代田区霞が関１丁目" + "１２３４５６７８９"[index % 9] + "番"
    return Resident(
        resident_id=f"holder-{index}",
        my_number=first11 + str(my_number_check_digit(first11)),
        info=BasicFourInfo(name, address, born, "1" if index % 2 == 0 else "2"),
        municipality_code=code,
    )


class _Counter:
    """The municipal counter's view of the centre: issues certificates on behalf of one resident.

    :func:`emulators.demo.personalise` calls ``issue_*_certificate`` without a person reference; the
    counter adds it so the ledger knows whose certificate each is (the eligibility check needs it).
    """

    def __init__(self, jpki: Jpki, person_ref: str | None = None) -> None:
        self.jpki = jpki
        self.person_ref = person_ref
        self.auth_ca, self.sign_ca = jpki.auth_ca, jpki.sign_ca

    def for_person(self, person_ref: str) -> _Counter:
        return _Counter(self.jpki, person_ref)

    def issue_auth_certificate(self, *args: object) -> x509.Certificate:
        return self.jpki.issue_auth_certificate(*args, person_ref=self.person_ref)  # type: ignore[arg-type]

    def issue_sign_certificate(self, *args: object) -> x509.Certificate:
        return self.jpki.issue_sign_certificate(*args, person_ref=self.person_ref)  # type: ignore[arg-type]


class Deployment:
    """The JPKI centre of a spec, with its holders' cards; build with :meth:`build`."""

    def __init__(self, spec: DeploymentSpec, jpki: Jpki, holders: list[Holder]) -> None:
        self.spec = spec
        self.jpki = jpki
        self.holders = holders
        self.by_serial = {h.auth_certificate.serial_number: h for h in holders}

    @classmethod
    def build(cls, spec: DeploymentSpec | None = None) -> Deployment:
        spec = DeploymentSpec() if spec is None else spec
        epoch = spec.start
        jpki = Jpki.bootstrap(epoch, KeySource(spec.seed), spec.base_url)
        keys = KeySource(spec.seed + 1, pool_size=spec.key_pool)
        holders = []
        counter = _Counter(jpki)
        for i in range(spec.holders):
            person = resident(spec.seed, i)
            perso = personalise(person, counter.for_person(person.resident_id), keys, epoch)
            holders.append(Holder(i, int(person.municipality_code), perso, spec.is_revoked(i)))
        lost = epoch + dt.timedelta(hours=1)
        for h in holders:  # a lost card: both its certificates are revoked (OCSP and both CRLs say so)
            if h.revoked:
                jpki.revoke(h.auth_certificate, RevocationReason.LOSS, lost)
                jpki.revoke(x509.load_der_x509_certificate(h.perso.sign_certificate), RevocationReason.LOSS, lost)
        return cls(spec, jpki, holders)

    def extra_holder(self) -> Holder:
        """One more card issued after the spec's holders: a certificate the server has never seen."""
        person = resident(self.spec.seed, self.spec.holders)
        keys = KeySource(self.spec.seed + 1, pool_size=self.spec.key_pool)
        perso = personalise(person, _Counter(self.jpki).for_person(person.resident_id), keys, self.spec.start)
        return Holder(self.spec.holders, int(person.municipality_code), perso, False)

    def ca_pem(self, kind: str = "auth") -> bytes:
        return self.jpki.authority(kind).certificate.public_bytes(Encoding.PEM)
